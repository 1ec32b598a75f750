"""Engine values as JSON records: the lines of bars.jsonl and decisions.jsonl, and the
same fields in the log lines that describe a close and a decision."""

from __future__ import annotations

from typing import Any

from engine.model import ActionPlan, ClosedBar, MarketState
from engine.timefmt import iso


def tf_label(minutes: int) -> str:
    """5 -> '5m', 60 -> '1h', 90 -> '90m'."""
    return f"{minutes}m" if minutes < 60 or minutes % 60 else f"{minutes // 60}h"


def bar_record(bar: ClosedBar) -> dict[str, Any]:
    return {
        "symbol": bar.symbol,
        "timeframe": tf_label(bar.timeframe),
        "open_time": iso(bar.open_time),
        "close_time": iso(bar.close_time),
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "volume": bar.volume,
        "minutes": bar.minutes,
        "ema": bar.ema,
        "slope": bar.slope,
        "regime": bar.regime,
    }


def frames_record(state: MarketState) -> dict[str, Any]:
    """Per timeframe: close, ema, slope, regime of its last closed bar (market_state)."""
    return {
        tf_label(frame.timeframe): {
            "close": frame.close,
            "ema": frame.ema,
            "slope": frame.slope,
            "regime": frame.regime,
            "bar_open": iso(frame.open_time),
        }
        for frame in state.frames
        if frame is not None
    }


def decision_record(state: MarketState, plan: ActionPlan) -> dict[str, Any]:
    frames = [frame for frame in state.frames if frame is not None]
    record: dict[str, Any] = {
        "symbol": state.symbol,
        "at": iso(state.at),
        "action": str(plan.action),  # the text, not the StrEnum member
        "reason_code": plan.reason_code,
        "regimes": {tf_label(frame.timeframe): frame.regime for frame in frames},
        "slopes": {tf_label(frame.timeframe): frame.slope for frame in frames},
    }
    if plan.details:
        record["details"] = dict(plan.details)
    return record
