"""Shared pieces of the throughput bench: synthetic minutes, the CSV writer, timers.

The synthetic stream is a Gaussian random walk of in-order 1-minute bars (MES-like
prices, quarter-point ticks), starting on a 30-minute boundary, so every timeframe
closes on its final minute: the live case the engine is built for.
"""

from __future__ import annotations

import csv
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from engine.aggregator import SymbolEngine
from engine.config import DecisionConfig, EngineConfig
from engine.decide import HoldFirstDecider
from engine.model import Bar1m, PositionContext

SYMBOL = "MES"
START = 1_704_067_200  # 2024-01-01T00:00:00Z, a 30-minute boundary
ARRIVAL_LAG_S = 62.0  # receipt = bar close + 2 s, as tv_datafeed rows arrive


def iter_bars(n: int, seed: int = 1) -> Iterator[Bar1m]:
    """`n` in-order synthetic 1m bars, deterministic for a seed."""
    rng = random.Random(seed)
    price = 5000.0
    for i in range(n):
        open_ = price
        price = max(1.0, round((price + rng.gauss(0.0, 1.0)) * 4) / 4)
        high = max(open_, price) + 0.25 * rng.randrange(3)
        low = min(open_, price) - 0.25 * rng.randrange(3)
        volume = float(rng.randrange(1, 2000))
        yield Bar1m(SYMBOL, START + 60 * i, open_, high, low, price, volume)


def make_bars(n: int, seed: int = 1) -> list[Bar1m]:
    return list(iter_bars(n, seed))


def best_of(repeat: int, run: Callable[[], float]) -> float:
    """The fastest of `repeat` timed runs (s): the least disturbed by other processes."""
    return min(run() for _ in range(repeat))


def time_engine(bars: list[Bar1m], config: EngineConfig, decision: DecisionConfig) -> float:
    """Seconds to feed `bars` to a fresh engine, deciding once per returned state."""
    engine = SymbolEngine(SYMBOL, config)
    decide = HoldFirstDecider(decision).decide
    context = PositionContext("bench")
    add = engine.add
    started = time.perf_counter()
    for bar in bars:
        for state in add(bar, bar.open_time + ARRIVAL_LAG_S)[1]:
            decide(state, context)
    return time.perf_counter() - started


def engine_closes(bars: list[Bar1m], config: EngineConfig) -> dict[int, list[tuple[int, float]]]:
    """(close_time, ema) of every closed bar with a defined EMA, per timeframe."""
    engine = SymbolEngine(SYMBOL, config)
    out: dict[int, list[tuple[int, float]]] = {tf: [] for tf in config.timeframes}
    for bar in bars:
        for state in engine.add(bar, bar.open_time + ARRIVAL_LAG_S)[1]:
            for closed in state.closed:
                if closed.ema is not None:
                    out[closed.timeframe].append((closed.close_time, closed.ema))
    return out


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


def write_csv(path: Path, bars: list[Bar1m]) -> None:
    """A `tv_datafeed` export: ts = bar close + 2 s (ISO UTC), timeframe 1."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ts", "symbol", "timeframe", "o", "h", "l", "c", "v"])
        for bar in bars:
            writer.writerow([
                iso(bar.open_time + ARRIVAL_LAG_S), bar.symbol, "1",
                bar.open, bar.high, bar.low, bar.close, bar.volume,
            ])  # fmt: skip
