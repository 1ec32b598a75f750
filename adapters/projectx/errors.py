"""What the ProjectX gateway says at start-up that no retry can change: the worker maps
each to the setting the operator must fix (worker/failures.py)."""

from __future__ import annotations


class ContractNotFound(LookupError):
    """No active contract for a configured TradingView root (`symbol`)."""

    def __init__(self, symbol: str) -> None:
        super().__init__(f"no active ProjectX contract for symbol {symbol!r}")
        self.symbol = symbol


class UnknownAccount(LookupError):
    """A configured account id is not among the user's active accounts."""

    def __init__(self, account_id: int) -> None:
        super().__init__(f"account id {account_id} is not among the active ProjectX accounts")
        self.account_id = account_id
