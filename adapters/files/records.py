"""Engine values -> the JSON records of bars.jsonl / decisions.jsonl and log events."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from adapters.files.timefmt import iso
from engine.model import ActionPlan, ClosedBar, MarketState


@lru_cache(maxsize=64)
def tf_label(minutes: int) -> str:
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
    out: dict[str, Any] = {}
    for frame in state.frames:
        if frame is not None:
            out[tf_label(frame.timeframe)] = {
                "close": frame.close,
                "ema": frame.ema,
                "slope": frame.slope,
                "regime": frame.regime,
                "bar_open": iso(frame.open_time),
            }
    return out


def decision_record(state: MarketState, plan: ActionPlan) -> dict[str, Any]:
    regimes: dict[str, str | None] = {}
    slopes: dict[str, float | None] = {}
    for frame in state.frames:
        if frame is not None:
            label = tf_label(frame.timeframe)
            regimes[label] = frame.regime
            slopes[label] = frame.slope
    record: dict[str, Any] = {
        "symbol": state.symbol,
        "at": iso(state.at),
        "action": plan.action.value,
        "reason_code": plan.reason_code,
        "regimes": regimes,
        "slopes": slopes,
    }
    if plan.details:
        record["details"] = dict(plan.details)
    return record


def _num(value: float | int | None) -> str:
    """A number as `json.dumps` writes it (float repr); None as null."""
    return "null" if value is None else repr(value)


class JsonlRecorder:
    """Writes bars.jsonl and decisions.jsonl into a directory (deterministic bytes).

    Bar lines are formatted directly (the same bytes `json.dumps(bar_record(bar),
    separators=(",", ":"))` gives — tested): a replay writes one per 3 rows."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self._bars: IO[str] = (out_dir / "bars.jsonl").open("w", encoding="utf-8")
        self._decisions: IO[str] = (out_dir / "decisions.jsonl").open("w", encoding="utf-8")
        self._dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
        self._symbols: dict[str, str] = {}

    def bar(self, bar: ClosedBar) -> None:
        self._bars.write(
            f'{{"symbol":{self._symbol(bar.symbol)},"timeframe":"{tf_label(bar.timeframe)}",'
            f'"open_time":"{iso(bar.open_time)}","close_time":"{iso(bar.close_time)}",'
            f'"open":{bar.open!r},"high":{bar.high!r},"low":{bar.low!r},'
            f'"close":{bar.close!r},"volume":{bar.volume!r},"minutes":{bar.minutes},'
            f'"ema":{_num(bar.ema)},"slope":{_num(bar.slope)},"regime":"{bar.regime}"}}\n'
        )

    def decision(self, state: MarketState, plan: ActionPlan) -> None:
        if plan.details:
            self._decisions.write(self._dumps(decision_record(state, plan)) + "\n")
            return
        frames = [f for f in state.frames if f is not None]
        regimes = ",".join(f'"{tf_label(f.timeframe)}":"{f.regime}"' for f in frames)
        slopes = ",".join(f'"{tf_label(f.timeframe)}":{_num(f.slope)}' for f in frames)
        self._decisions.write(
            f'{{"symbol":{self._symbol(state.symbol)},"at":"{iso(state.at)}",'
            f'"action":"{plan.action.value}","reason_code":"{plan.reason_code}",'
            f'"regimes":{{{regimes}}},"slopes":{{{slopes}}}}}\n'
        )

    def _symbol(self, symbol: str) -> str:
        quoted = self._symbols.get(symbol)
        if quoted is None:
            quoted = self._symbols[symbol] = self._dumps(symbol)
        return quoted

    def close(self) -> None:
        self._bars.close()
        self._decisions.close()


class NullRecorder:
    def bar(self, bar: ClosedBar) -> None:
        pass

    def decision(self, state: MarketState, plan: ActionPlan) -> None:
        pass

    def close(self) -> None:
        pass
