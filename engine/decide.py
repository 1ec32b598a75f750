"""Hold-first decision rules. Pure: `decide(state, context) -> ActionPlan`."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from engine.config import DecisionConfig
from engine.model import Action, ActionPlan, MarketState, PositionContext, Regime


class Reason:
    NO_MARKET_STATE: Final = "no_market_state"
    GET_FLAT_WINDOW: Final = "get_flat_window"
    NO_POSITION_CONTEXT: Final = "no_position_context"
    POSITION_OPEN: Final = "position_open"
    ACCOUNT_GATE_BLOCK: Final = "account_gate_block"
    INSUFFICIENT_DATA: Final = "insufficient_data"
    RANGE: Final = "range"
    MIXED_TREND: Final = "mixed_trend"
    ALIGNED_UPTREND: Final = "aligned_uptrend"
    ALIGNED_DOWNTREND: Final = "aligned_downtrend"


def _hold(reason: str) -> ActionPlan:
    return ActionPlan(Action.HOLD, reason)


# Plans carry no per-call data, so one immutable instance per outcome is shared.
HOLD_NO_MARKET_STATE: Final = _hold(Reason.NO_MARKET_STATE)
HOLD_FLAT_WINDOW: Final = _hold(Reason.GET_FLAT_WINDOW)
HOLD_NO_CONTEXT: Final = _hold(Reason.NO_POSITION_CONTEXT)
HOLD_POSITION_OPEN: Final = _hold(Reason.POSITION_OPEN)
HOLD_INSUFFICIENT: Final = _hold(Reason.INSUFFICIENT_DATA)
HOLD_RANGE: Final = _hold(Reason.RANGE)
HOLD_MIXED: Final = _hold(Reason.MIXED_TREND)
BUY_ALIGNED: Final = ActionPlan(Action.BUY, Reason.ALIGNED_UPTREND)
SELL_ALIGNED: Final = ActionPlan(Action.SELL, Reason.ALIGNED_DOWNTREND)


class FlatWindow:
    """Wall-clock window in the market time zone, both ends inclusive, DST-correct.

    `contains(t)` takes epoch seconds; the UTC bounds are computed once per UTC day.
    Decisions come in time order, so the answer is also kept for the span of time
    around the last `t` where it cannot change (`[_valid_from, _valid_below)`): one
    comparison for almost every call. Its bounds are whole seconds inside that span:
    decision instants are ints, and int-to-int comparisons are 2x faster than int-to-float.
    """

    def __init__(self, start: object, end: object, tz: str) -> None:
        self._start = start
        self._end = end
        self._tz = ZoneInfo(tz)
        self._cache: dict[int, tuple[tuple[float, float], ...]] = {}
        self._valid_from = self._valid_below = 0
        self._inside = False

    def contains(self, t: float) -> bool:
        if self._valid_from <= t < self._valid_below:
            return self._inside
        return self._lookup(t)

    def _lookup(self, t: float) -> bool:
        day = int(t // 86_400)
        spans = self._cache.get(day)
        if spans is None:
            if len(self._cache) > 64:  # bounded: replays walk forward through days
                self._cache.clear()
            spans = self._cache[day] = self._spans_near(day)
        inside = any(lo <= t <= hi for lo, hi in spans)
        # Narrow this UTC day (its spans are the same for all of it) to the part where t
        # is on the same side of every span bound: there, the answer is `inside`. The
        # first instant after a span is nextafter(hi), as its end is inclusive.
        valid_from, valid_below = day * 86_400.0, (day + 1) * 86_400.0
        for lo, hi in spans:
            after = math.nextafter(hi, math.inf)
            if t < lo:
                valid_below = min(valid_below, lo)
            elif t < after:
                valid_from, valid_below = max(valid_from, lo), min(valid_below, after)
            else:
                valid_from = max(valid_from, after)
        if valid_from <= t < valid_below:  # always, unless t is odd (NaN)
            self._valid_from, self._valid_below = math.ceil(valid_from), math.floor(valid_below)
            self._inside = inside
        return inside

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
        self._contains = self._flat.contains

    def decide(self, state: MarketState | None, context: PositionContext | None) -> ActionPlan:
        if state is None:
            return HOLD_NO_MARKET_STATE
        if self._contains(state.at):
            return HOLD_FLAT_WINDOW
        if context is None:
            return HOLD_NO_CONTEXT
        if context.position_open:
            return HOLD_POSITION_OPEN
        if not context.gate_open:
            return ActionPlan(Action.HOLD, Reason.ACCOUNT_GATE_BLOCK, {"gate": context.gate_reason})
        return decide_regimes(state)


# Module constants: a class attribute load (`Regime.TREND_UP`) is not specialized by
# CPython 3.11 and this loop runs once per timeframe per decision.
_TREND_UP: Final = Regime.TREND_UP
_TREND_DOWN: Final = Regime.TREND_DOWN
_INSUFFICIENT: Final = Regime.INSUFFICIENT


def decide_regimes(state: MarketState) -> ActionPlan:
    """The market part of the rules, after every account gate passed."""
    ups = downs = 0
    ranged = False
    for frame in state.frames:
        if frame is None:
            return HOLD_INSUFFICIENT
        regime = frame.regime
        if regime == _TREND_UP:
            ups += 1
        elif regime == _TREND_DOWN:
            downs += 1
        elif regime == _INSUFFICIENT:
            return HOLD_INSUFFICIENT
        else:
            ranged = True
    if ranged:
        return HOLD_RANGE
    if ups and downs:
        return HOLD_MIXED
    if ups:
        return BUY_ALIGNED
    # No frame at all is no evidence of a downtrend: hold.
    return SELL_ALIGNED if downs else HOLD_INSUFFICIENT
