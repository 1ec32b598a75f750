"""Per-symbol streaming core: 1m bars -> clock-aligned 5/15/30m bars -> indicators.

The smallest timeframe is built from minutes; larger ones are rolled up from its closed
bars, so every larger bar is exactly the sum of its smaller bars and a minute is either
applied to all timeframes or to none. A bucket closes at the earliest of: its final
minute arrives; a minute of a later bucket arrives; the watermark passes (clock >=
bucket end + grace and clock >= last arrival + grace, where the last arrival is that of
the last row the engine applied: a duplicate, a conflicting copy or a late minute
changes nothing, so it does not restart the silence). A minute of a bucket that has
closed, in any timeframe, is late. Time is epoch seconds UTC.

Speed (a replay feeds millions of minutes): `add` routes the minutes of an in-order
stream to three short paths, each a special case of the general path `_add` with the
same results: the next minute of the open bucket (inline), its final minute
(`_close_on_final`) and the first minute of the next bucket (`_open_next`). The bounds
that route a minute there are kept by `_set_limits`.
"""

from __future__ import annotations

from bisect import insort
from typing import Final

from engine.buckets import ParentBucket, find_minute, group_states, new_tuple, open_time
from engine.config import EngineConfig
from engine.indicators import TimeframeIndicators
from engine.model import Bar1m, ClosedBar, MarketState, Outcome

# Final: compiled, a module constant is a C static, not a dict lookup per use; so are
# the aliases of imported names below.
_NO_STATES: Final[tuple[MarketState, ...]] = ()
_ACCEPTED: Final = Outcome.ACCEPTED
_ACCEPTED_NO_STATES: Final = (_ACCEPTED, _NO_STATES)
_INF: Final = float("inf")
_new: Final = new_tuple
_CLOSED_BAR: Final = ClosedBar
_MARKET_STATE: Final = MarketState
# Minute bounds are ints (epoch s); these stand for "no bound yet" and "never" without
# mixing floats in: int-to-int comparisons are the fast ones, interpreted and compiled.
_FAR: Final = 1 << 60
_NEVER: Final = -_FAR


class SymbolEngine:
    """Aggregator + indicators for one symbol. Feed it with `add`, `tick` and `flush`.

    Each call returns the `MarketState`s for the instants that closed, in time order;
    each state is one decision instant (all timeframes closing then, together).
    """

    # Slots: faster attribute access on the hot path than an instance dict (which, past
    # 30 attributes, also loses CPython 3.11's key-sharing fast path).
    __slots__ = (
        "_c", "_end", "_fast_below", "_final_minute", "_first",
        "_gen_end", "_grace", "_h", "_horizon", "_ind", "_is_open", "_l", "_last_arrival",
        "_max_t", "_n", "_o", "_open_below", "_parents", "_parents_closed_to", "_parents_due",
        "_seen",
        "_seen_prev", "_size", "_start", "_tf", "_v", "config", "frames", "now", "symbol",
    )  # fmt: skip

    def __init__(self, symbol: str, config: EngineConfig) -> None:
        self.symbol = symbol
        self.config = config
        tfs = config.timeframes

        def indicators() -> TimeframeIndicators:
            return TimeframeIndicators(
                config.ema_period, config.slope_window, config.slope_threshold, config.ready_after
            )

        self._grace = config.grace_s
        self._horizon = config.dedup_horizon_s
        self._parents = tuple(ParentBucket(i, tf, indicators()) for i, tf in enumerate(tfs) if i)
        self.frames: list[ClosedBar | None] = [None] * len(tfs)
        # The smallest timeframe and its open bucket, in plain attributes (hot path).
        self._tf = tfs[0]
        self._size = tfs[0] * 60
        self._ind = indicators()
        self._is_open = False
        self._start = 0
        self._end = _NEVER  # end of the open bucket, or of the last closed one
        self._o = self._h = self._l = self._c = self._v = 0.0
        self._n = 0
        self._first = 0
        self._max_t = _NEVER  # newest minute applied
        self._parents_due = _FAR  # earliest end of an open parent bucket
        self._parents_closed_to = _NEVER  # latest end of a parent bucket the watermark closed
        self.now = -_INF  # the engine's clock: latest arrival or tick
        self._last_arrival = -_INF  # the clock when the last applied row arrived
        # Dedup memory: two generations of `dedup_horizon_s` each, so bounded. Each is a
        # list sorted by time (searched by bisection): the minutes of an in-order stream
        # are appended, cheaper than a dict insert; others are inserted in place.
        self._seen: list[Bar1m] = []
        self._seen_prev: list[Bar1m] = []
        self._gen_end = _NEVER  # a minute at or after this starts a new generation
        self._fast_below = self._final_minute = self._open_below = _NEVER  # `_set_limits`

    # -- feeding -------------------------------------------------------------------------

    def add(self, bar: Bar1m, arrival: float) -> tuple[str, tuple[MarketState, ...]]:
        """Apply a 1m bar received at `arrival` (epoch s). Returns (outcome, states)."""
        now = self.now
        if arrival > now:
            self.now = now = arrival
        t = bar[1]  # open_time; fields by index: faster than NamedTuple attributes
        if now - self._last_arrival < self._grace:  # the watermark is not due
            # Three minutes in five: the next minute of the open bucket, not its final one.
            if self._max_t < t < self._fast_below:
                self._last_arrival = now
                self._max_t = t
                self._seen.append(bar)
                if bar[3] > self._h:
                    self._h = bar[3]
                if bar[4] < self._l:
                    self._l = bar[4]
                self._c = bar[5]
                self._v += bar[6]
                self._n += 1
                return _ACCEPTED_NO_STATES
            if t == self._final_minute:
                return self._close_on_final(bar, t, now)
            if self._end <= t < self._open_below:
                return self._open_next(bar, t, now)
        result = self._add(bar, t, now)
        self._set_limits()
        return result

    def tick(self, now: float) -> tuple[MarketState, ...]:
        """Advance the clock to `now` (epoch s); closes buckets the watermark passed."""
        if now > self.now:
            self.now = now
        if self._any_open() and self.now - self._last_arrival >= self._grace:
            states = self._watermark(self.now)
            self._set_limits()
            return states
        return _NO_STATES

    def watermark_due(self, now: float) -> bool:
        """Would `tick(now)` close a bucket? (The live source asks the table first.)"""
        if now < self.now:
            now = self.now
        grace = self._grace
        if not self._any_open() or now - self._last_arrival < grace:
            return False
        if self._is_open and (self._end + grace <= now or self._end <= now - grace):
            return True
        return self._parents_due <= now - grace

    def touch(self, now: float) -> None:
        """Restart the silence clock at `now` (epoch s), e.g. after rows came in bulk:
        the watermark then waits a full grace from `now`. Closes nothing."""
        if now > self.now:
            self.now = now
        if now > self._last_arrival:
            self._last_arrival = now

    def flush(self) -> tuple[MarketState, ...]:
        """End of input: close every open bucket, as the watermark eventually would.

        Closed directly rather than by a `tick`: closing the smallest bucket can open a
        parent's (with its first bar), and `last arrival + grace` can round below the
        watermark. The clock ends where the last of those ticks would have left it.
        """
        if not self._any_open():
            return _NO_STATES
        closed: list[tuple[int, ClosedBar]] = []
        if self._is_open:
            self._close_small(closed)
        self._close_parents(closed, _INF)
        self._set_limits()
        last_end = max(bar.close_time for _, bar in closed)
        self.now = max(self.now, max(last_end, self._last_arrival) + self._grace)
        return group_states(self.symbol, self.frames, closed)

    # -- short paths ---------------------------------------------------------------------

    def _set_limits(self) -> None:
        """Bounds routing a minute `t`, newer than any applied, to a short path of `add`.

        Open bucket: `t < _fast_below` is its next minute, not its final one, and
        `t == _final_minute` its final one, both in the current dedup generation. No bucket
        open: `_end <= t < _open_below` opens the next one, in the current generation,
        before any open parent ends (so nothing closes). -inf disables a route. `_open`
        and `_close_final` set the same bounds inline.
        """
        gen_end = self._gen_end
        if self._is_open:
            final = self._end - 60
            self._fast_below = final if final < gen_end else gen_end
            self._final_minute = final if final < gen_end else _NEVER
            self._open_below = _NEVER
        else:
            self._fast_below = self._final_minute = _NEVER
            due = self._parents_due
            self._open_below = gen_end if gen_end < due else due
            if self._parents_closed_to > self._end:  # minutes up to there are late
                self._open_below = _NEVER

    def _open_next(self, bar: Bar1m, t: int, now: float) -> tuple[str, tuple[MarketState, ...]]:
        """`_add` for the first minute of the next bucket, as routed by `_open_below`."""
        self._last_arrival = now
        self._max_t = t
        self._seen.append(bar)
        self._open(bar, t)
        if t == self._end - 60:  # 1-minute buckets, or a gap up to the final minute
            return _ACCEPTED, self._close_final()
        return _ACCEPTED_NO_STATES

    def _close_on_final(
        self, bar: Bar1m, t: int, now: float
    ) -> tuple[str, tuple[MarketState, ...]]:
        """`_add` for the final minute of the open bucket, as routed by `_final_minute`."""
        self._last_arrival = now
        self._max_t = t
        self._seen.append(bar)
        if bar[3] > self._h:
            self._h = bar[3]
        if bar[4] < self._l:
            self._l = bar[4]
        self._c = bar[5]
        self._v += bar[6]
        self._n += 1
        return _ACCEPTED, self._close_final()

    def _close_final(self) -> tuple[MarketState, ...]:
        """Close the open bucket on its final minute, with the parents ending with it.

        `_close_small` + `_close_parents` + `group_states` + `_set_limits`, without lists:
        every bar closing here closes at the bucket's end, so there is one state.
        """
        bar = self._close_small_bar()
        end = self._end
        frames = self.frames
        frames[0] = bar
        closed: tuple[ClosedBar, ...] = (bar,)
        due = _FAR
        for parent in self._parents:
            if parent.end <= end:  # open: `bar` was just folded into it
                frames[parent.index] = parent_bar = parent.close_bar(self.symbol)
                closed += (parent_bar,)
            elif parent.end < due:
                due = parent.end
        self._parents_due = due
        # No route check of `_parents_closed_to`: minutes below it are late, so no bucket
        # that opened after it was set ends at or below it.
        self._fast_below = self._final_minute = _NEVER
        gen_end = self._gen_end
        self._open_below = gen_end if gen_end < due else due
        return (_new(_MARKET_STATE, (self.symbol, end, tuple(frames), closed)),)

    # -- general path --------------------------------------------------------------------

    def _add(self, bar: Bar1m, t: int, now: float) -> tuple[str, tuple[MarketState, ...]]:
        """`add` for any minute, once the clock is advanced to `now`."""
        states = _NO_STATES
        if self._any_open() and now - self._last_arrival >= self._grace:
            states = self._watermark(now)
        if t <= self._max_t:
            outcome = self._add_older(bar, t)
            if outcome == _ACCEPTED:
                self._last_arrival = now
            return outcome, states
        if t < self._floor():
            return Outcome.LATE, states
        self._last_arrival = now
        self._max_t = t
        if t >= self._gen_end:
            self._seen_prev = self._seen
            self._seen = []
            self._gen_end = t + self._horizon
        self._seen.append(bar)
        closed: list[tuple[int, ClosedBar]] | None = None
        if t >= self._end:
            closed = []
            if self._is_open:
                self._close_small(closed)
            self._close_parents(closed, t)
            self._open(bar, t)
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
                return _ACCEPTED, states + self._close_final()
            self._close_small(closed)
            self._close_parents(closed, self._end)
        if closed:
            states = states + group_states(self.symbol, self.frames, closed)
        return _ACCEPTED, states

    def _open(self, bar: Bar1m, t: int) -> None:
        """Open the smallest-timeframe bucket holding minute `t` with `bar`."""
        self._start = start = t - t % self._size
        self._end = end = start + self._size
        self._o, self._h, self._l = bar[2], bar[3], bar[4]
        self._c, self._v = bar[5], bar[6]
        self._n = 1
        self._first = t
        self._is_open = True
        final, gen_end = end - 60, self._gen_end  # `_set_limits` for an open bucket
        if final < gen_end:
            self._fast_below = self._final_minute = final
        else:
            self._fast_below, self._final_minute = gen_end, _NEVER
        self._open_below = _NEVER

    def _any_open(self) -> bool:
        """Is a bucket of any timeframe open?"""
        return self._is_open or self._parents_due < _FAR

    def _floor(self) -> float:
        """Minutes before this are late: the open bucket's start, or the last one's end,
        or the end of a parent bucket the watermark (or flush) closed, if later."""
        small = self._start if self._is_open else self._end
        return small if small >= self._parents_closed_to else self._parents_closed_to

    def _add_older(self, bar: Bar1m, t: int) -> str:
        prior = find_minute(self._seen, t) or find_minute(self._seen_prev, t)
        if prior is not None:
            if prior[2:7] == bar[2:7]:
                return Outcome.DUPLICATE
            return Outcome.CONFLICT
        if t < self._floor():
            return Outcome.LATE
        # An out-of-order minute of the open bucket (never its final minute: that one is
        # newer than every minute of the bucket, so it took the in-order path).
        insort(self._seen, bar, key=open_time)
        if t < self._first:
            self._first = t
            self._o = bar.open
        self._h = max(self._h, bar.high)
        self._l = min(self._l, bar.low)
        self._v += bar.volume
        self._n += 1
        return Outcome.ACCEPTED

    def _close_small_bar(self) -> ClosedBar:
        """Close the open smallest-timeframe bucket and fold its bar into the parents.

        Every open parent ends after the bucket's start (`_close_parents(t)` ran when the
        bucket opened), so the bar belongs to each parent's open bucket, if any.
        """
        indicators = self._ind
        ema, slope, regime = indicators.update(self._c)
        start, o, h, low = self._start, self._o, self._h, self._l
        c, v, n = self._c, self._v, self._n
        bar: ClosedBar = _new(_CLOSED_BAR, (
            self.symbol, self._tf, start, self._end, o, h, low, c, v, n, ema, slope, regime,
            indicators.bars,
        ))  # fmt: skip
        self._is_open = False
        # The fold, inline: a method call per parent per close shows in the profile.
        # `if` rather than max()/min(): the same result (max(a, b) is b only if b > a).
        for parent in self._parents:
            if parent.start < 0:
                parent.start = parent_start = start - start % parent.size
                parent.end = parent_start + parent.size
                parent.open, parent.high, parent.low = o, h, low
                parent.volume, parent.minutes = v, n
            else:
                if h > parent.high:
                    parent.high = h
                if low < parent.low:
                    parent.low = low
                parent.volume += v
                parent.minutes += n
            parent.close = c
        return bar

    def _close_small(self, closed: list[tuple[int, ClosedBar]]) -> None:
        closed.append((0, self._close_small_bar()))

    def _close_parents(self, closed: list[tuple[int, ClosedBar]], limit: float) -> None:
        """Close every open parent bucket whose end is at or before `limit`."""
        due = _FAR
        for parent in self._parents:
            if parent.start >= 0:
                if parent.end <= limit:
                    if parent.end > self._parents_closed_to:
                        self._parents_closed_to = parent.end
                    closed.append((parent.index, parent.close_bar(self.symbol)))
                elif parent.end < due:
                    due = parent.end
        self._parents_due = due

    def _watermark(self, now: float) -> tuple[MarketState, ...]:
        closed: list[tuple[int, ClosedBar]] = []
        # The second test: a parent bucket closing here must not hold an open bucket of
        # the smallest timeframe, whatever float rounding does to `end + grace`.
        if self._is_open and (self._end + self._grace <= now or self._end <= now - self._grace):
            self._close_small(closed)
        self._close_parents(closed, now - self._grace)
        return group_states(self.symbol, self.frames, closed) if closed else _NO_STATES
