"""What the engine is compared with: the old pull-based recompute and a numpy batch.

Both compute what the engine computes for 5/15/30m: OHLCV bars, EMA21, the slope of
the last 5 EMA values (least squares, relative to the last EMA) and the regime.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from _common import ARRIVAL_LAG_S, SYMBOL

from engine.aggregator import SymbolEngine
from engine.config import EngineConfig
from engine.model import Bar1m

_AGG = {"o": "first", "h": "max", "l": "min", "c": "last", "v": "sum"}


def _frame(bars: list[Bar1m]) -> pd.DataFrame:
    index = pd.to_datetime([bar.open_time for bar in bars], unit="s", utc=True)
    columns = {"o": 2, "h": 3, "l": 4, "c": 5, "v": 6}
    return pd.DataFrame({k: [bar[i] for bar in bars] for k, i in columns.items()}, index=index)


def time_pull(bars: list[Bar1m], minutes: int, window: int = 600) -> tuple[float, int]:
    """The old bot: at every 5m close, resample the last `window` 1m rows to 5/15/30m
    (pandas), EMA21 seeded with the first close (`ewm(adjust=False)`), `np.polyfit` on
    the last 5 EMA values. Returns (seconds, decisions) for `minutes` minutes after a
    `window` warm-up (the frame is built beforehand, not timed: in the old bot's favour).
    """
    frame = _frame(bars[: window + minutes])
    x = np.arange(5)
    slopes = []
    decisions = 0
    started = time.perf_counter()
    for i in range(window, window + minutes):
        if (bars[i].open_time + 60) % 300:
            continue
        recent = frame.iloc[i + 1 - window : i + 1]
        for tf in (5, 15, 30):
            closes = recent.resample(f"{tf}min").agg(_AGG)["c"]
            ema = closes.ewm(span=21, adjust=False).mean().to_numpy()
            slopes.append(np.polyfit(x, ema[-5:], 1)[0] / ema[-1])
        decisions += 1
    return time.perf_counter() - started, decisions


def vectorized(bars: list[Bar1m], config: EngineConfig) -> dict[int, dict[str, np.ndarray]]:
    """All closed bars and indicators at once, from the bars as Python objects. Bars:
    `reduceat` over the runs of equal bucket id; EMA: TradingView seeding (mean of the
    first n closes), then the recursion `a*x + (1-a)*prev` as a Python loop over the
    closed bars (it is sequential); slope and regime: vectorized over a sliding window."""
    return _batch(*as_arrays(bars), config, _ema_tv)


def as_arrays(bars: list[Bar1m]) -> tuple[np.ndarray, np.ndarray]:
    """(open_time int64, [open, high, low, close, volume] float64): columnar input."""
    open_time = np.fromiter((bar[1] for bar in bars), np.int64, len(bars))
    return open_time, np.array([bar[2:7] for bar in bars], dtype=np.float64)


def vectorized_limit(
    open_time: np.ndarray, prices: np.ndarray, config: EngineConfig
) -> dict[int, dict[str, np.ndarray]]:
    """The same outputs from columns already in memory, with no Python loop per bar: the
    ceiling of a batch computation (no parsing, no objects, no decisions, no output).
    The EMA recursion runs 64 closed bars at a time as one matrix product, exact to a
    few ulps of the sequential one (the bench checks the gap)."""
    return _batch(open_time, prices, config, _ema_blocks)


def _batch(
    open_time: np.ndarray,
    prices: np.ndarray,
    config: EngineConfig,
    ema_of: Callable[[np.ndarray, int], np.ndarray],
) -> dict[int, dict[str, np.ndarray]]:
    weights = np.arange(config.slope_window) - (config.slope_window - 1) / 2
    weights /= (weights**2).sum()
    out = {}
    for tf in config.timeframes:
        ids = open_time // (tf * 60)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        lasts = np.r_[starts[1:], len(ids)] - 1
        close = prices[lasts, 3]
        ema = ema_of(close, config.ema_period)
        windows = np.lib.stride_tricks.sliding_window_view(ema, config.slope_window)
        slope = np.full(len(ema), np.nan)
        slope[config.slope_window - 1 :] = windows @ weights / ema[config.slope_window - 1 :]
        threshold = config.slope_threshold
        out[tf] = {
            "close_time": (ids[starts] + 1) * tf * 60,
            "open": prices[starts, 0],
            "high": np.maximum.reduceat(prices[:, 1], starts),
            "low": np.minimum.reduceat(prices[:, 2], starts),
            "close": close,
            "volume": np.add.reduceat(prices[:, 4], starts),
            "ema": ema, "slope": slope,
            "regime": np.select([slope >= threshold, slope <= -threshold], [1, -1], 0),
        }  # fmt: skip
    return out


_BLOCK = 64


def _ema_blocks(x: np.ndarray, period: int) -> np.ndarray:
    """TradingView's EMA (seeded with the mean of the first `period` values) by blocks:
    y[k] = beta^(k+1) * y[-1] + sum_j alpha * beta^(k-j) * x[j] within a block."""
    ema = np.full(len(x), np.nan)
    if len(x) < period:
        return ema
    alpha = 2.0 / (period + 1)
    beta = 1.0 - alpha
    k = np.arange(_BLOCK)
    lower = np.tril(alpha * beta ** (k[:, None] - k[None, :]))
    carry = beta ** (k + 1)
    rest = x[period:]
    full = len(rest) // _BLOCK * _BLOCK
    values = np.empty(len(rest))
    prev = float(x[:period].mean())
    blocks = rest[:full].reshape(-1, _BLOCK)
    sums = blocks @ lower.T  # every block's own part at once
    for i in range(len(blocks)):
        values[i * _BLOCK : (i + 1) * _BLOCK] = sums[i] + carry * prev
        prev = values[(i + 1) * _BLOCK - 1]
    for j in range(full, len(rest)):
        prev = alpha * rest[j] + beta * prev
        values[j] = prev
    ema[period - 1] = x[:period].mean()
    ema[period:] = values
    return ema


def _ema_tv(x: np.ndarray, period: int) -> np.ndarray:
    ema = np.full(len(x), np.nan)
    if len(x) < period:
        return ema
    alpha = 2.0 / (period + 1)
    value = float(x[:period].mean())
    values = [value]
    for price in x[period:].tolist():
        value = alpha * price + (1.0 - alpha) * value
        values.append(value)
    ema[period - 1 :] = values
    return ema


def max_ema_gap(
    batch: dict[int, dict[str, np.ndarray]], engine: dict[int, list[tuple[int, float]]]
) -> float:
    """Largest relative difference between the batch EMA and the engine's, all frames."""
    gap = 0.0
    for tf, pairs in engine.items():
        times = np.array([t for t, _ in pairs])
        ours = np.array([v for _, v in pairs])
        theirs = batch[tf]["ema"][np.searchsorted(batch[tf]["close_time"], times)]
        gap = max(gap, float(np.max(np.abs(theirs - ours) / np.abs(ours))))
    return gap


def engine_memory(bars: Iterable[Bar1m], checkpoints: set[int]) -> dict[int, tuple[int, int]]:
    """tracemalloc (current, peak) bytes after feeding each checkpoint's count of bars.

    Bars are made on the fly inside the trace, so the minutes the engine keeps for
    dedup count as its state; returned states are dropped, as a caller would.
    """
    out = {}
    tracemalloc.start()
    try:
        engine = SymbolEngine(SYMBOL, EngineConfig())
        for count, bar in enumerate(bars, 1):
            engine.add(bar, bar.open_time + ARRIVAL_LAG_S)
            if count in checkpoints:
                out[count] = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out


def time_lean(bars: list[Bar1m]) -> tuple[float, int]:
    """The issue's yardstick: a lean incremental loop, interpreted, in one function with
    local state: in-order minutes -> 5m buckets -> EMA21 and the 5-point slope on each
    close, 5m bars rolled into 15m and 30m with theirs. No dedup, watermark, late or
    out-of-order handling, no bar objects, no decisions. Returns (seconds, bars closed)."""
    alpha = 2.0 / 22.0
    beta = 1.0 - alpha
    w0, w1, w2, w3, w4 = (-0.2, -0.1, 0.0, 0.1, 0.2)
    emas: list[float | None] = [None, None, None]
    sums = [0.0, 0.0, 0.0]
    counts = [0, 0, 0]
    windows: list[list[float]] = [[], [], []]
    parents = [[-1, 0, 0.0, 0.0, 0.0, 0.0, 0.0], [-1, 0, 0.0, 0.0, 0.0, 0.0, 0.0]]
    sizes = (900, 1800)
    closed = 0

    def indicators(i: int, close: float) -> float | None:
        ema = emas[i]
        if ema is None:
            counts[i] += 1
            sums[i] += close
            if counts[i] < 21:
                return None
            ema = emas[i] = sums[i] / 21
        else:
            ema = emas[i] = alpha * close + beta * ema
        window = windows[i]
        window.append(ema)
        if len(window) > 5:
            del window[0]
        if len(window) < 5:
            return None
        y0, y1, y2, y3, y4 = window
        return (w0 * y0 + w1 * y1 + w2 * y2 + w3 * y3 + w4 * y4) / ema

    end = start = -1
    o = h = low = c = v = 0.0
    started = time.perf_counter()
    for bar in bars:
        t = bar[1]
        if t >= end:
            start = t - t % 300
            end = start + 300
            o, h, low, c, v = bar[2], bar[3], bar[4], bar[5], bar[6]
        else:
            if bar[3] > h:
                h = bar[3]
            if bar[4] < low:
                low = bar[4]
            c = bar[5]
            v += bar[6]
        if t == end - 60:
            indicators(0, c)
            closed += 1
            for j, parent in enumerate(parents):
                if parent[0] < 0:
                    parent[0] = start - start % sizes[j]
                    parent[1] = parent[0] + sizes[j]
                    parent[2:] = [o, h, low, c, v]
                else:
                    if h > parent[3]:
                        parent[3] = h
                    if low < parent[4]:
                        parent[4] = low
                    parent[5] = c
                    parent[6] += v
                if parent[1] == end:
                    indicators(j + 1, parent[5])
                    parent[0] = -1
                    closed += 1
    return time.perf_counter() - started, closed
