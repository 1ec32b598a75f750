"""Hold-first decision rules. Pure: `decide(state, context) -> ActionPlan`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.config import DecisionConfig
from engine.model import Action, ActionPlan, MarketState, PositionContext, Regime


class Reason:
    NO_MARKET_STATE = "no_market_state"
    GET_FLAT_WINDOW = "get_flat_window"
    NO_POSITION_CONTEXT = "no_position_context"
    POSITION_OPEN = "position_open"
    ACCOUNT_GATE_BLOCK = "account_gate_block"
    INSUFFICIENT_DATA = "insufficient_data"
    RANGE = "range"
    MIXED_TREND = "mixed_trend"
    ALIGNED_UPTREND = "aligned_uptrend"
    ALIGNED_DOWNTREND = "aligned_downtrend"


def _hold(reason: str) -> ActionPlan:
    return ActionPlan(Action.HOLD, reason)


# Plans carry no per-call data, so one immutable instance per outcome is shared.
HOLD_NO_MARKET_STATE = _hold(Reason.NO_MARKET_STATE)
HOLD_FLAT_WINDOW = _hold(Reason.GET_FLAT_WINDOW)
HOLD_NO_CONTEXT = _hold(Reason.NO_POSITION_CONTEXT)
HOLD_POSITION_OPEN = _hold(Reason.POSITION_OPEN)
HOLD_INSUFFICIENT = _hold(Reason.INSUFFICIENT_DATA)
HOLD_RANGE = _hold(Reason.RANGE)
HOLD_MIXED = _hold(Reason.MIXED_TREND)
BUY_ALIGNED = ActionPlan(Action.BUY, Reason.ALIGNED_UPTREND)
SELL_ALIGNED = ActionPlan(Action.SELL, Reason.ALIGNED_DOWNTREND)


class FlatWindow:
    """Wall-clock window in the market time zone, both ends inclusive, DST-correct.

    `contains(t)` takes epoch seconds; the UTC bounds are computed once per UTC day.
    """

    def __init__(self, start: object, end: object, tz: str) -> None:
        self._start = start
        self._end = end
        self._tz = ZoneInfo(tz)
        self._cache: dict[int, tuple[tuple[float, float], ...]] = {}

    def contains(self, t: float) -> bool:
        day = int(t // 86_400)
        spans = self._cache.get(day)
        if spans is None:
            if len(self._cache) > 64:  # bounded: replays walk forward through days
                self._cache.clear()
            spans = self._cache[day] = self._spans_near(day)
        return any(lo <= t <= hi for lo, hi in spans)

    def _spans_near(self, utc_day: int) -> tuple[tuple[float, float], ...]:
        base = date(1970, 1, 1) + timedelta(days=utc_day)
        spans = []
        for offset in (-1, 0, 1):
            local = base + timedelta(days=offset)
            lo = datetime.combine(local, self._start, self._tz)  # type: ignore[arg-type]
            end_day = local if self._end >= self._start else local + timedelta(days=1)  # type: ignore[operator]
            hi = datetime.combine(end_day, self._end, self._tz)  # type: ignore[arg-type]
            spans.append((lo.timestamp(), hi.timestamp()))
        return tuple(spans)


class HoldFirstDecider:
    """The rule set of the reduction trigger. Any doubt is a HOLD; see `Reason` order."""

    def __init__(self, config: DecisionConfig) -> None:
        self.config = config
        self._flat = FlatWindow(config.flat_start, config.flat_end, config.market_tz)

    def decide(self, state: MarketState | None, context: PositionContext | None) -> ActionPlan:
        if state is None:
            return HOLD_NO_MARKET_STATE
        if self._flat.contains(state.at):
            return HOLD_FLAT_WINDOW
        if context is None:
            return HOLD_NO_CONTEXT
        if context.position_open:
            return HOLD_POSITION_OPEN
        if not context.gate_open:
            return ActionPlan(
                Action.HOLD, Reason.ACCOUNT_GATE_BLOCK, {"gate": context.gate_reason}
            )
        return decide_regimes(state)


def decide_regimes(state: MarketState) -> ActionPlan:
    """The market part of the rules, after every account gate passed."""
    ups = downs = 0
    ranged = False
    for frame in state.frames:
        if frame is None:
            return HOLD_INSUFFICIENT
        regime = frame.regime
        if regime == Regime.TREND_UP:
            ups += 1
        elif regime == Regime.TREND_DOWN:
            downs += 1
        elif regime == Regime.INSUFFICIENT:
            return HOLD_INSUFFICIENT
        else:
            ranged = True
    if ranged:
        return HOLD_RANGE
    if ups and downs:
        return HOLD_MIXED
    return BUY_ALIGNED if ups else SELL_ALIGNED
