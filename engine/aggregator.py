"""Per-symbol streaming core: 1m bars -> clock-aligned 5/15/30m bars -> indicators.

The smallest timeframe is built from minutes; larger ones are rolled up from its closed
bars, so every larger bar is exactly the sum of its smaller bars and a minute is either
applied to all timeframes or to none. A bucket closes at the earliest of: its final
minute arrives; a minute of a later bucket arrives; the watermark passes (clock >=
bucket end + grace and clock >= last arrival + grace). Time is epoch seconds UTC.
"""

from __future__ import annotations

from engine.config import EngineConfig
from engine.indicators import TimeframeIndicators
from engine.model import Bar1m, ClosedBar, MarketState, Outcome

_NO_STATES: tuple[MarketState, ...] = ()
_INF = float("inf")


class _Parent:
    """An open bucket of a larger timeframe, fed with closed smaller bars in time order."""

    __slots__ = ("close", "end", "high", "low", "minutes", "open", "size", "start", "volume")

    def __init__(self, size_s: int) -> None:
        self.size = size_s
        self.start = -1  # -1: no bucket open
        self.end = 0
        self.open = self.high = self.low = self.close = self.volume = 0.0
        self.minutes = 0

    def fold(self, bar: ClosedBar) -> None:
        if self.start < 0:
            self.start = bar.open_time - bar.open_time % self.size
            self.end = self.start + self.size
            self.open, self.high, self.low = bar.open, bar.high, bar.low
            self.volume, self.minutes = bar.volume, bar.minutes
        else:
            self.high = max(self.high, bar.high)
            self.low = min(self.low, bar.low)
            self.volume += bar.volume
            self.minutes += bar.minutes
        self.close = bar.close


class SymbolEngine:
    """Aggregator + indicators for one symbol. Feed it with `add`, `tick` and `flush`.

    Each call returns the `MarketState`s for the instants that closed, in time order;
    each state is one decision instant (all timeframes closing then, together).
    """

    def __init__(self, symbol: str, config: EngineConfig) -> None:
        self.symbol = symbol
        self.config = config
        tfs = config.timeframes
        self._tfs = tfs
        self._size = tfs[0] * 60
        self._grace = config.grace_s
        self._horizon = config.dedup_horizon_s
        self._parents = [_Parent(tf * 60) for tf in tfs[1:]]
        self._ind = [
            TimeframeIndicators(
                config.ema_period, config.slope_window, config.slope_threshold, config.ready_after
            )
            for _ in tfs
        ]
        self.frames: list[ClosedBar | None] = [None] * len(tfs)
        # The open bucket of the smallest timeframe, kept in plain attributes (hot path).
        self._is_open = False
        self._start = 0
        self._end = -_INF  # end of the open bucket, or of the last closed one
        self._floor = -_INF  # minutes before this are late
        self._o = self._h = self._l = self._c = self._v = 0.0
        self._n = 0
        self._first = 0
        self._max_t = -_INF  # newest minute applied
        self._any_open = False
        self.now = -_INF  # the engine's clock: latest arrival or tick
        self._last_arrival = -_INF
        self._seen: dict[int, Bar1m] = {}
        self._seen_prev: dict[int, Bar1m] = {}
        self._gen_start = -_INF

    # -- feeding -------------------------------------------------------------------------

    def add(self, bar: Bar1m, arrival: float) -> tuple[str, tuple[MarketState, ...]]:
        """Apply a 1m bar received at `arrival` (epoch s). Returns (outcome, states)."""
        if arrival > self.now:
            self.now = arrival
        states = _NO_STATES
        if self._any_open and self.now - self._last_arrival >= self._grace:
            states = self._watermark(self.now)
        self._last_arrival = self.now
        t = bar.open_time
        if t <= self._max_t:
            return self._add_older(bar, t), states
        if t < self._floor:
            return Outcome.LATE, states
        self._max_t = t
        if t - self._gen_start >= self._horizon:
            self._seen_prev = self._seen
            self._seen = {}
            self._gen_start = t
        self._seen[t] = bar
        closed: list[tuple[int, ClosedBar]] | None = None
        if t >= self._end:
            closed = []
            if self._is_open:
                self._close_small(closed)
            self._close_parents(closed, t)
            self._start = start = t - t % self._size
            self._end = start + self._size
            self._floor = start
            self._o, self._h, self._l = bar.open, bar.high, bar.low
            self._c, self._v = bar.close, bar.volume
            self._n = 1
            self._first = t
            self._is_open = self._any_open = True
        else:
            if bar.high > self._h:
                self._h = bar.high
            if bar.low < self._l:
                self._l = bar.low
            self._c = bar.close
            self._v += bar.volume
            self._n += 1
        if t == self._end - 60:  # the bucket's final minute: close now
            if closed is None:
                closed = []
            self._close_small(closed)
            self._close_parents(closed, self._end)
        if closed:
            states = states + self._states(closed)
        return Outcome.ACCEPTED, states

    def tick(self, now: float) -> tuple[MarketState, ...]:
        """Advance the clock to `now` (epoch s); closes buckets the watermark passed."""
        if now > self.now:
            self.now = now
        if self._any_open and self.now - self._last_arrival >= self._grace:
            return self._watermark(self.now)
        return _NO_STATES

    def flush(self) -> tuple[MarketState, ...]:
        """End of input: close open buckets as the watermark eventually would."""
        if not self._any_open:
            return _NO_STATES
        ends = [p.end for p in self._parents if p.start >= 0]
        if self._is_open:
            ends.append(self._end)
        return self.tick(max([*ends, self._last_arrival]) + self._grace)

    # -- internals -----------------------------------------------------------------------

    def _add_older(self, bar: Bar1m, t: int) -> str:
        prior = self._seen.get(t) or self._seen_prev.get(t)
        if prior is not None:
            if prior[2:7] == bar[2:7]:
                return Outcome.DUPLICATE
            return Outcome.CONFLICT
        if t < self._floor:
            return Outcome.LATE
        # An out-of-order minute of the open bucket (never its final minute: that one is
        # newer than every minute of the bucket, so it took the in-order path).
        self._seen[t] = bar
        if t < self._first:
            self._first = t
            self._o = bar.open
        self._h = max(self._h, bar.high)
        self._l = min(self._l, bar.low)
        self._v += bar.volume
        self._n += 1
        return Outcome.ACCEPTED

    def _close_small(self, closed: list[tuple[int, ClosedBar]]) -> None:
        ema, slope, regime = self._ind[0].update(self._c)
        bar = ClosedBar(
            self.symbol, self._tfs[0], self._start, self._end, self._o, self._h, self._l,
            self._c, self._v, self._n, ema, slope, regime, self._ind[0].bars,
        )  # fmt: skip
        self._is_open = False
        self._floor = self._end
        closed.append((0, bar))
        for parent in self._parents:
            if parent.start >= 0 and parent.end <= bar.open_time:
                self._close_parent(parent, closed)  # defensive: cannot hold an older bucket
            parent.fold(bar)

    def _close_parents(self, closed: list[tuple[int, ClosedBar]], limit: float) -> None:
        """Close every open parent bucket whose end is at or before `limit`."""
        any_open = self._is_open
        for parent in self._parents:
            if parent.start >= 0 and parent.end <= limit:
                self._close_parent(parent, closed)
            any_open = any_open or parent.start >= 0
        self._any_open = any_open

    def _close_parent(self, parent: _Parent, closed: list[tuple[int, ClosedBar]]) -> None:
        index = self._parents.index(parent) + 1
        indicators = self._ind[index]
        ema, slope, regime = indicators.update(parent.close)
        bar = ClosedBar(
            self.symbol, self._tfs[index], parent.start, parent.end, parent.open, parent.high,
            parent.low, parent.close, parent.volume, parent.minutes, ema, slope, regime,
            indicators.bars,
        )  # fmt: skip
        parent.start = -1
        closed.append((index, bar))

    def _watermark(self, now: float) -> tuple[MarketState, ...]:
        closed: list[tuple[int, ClosedBar]] = []
        if self._is_open and self._end + self._grace <= now:
            self._close_small(closed)
        self._close_parents(closed, now - self._grace)
        return self._states(closed) if closed else _NO_STATES

    def _states(self, closed: list[tuple[int, ClosedBar]]) -> tuple[MarketState, ...]:
        frames = self.frames
        if len(closed) > 1 and closed[0][1].close_time != closed[-1][1].close_time:
            closed.sort(key=lambda item: (item[1].close_time, item[0]))
            groups: list[list[tuple[int, ClosedBar]]] = []
            for item in closed:
                if groups and groups[-1][0][1].close_time == item[1].close_time:
                    groups[-1].append(item)
                else:
                    groups.append([item])
        else:
            groups = [closed]
        out = []
        for group in groups:
            for index, bar in group:
                frames[index] = bar
            bars = tuple(bar for _, bar in group)
            out.append(MarketState(self.symbol, bars[0].close_time, tuple(frames), bars))
        return tuple(out)
