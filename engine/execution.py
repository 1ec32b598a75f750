"""Commands the decision stage issues. Pure: building an intent does not send it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from engine.model import Action, ActionPlan, MarketState, Side


@dataclass(frozen=True, slots=True)
class PlaceEntry:
    """A market entry for one account. No stop, target or bracket: the broker's Auto OCO."""

    account: str
    symbol: str
    contract: str
    side: Side
    size: int  # contracts
    tag: str  # the idempotency key (the broker's customTag), see `entry_tag`
    at: int  # decision instant, epoch seconds UTC

    def fields(self) -> dict[str, object]:
        return {
            "account": self.account,
            "symbol": self.symbol,
            "contract": self.contract,
            "side": self.side,
            "size": self.size,
            "tag": self.tag,
            "at": self.at,
        }


def entry_tag(account: str, symbol: str, at: int) -> str:
    """Deterministic customTag: one per (account, symbol, decision minute, UTC)."""
    minute = datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%MZ")
    return f"rt-{account}-{symbol}-{minute}"


def entry_for(
    plan: ActionPlan, state: MarketState, account: str, contract: str, size: int
) -> PlaceEntry | None:
    """The entry a BUY/SELL plan asks for; None for HOLD."""
    if plan.action is Action.HOLD:
        return None
    return PlaceEntry(
        account=account,
        symbol=state.symbol,
        contract=contract,
        side=Side.BUY if plan.action is Action.BUY else Side.SELL,
        size=size,
        tag=entry_tag(account, state.symbol, state.at),
        at=state.at,
    )
