"""Hold-first decision rules. Pure: `decide(state, context) -> ActionPlan`."""

from __future__ import annotations

from datetime import datetime, time
from typing import Final
from zoneinfo import ZoneInfo

from engine.config import DecisionConfig
from engine.model import Action, ActionPlan, MarketState, PositionContext, Regime


class Reason:
    NO_MARKET_STATE: Final = "no_market_state"
    GET_FLAT_WINDOW: Final = "get_flat_window"
    PAUSED: Final = "paused"
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
HOLD_PAUSED: Final = _hold(Reason.PAUSED)
HOLD_NO_CONTEXT: Final = _hold(Reason.NO_POSITION_CONTEXT)
HOLD_POSITION_OPEN: Final = _hold(Reason.POSITION_OPEN)
HOLD_INSUFFICIENT: Final = _hold(Reason.INSUFFICIENT_DATA)
HOLD_RANGE: Final = _hold(Reason.RANGE)
HOLD_MIXED: Final = _hold(Reason.MIXED_TREND)
BUY_ALIGNED: Final = ActionPlan(Action.BUY, Reason.ALIGNED_UPTREND)
SELL_ALIGNED: Final = ActionPlan(Action.SELL, Reason.ALIGNED_DOWNTREND)


class FlatWindow:
    """Wall-clock window in the market time zone, both ends inclusive, DST-correct: an
    instant is inside when the market's clock then reads between `start` and `end`. A
    window whose start is after its end spans midnight (22:00 -> 02:00)."""

    def __init__(self, start: time, end: time, tz: str) -> None:
        self.start = start
        self.end = end
        self.tz = ZoneInfo(tz)

    def contains(self, t: float) -> bool:
        """Is epoch second `t` inside the window?"""
        clock = datetime.fromtimestamp(t, self.tz).time()
        if self.start <= self.end:
            return self.start <= clock <= self.end
        return clock >= self.start or clock <= self.end


class HoldFirstDecider:
    """The rule set of the reduction trigger. Any doubt is a HOLD; see `Reason` order."""

    def __init__(self, config: DecisionConfig) -> None:
        self.config = config
        self.flat_window = FlatWindow(config.flat_start, config.flat_end, config.market_tz)

    def decide(self, state: MarketState | None, context: PositionContext | None) -> ActionPlan:
        if state is None:
            return HOLD_NO_MARKET_STATE
        if self.flat_window.contains(state.at):
            return HOLD_FLAT_WINDOW
        if context is not None and context.paused:  # the pause switch: decided, never sent
            return HOLD_PAUSED
        if context is None:
            return HOLD_NO_CONTEXT
        if context.position_open:
            return HOLD_POSITION_OPEN
        if not context.gate_open:
            return ActionPlan(Action.HOLD, Reason.ACCOUNT_GATE_BLOCK, {"gate": context.gate_reason})
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
    if ups:
        return BUY_ALIGNED
    # No frame at all is no evidence of a downtrend: hold.
    return SELL_ALIGNED if downs else HOLD_INSUFFICIENT
