"""EMA (TradingView `ta.ema` seeding), least-squares slope, regime. O(1) per closed bar."""

from __future__ import annotations

from collections import deque

from engine.model import Regime


class Ema:
    """EMA with alpha 2/(n+1), exactly as TradingView's `ta.ema`.

    Undefined (None) for the first n-1 values, seeded with the simple average of the
    first n values, then `a*x + (1-a)*prev`.
    """

    __slots__ = ("_alpha", "_count", "_n", "_sum", "value")

    def __init__(self, period: int) -> None:
        self._n = period
        self._alpha = 2.0 / (period + 1)
        self._count = 0
        self._sum = 0.0
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        value = self.value
        if value is not None:
            value = self._alpha * x + (1.0 - self._alpha) * value
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
    """EMA, normalized slope and regime of one (symbol, timeframe). Bounded state."""

    __slots__ = ("_ema", "_ready_after", "_threshold", "_weights", "_window", "bars")

    def __init__(self, period: int, window: int, threshold: float, ready_after: int) -> None:
        self._ema = Ema(period)
        self._window: deque[float] = deque(maxlen=window)
        self._weights = slope_weights(window)
        self._threshold = threshold
        self._ready_after = ready_after
        self.bars = 0

    def update(self, close: float) -> tuple[float | None, float | None, str]:
        """Feed one closed bar's close; returns (ema, slope, regime)."""
        self.bars += 1
        ema = self._ema.update(close)
        if ema is None:
            return None, None, Regime.INSUFFICIENT
        window = self._window
        window.append(ema)
        if len(window) < window.maxlen:  # type: ignore[operator]
            return ema, None, Regime.INSUFFICIENT
        raw = 0.0
        for w, y in zip(self._weights, window, strict=True):
            raw += w * y
        slope = raw / ema
        if self.bars < self._ready_after:
            return ema, slope, Regime.INSUFFICIENT
        return ema, slope, regime_of(slope, self._threshold)


def regime_of(slope: float, threshold: float) -> str:
    """trend_up/trend_down when |slope| >= threshold (and non-zero), else range."""
    if slope >= threshold and slope > 0.0:
        return Regime.TREND_UP
    if slope <= -threshold and slope < 0.0:
        return Regime.TREND_DOWN
    return Regime.RANGE
