"""Pieces of `SymbolEngine` kept apart from its routing: the larger timeframes' buckets,
the dedup lookup, and the grouping of closed bars into decision instants."""

from __future__ import annotations

from bisect import bisect_left
from operator import itemgetter
from typing import Final

from engine.indicators import TimeframeIndicators
from engine.model import Bar1m, ClosedBar, MarketState

# `ClosedBar(...)`/`MarketState(...)` run a Python-level `__new__`; building the same
# NamedTuple with `tuple.__new__` costs half as much, and these are built per close.
new_tuple: Final = tuple.__new__
open_time: Final = itemgetter(1)  # of a `Bar1m`
_CLOSED_BAR: Final = ClosedBar  # compiled: a C static, not a dict lookup per use


class ParentBucket:
    """A larger timeframe: its open bucket and its indicators.

    The bucket is fed with the smaller timeframe's closed bars in time order, by
    `SymbolEngine._close_small_bar` (inline there, for speed).
    """

    __slots__ = (
        "close", "end", "high", "index", "indicators", "low", "minutes", "open", "size",
        "start", "timeframe", "volume",
    )  # fmt: skip

    def __init__(self, index: int, timeframe: int, indicators: TimeframeIndicators) -> None:
        self.index = index  # in `SymbolEngine.frames`
        self.timeframe = timeframe
        self.indicators = indicators
        self.size = timeframe * 60
        self.start = -1  # -1: no bucket open
        self.end = 0
        self.open = self.high = self.low = self.close = self.volume = 0.0
        self.minutes = 0

    def close_bar(self, symbol: str) -> ClosedBar:
        """Close the open bucket; its bar carries the indicators updated with it."""
        indicators = self.indicators
        ema, slope, regime = indicators.update(self.close)
        bar: ClosedBar = new_tuple(_CLOSED_BAR, (
            symbol, self.timeframe, self.start, self.end, self.open, self.high, self.low,
            self.close, self.volume, self.minutes, ema, slope, regime, indicators.bars,
        ))  # fmt: skip
        self.start = -1
        return bar


def find_minute(bars: list[Bar1m], t: int) -> Bar1m | None:
    """The bar of minute `t` in `bars` (sorted by time), if there."""
    i = bisect_left(bars, t, key=open_time)
    if i < len(bars) and bars[i][1] == t:
        return bars[i]
    return None


def group_states(
    symbol: str, frames: list[ClosedBar | None], closed: list[tuple[int, ClosedBar]]
) -> tuple[MarketState, ...]:
    """One state per close time among `closed` ((frame index, bar) pairs), in time order;
    `frames` (the last closed bar per timeframe) is updated as each instant passes."""
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
        out.append(MarketState(symbol, bars[0].close_time, tuple(frames), bars))
    return tuple(out)
