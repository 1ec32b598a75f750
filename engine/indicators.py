"""EMA (TradingView `ta.ema` seeding), least-squares slope, regime. O(1) per closed bar."""

from __future__ import annotations

from collections import deque

from engine.model import Regime


class Ema:
    """EMA with alpha 2/(n+1), exactly as TradingView's `ta.ema`.

    Undefined (None) for the first n-1 values, seeded with the simple average of the
    first n values, then `a*x + (1-a)*prev`.
    """

    def __init__(self, period: int) -> None:
        self._n = period
        self._alpha = 2.0 / (period + 1)
        self._beta = 1.0 - self._alpha
        self._count = 0
        self._sum = 0.0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        value = self.value
        if value is not None:
            value = self._alpha * x + self._beta * value
            self.value = value
            return value
        self._count += 1
        self._sum += x
        if self._count == self._n:
            self.value = self._sum / self._n
        return self.value


def slope_weights(window: int) -> tuple[float, ...]:
    """Least-squares slope weights for x = 0..window-1: slope = sum(w_i * y_i)."""
    mean = (window - 1) / 2.0
    denom = sum((i - mean) ** 2 for i in range(window))
    return tuple((i - mean) / denom for i in range(window))


class TimeframeIndicators:
    """EMA, normalized slope and regime of one (symbol, timeframe). O(1) and bounded: the
    EMA's state and the last `window` EMA values."""

    def __init__(self, period: int, window: int, threshold: float, ready_after: int) -> None:
        self.ema = Ema(period)
        self.recent: deque[float] = deque(maxlen=window)  # the last EMA values
        self.weights = slope_weights(window)
        self.threshold = threshold
        self.ready_after = ready_after  # closed bars before a regime counts
        self.bars = 0

    def update(self, close: float) -> tuple[float | None, float | None, str]:
        """Feed one closed bar's close; returns (ema, slope, regime). The slope is the
        least-squares slope of the last `window` EMA values divided by the last one."""
        self.bars += 1
        ema = self.ema.update(close)
        if ema is None:
            return None, None, Regime.INSUFFICIENT
        self.recent.append(ema)
        if len(self.recent) < len(self.weights):
            return ema, None, Regime.INSUFFICIENT
        slope = weighted_sum(self.weights, self.recent) / ema
        if self.bars < self.ready_after:
            return ema, slope, Regime.INSUFFICIENT
        return ema, slope, regime_of(slope, self.threshold)


def weighted_sum(weights: tuple[float, ...], values: deque[float]) -> float:
    """sum(w_i * y_i), added left to right from 0.0 (not `sum()`: 3.12 compensates it)."""
    raw = 0.0
    for w, y in zip(weights, values, strict=True):
        raw += w * y
    return raw


def regime_of(slope: float, threshold: float) -> str:
    """trend_up/trend_down when |slope| >= threshold (and non-zero), else range."""
    if slope >= threshold and slope > 0.0:
        return Regime.TREND_UP
    if slope <= -threshold and slope < 0.0:
        return Regime.TREND_DOWN
    return Regime.RANGE
