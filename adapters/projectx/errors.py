"""Permanent ProjectX configuration errors: what the operator must fix (exit 2 at start)."""

from __future__ import annotations


class ContractNotFound(LookupError):
    """No active ProjectX contract for a configured symbol (SYMBOLS / CONTRACT_SYMBOLS)."""

    def __init__(self, symbol: str) -> None:
        super().__init__(f"no active ProjectX contract for symbol {symbol}")
        self.symbol = symbol


class UnknownAccount(LookupError):
    """A configured account id is not among the gateway's active accounts (ACCOUNT_<NAME>)."""

    def __init__(self, account_id: int) -> None:
        super().__init__(f"account id {account_id} is not among the active ProjectX accounts")
        self.account_id = account_id
