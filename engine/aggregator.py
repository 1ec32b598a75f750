"""Per-symbol streaming core: 1m bars -> clock-aligned 5/15/30m bars -> indicators.

The smallest timeframe is built from minutes; larger ones are rolled up from its closed
bars, so every larger bar is exactly the sum of its smaller bars and a minute is either
applied to all timeframes or to none. A bucket closes at the earliest of:
- its final minute arrives;
- a minute of a later bucket arrives;
- the watermark passes: clock >= bucket end + grace and clock >= last arrival + grace,
  where the last arrival is that of the last row the engine applied (a duplicate, a
  conflicting copy or a late minute changes nothing, so it does not restart the silence).
A minute of a bucket that has closed, in any timeframe, is late. Time is epoch seconds UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from engine.config import EngineConfig
from engine.indicators import TimeframeIndicators
from engine.model import Bar1m, ClosedBar, MarketState, Outcome

_NEVER = float("-inf")
_FOREVER = float("inf")


@dataclass(slots=True)
class Bucket:
    """The bar of one timeframe being built, `start` <= t < `end` (epoch s).

    `fold` is the one rule: open of the earliest piece, close of the latest, the high
    and low of all, volumes and minutes added — for minutes into the smallest timeframe
    (one may arrive out of order) and for its closed bars into the larger ones."""

    start: int
    end: int
    first: int  # open time of the earliest piece folded in
    last: int  # open time of the latest piece folded in
    minutes: int  # 1m bars folded in
    open: float
    high: float
    low: float
    close: float
    volume: float

    @classmethod
    def holding(cls, size_s: int, t: int, bar: Bar1m | ClosedBar, minutes: int) -> Bucket:
        """A new bucket of `size_s` seconds holding the piece `bar` that opens at `t`."""
        start = t - t % size_s
        # In the order of the fields above: start, end, first, last, minutes, then OHLCV.
        return cls(
            start, start + size_s, t, t, minutes, bar.open, bar.high, bar.low, bar.close, bar.volume
        )

    def fold(self, t: int, bar: Bar1m | ClosedBar, minutes: int) -> None:
        if t < self.first:
            self.first, self.open = t, bar.open
        if t > self.last:
            self.last, self.close = t, bar.close
        if bar.high > self.high:
            self.high = bar.high
        if bar.low < self.low:
            self.low = bar.low
        self.volume += bar.volume
        self.minutes += minutes


class Timeframe:
    """One timeframe of one symbol: its open bucket (if any) and its indicators."""

    def __init__(self, index: int, minutes: int, config: EngineConfig) -> None:
        self.index = index  # in `SymbolEngine.frames`
        self.minutes = minutes
        self.size_s = minutes * 60
        self.bucket: Bucket | None = None
        self.indicators = TimeframeIndicators(
            period=config.ema_period,
            window=config.slope_window,
            threshold=config.slope_threshold,
            ready_after=config.ready_after,
        )

    def add(self, t: int, bar: Bar1m | ClosedBar, minutes: int) -> None:
        if self.bucket is None:
            self.bucket = Bucket.holding(self.size_s, t, bar, minutes)
        else:
            self.bucket.fold(t, bar, minutes)

    def close(self, symbol: str) -> ClosedBar:
        """Close the open bucket; its bar carries the indicators updated with it."""
        bucket = self.bucket
        assert bucket is not None, "closing a timeframe with no open bucket"
        self.bucket = None
        ema, slope, regime = self.indicators.update(bucket.close)
        return ClosedBar(
            symbol=symbol,
            timeframe=self.minutes,
            open_time=bucket.start,
            close_time=bucket.end,
            open=bucket.open,
            high=bucket.high,
            low=bucket.low,
            close=bucket.close,
            volume=bucket.volume,
            minutes=bucket.minutes,
            ema=ema,
            slope=slope,
            regime=regime,
            bars_seen=self.indicators.bars,
        )


class SeenMinutes:
    """The minutes applied lately, for de-duplication, in two generations of `horizon_s`
    each: bounded, and a minute is remembered at least `horizon_s`."""

    def __init__(self, horizon_s: int) -> None:
        self.horizon_s = horizon_s
        self.current: dict[int, Bar1m] = {}
        self.previous: dict[int, Bar1m] = {}
        self.current_until: float = _NEVER  # a minute at or after this starts a generation

    def get(self, t: int) -> Bar1m | None:
        return self.current.get(t) or self.previous.get(t)

    def add(self, t: int, bar: Bar1m) -> None:
        if t >= self.current_until:
            self.previous, self.current = self.current, {}
            self.current_until = t + self.horizon_s
        self.current[t] = bar


class SymbolEngine:
    """Aggregator + indicators for one symbol. Feed it with `add`, `tick` and `flush`.

    Each call returns the `MarketState`s for the instants that closed, in time order;
    each state is one decision instant (all timeframes closing then, together).
    """

    def __init__(self, symbol: str, config: EngineConfig) -> None:
        self.symbol = symbol
        self.config = config
        self.grace_s = config.grace_s
        self.timeframes = [Timeframe(i, tf, config) for i, tf in enumerate(config.timeframes)]
        self.smallest, self.parents = self.timeframes[0], self.timeframes[1:]
        self.index_of = {tf.minutes: tf.index for tf in self.timeframes}
        self.frames: list[ClosedBar | None] = [None] * len(self.timeframes)
        self.now = _NEVER  # the engine's clock: latest arrival or tick
        self.last_arrival = _NEVER  # the clock when the last applied row arrived
        self.newest = _NEVER  # open time of the newest minute applied
        self.closed_to = _NEVER  # end of the latest bucket closed, in any timeframe
        self.seen = SeenMinutes(config.dedup_horizon_s)

    # -- feeding -------------------------------------------------------------------------

    def add(self, bar: Bar1m, arrival: float | None) -> tuple[str, tuple[MarketState, ...]]:
        """Apply a 1m bar received at `arrival` (epoch s; None: a row re-read from the
        table, which leaves the clock where it is). Returns (outcome, states)."""
        if arrival is not None and arrival > self.now:
            self.now = arrival
        closed: list[ClosedBar] = []
        if self._silent_for_grace(self.now):
            self._watermark(closed)
        outcome = self._apply(bar, closed)
        if outcome == Outcome.ACCEPTED:
            self.last_arrival = self.now
        return outcome, self._states(closed)

    def tick(self, now: float) -> tuple[MarketState, ...]:
        """Advance the clock to `now` (epoch s); closes buckets the watermark passed."""
        self.now = max(self.now, now)
        closed: list[ClosedBar] = []
        if self._silent_for_grace(self.now):
            self._watermark(closed)
        return self._states(closed)

    def watermark_due(self, now: float) -> bool:
        """Would `tick(now)` close a bucket? (The live source asks the table first.)"""
        now = max(now, self.now)
        if not self._silent_for_grace(now):
            return False
        small = self.smallest.bucket
        if small is not None and self._past_grace(small.end, now):
            return True
        return any(
            tf.bucket is not None and tf.bucket.end <= now - self.grace_s for tf in self.parents
        )

    def touch(self, now: float) -> None:
        """Restart the silence clock at `now` (epoch s), e.g. after rows came in bulk:
        the watermark then waits a full grace from `now`. Closes nothing."""
        self.now = max(self.now, now)
        self.last_arrival = max(self.last_arrival, now)

    def flush(self) -> tuple[MarketState, ...]:
        """End of input: close every open bucket, as the watermark eventually would.

        Closed directly rather than by a `tick`: closing the smallest bucket can open a
        parent's (with its first bar), and `last arrival + grace` can round below the
        watermark. The clock ends where the last of those ticks would have left it.
        """
        if not self._any_open():
            return ()
        closed: list[ClosedBar] = []
        if self.smallest.bucket is not None:
            self._close_smallest(closed)
        self._close_parents(closed, _FOREVER)
        last_end = max(bar.close_time for bar in closed)
        self.now = max(self.now, max(last_end, self.last_arrival) + self.grace_s)
        return self._states(closed)

    # -- the rules -----------------------------------------------------------------------

    def _apply(self, bar: Bar1m, closed: list[ClosedBar]) -> str:
        """The outcome of one minute; bars it closes are appended to `closed`."""
        t = bar.open_time
        if t <= self.newest:
            prior = self.seen.get(t)
            if prior is not None:
                same = _prices(prior) == _prices(bar)
                return Outcome.DUPLICATE if same else Outcome.CONFLICT
        if t < self._late_before():
            return Outcome.LATE
        self.seen.add(t, bar)
        small = self.smallest
        if t > self.newest:
            self.newest = t
            if small.bucket is None or t >= small.bucket.end:  # a minute of a new bucket
                if small.bucket is not None:
                    self._close_smallest(closed)
                self._close_parents(closed, t)
        small.add(t, bar, 1)
        assert small.bucket is not None
        if t == small.bucket.end - 60:  # its final minute: the bucket is complete
            end = small.bucket.end
            self._close_smallest(closed)
            self._close_parents(closed, end)
        return Outcome.ACCEPTED

    def _late_before(self) -> float:
        """Minutes before this are late: the open smallest bucket's start, or the end of
        the latest bucket closed in any timeframe, whichever is later."""
        small = self.smallest.bucket
        if small is not None and small.start > self.closed_to:
            return small.start
        return self.closed_to

    def _close_smallest(self, closed: list[ClosedBar]) -> None:
        """Close the smallest timeframe's bucket and fold its bar into the larger ones.

        Every open parent ends after the bucket's start (`_close_parents(t)` ran when the
        bucket opened), so the bar belongs to each parent's open bucket, if any."""
        bar = self.smallest.close(self.symbol)
        self.closed_to = max(self.closed_to, bar.close_time)
        closed.append(bar)
        for parent in self.parents:
            parent.add(bar.open_time, bar, bar.minutes)

    def _close_parents(self, closed: list[ClosedBar], limit: float) -> None:
        """Close every open larger bucket whose end is at or before `limit`."""
        for parent in self.parents:
            if parent.bucket is not None and parent.bucket.end <= limit:
                bar = parent.close(self.symbol)
                self.closed_to = max(self.closed_to, bar.close_time)
                closed.append(bar)

    def _watermark(self, closed: list[ClosedBar]) -> None:
        """Close what the clock has passed by the grace (the silence is checked first)."""
        small = self.smallest.bucket
        if small is not None and self._past_grace(small.end, self.now):
            self._close_smallest(closed)
        self._close_parents(closed, self.now - self.grace_s)

    def _past_grace(self, end: int, now: float) -> bool:
        # Both forms: a parent closing at `now - grace` must not leave the smallest bucket
        # ending at the same instant open, whatever float rounding does to `end + grace`.
        return end + self.grace_s <= now or end <= now - self.grace_s

    def _silent_for_grace(self, now: float) -> bool:
        """No row was applied for a grace and a bucket is open: the watermark may pass."""
        return now - self.last_arrival >= self.grace_s and self._any_open()

    def _any_open(self) -> bool:
        return any(tf.bucket is not None for tf in self.timeframes)

    def _states(self, closed: list[ClosedBar]) -> tuple[MarketState, ...]:
        """One state per close instant among `closed`, in time order; `frames` (the last
        closed bar per timeframe) moves forward as each instant passes."""
        if not closed:
            return ()
        closed.sort(key=lambda bar: (bar.close_time, self.index_of[bar.timeframe]))
        states = []
        for at, group in groupby(closed, key=lambda bar: bar.close_time):
            bars = tuple(group)
            for bar in bars:
                self.frames[self.index_of[bar.timeframe]] = bar
            states.append(MarketState(self.symbol, at, tuple(self.frames), bars))
        return tuple(states)


def _prices(bar: Bar1m) -> tuple[float, float, float, float, float]:
    return (bar.open, bar.high, bar.low, bar.close, bar.volume)
