"""Commands the decision stage issues. Pure: building an intent does not send it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, NamedTuple

from engine.model import Action, ActionPlan, MarketState

SIDE_BUY = 0  # ProjectX OrderSide: 0 = Bid
SIDE_SELL = 1  # 1 = Ask
ORDER_TYPE_MARKET = 2
# Enum member loads are descriptor calls on CPython 3.11: loaded once here.
_HOLD: Final = Action.HOLD
_BUY: Final = Action.BUY
_new: Final = tuple.__new__  # NamedTuple's own __new__ is a Python function


class PlaceEntry(NamedTuple):
    """A market entry for one account. No stop, target or bracket: the broker's Auto OCO.

    A NamedTuple, as the other per-decision messages: immutable, and built in a replay at
    a fraction of a (compiled) dataclass's cost, whose constructor runs the generated
    Python `__init__`. `fields()` gives it as a dict."""

    account: str
    symbol: str
    contract: str
    side: int
    size: int
    tag: str
    at: int  # decision instant, epoch seconds UTC

    @property
    def side_name(self) -> str:
        return "buy" if self.side == SIDE_BUY else "sell"

    def fields(self) -> dict[str, object]:
        return {
            "account": self.account, "symbol": self.symbol, "contract": self.contract,
            "side": self.side, "size": self.size, "tag": self.tag, "at": self.at,
        }  # fmt: skip


_DATES: Final[dict[int, str]] = {}  # epoch day -> "YYYYMMDD", bounded below


def entry_tag(account: str, symbol: str, at: int) -> str:
    """Deterministic customTag: one per (account, symbol, decision instant)."""
    day, seconds = divmod(at, 86_400)
    date = _DATES.get(day)
    if date is None:
        date = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y%m%d")
        if len(_DATES) >= 4096:
            _DATES.clear()
        _DATES[day] = date
    return f"rt-{account}-{symbol}-{date}T{_HHMM[seconds // 60]}Z"


_HHMM: Final = tuple(f"{m // 60:02d}{m % 60:02d}" for m in range(1440))  # minute of day


def entry_for(
    plan: ActionPlan, state: MarketState, account: str, contract: str, size: int
) -> PlaceEntry | None:
    """The entry a BUY/SELL plan asks for; None for HOLD."""
    if plan.action is _HOLD:
        return None
    side = SIDE_BUY if plan.action is _BUY else SIDE_SELL
    tag = entry_tag(account, state.symbol, state.at)
    return _new(PlaceEntry, (account, state.symbol, contract, side, size, tag, state.at))
