"""Engine parameters. Validated here so a bad value fails at construction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True, slots=True)
class EngineConfig:
    timeframes: tuple[int, ...] = (5, 15, 30)  # minutes, ascending, multiples of the first
    ema_period: int = 21  # bars
    slope_window: int = 5  # EMA values in the least-squares fit
    slope_threshold: float = 0.00005  # |slope| (per bar, relative to EMA) below this = range
    warmup_bars: int = 60  # closed bars per timeframe before its regime counts
    grace_s: float = 90.0  # watermark grace after bucket end and after the last arrival
    ambiguity_tolerance_s: float = 50.0  # receipt later than this after bar close = ambiguous
    dedup_horizon_s: int = 86_400  # a minute is remembered at least this long for dedup
    # Replay and the sample feed (no wall clock): a row more than this ahead of the newest
    # row is held until the next row confirms it (engine/jumps.py). Holding costs nothing
    # when the next row confirms; a bad row that is not held moves the clock by at most
    # this much (a few minutes late, never years).
    time_jump_s: float = 300.0

    def __post_init__(self) -> None:
        tfs = self.timeframes
        if not tfs or list(tfs) != sorted(set(tfs)) or tfs[0] < 1:
            raise ValueError("timeframes must be distinct positive minutes in ascending order")
        if any(tf % tfs[0] for tf in tfs) or any(1440 % tf for tf in tfs):
            raise ValueError("every timeframe must be a multiple of the first and divide 1440")
        if self.ema_period < 1 or self.slope_window < 2 or self.warmup_bars < 0:
            raise ValueError("ema_period >= 1, slope_window >= 2, warmup_bars >= 0 required")
        if not self.time_jump_s > 0:
            raise ValueError("time_jump_s must be > 0")
        if not self.slope_threshold >= 0 or self.grace_s < 0 or self.ambiguity_tolerance_s < 0:
            raise ValueError("slope_threshold, grace_s, ambiguity_tolerance_s must be >= 0")
        if self.dedup_horizon_s < 2 * tfs[-1] * 60:
            # Shorter, and minutes of a bucket still open would be forgotten: a repeat
            # would count twice.
            raise ValueError("dedup_horizon_s must cover at least two of the largest buckets")

    @property
    def ready_after(self) -> int:
        """Closed bars a timeframe needs before its regime is defined."""
        return max(self.warmup_bars, self.ema_period + self.slope_window - 1)


@dataclass(frozen=True, slots=True)
class DecisionConfig:
    flat_start: time = time(15, 7)  # get-flat window start, market wall clock, inclusive
    flat_end: time = time(17, 0)  # end, inclusive; may be earlier than start (spans midnight)
    market_tz: str = "America/Chicago"
