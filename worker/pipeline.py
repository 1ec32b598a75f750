"""The one path every row takes, live and in replay: normalize -> time check -> engine.

`Pipeline.ingest` is synchronous and cheap; what it returns (closed instants as
`MarketState`s) goes to `Trader.on_state`, which is async because live contexts and
orders cross the network.

Before a row may move an engine's clock, its time is checked (engine/jumps.py): live
(a wall clock is given) a row dated more than `future_tolerance_s` ahead of it is
rejected `future_timestamp`; in replay and on the sample feed (simulated time) a row
that jumps far ahead waits for the next row, which confirms it (both applied, in
order) or not (it is rejected `time_jump`).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import NamedTuple

from adapters import events
from engine.aggregator import SymbolEngine
from engine.config import EngineConfig
from engine.jumps import JumpGuard, row_time, too_far_ahead
from engine.model import Bar1m, MarketState, Outcome, Rejection
from engine.normalize import normalize_row
from engine.ports import (
    MinuteListener,
    Recorder,
    RowReceived,
    RowUnreadable,
    SourceEvent,
    Tick,
)
from engine.records import tf_label
from engine.timefmt import iso


class Admitted(NamedTuple):
    """A checked bar waiting to be applied: its clock time (None: leaves the clock) and
    the event it came in (for a log line). A NamedTuple, as the engine's per-row values."""

    bar: Bar1m
    arrival: float | None
    event: RowReceived


class Pipeline:
    """Rows in, closed instants out; counts and logs every row that is not plainly fine.

    `wall_clock` (epoch s) is given live only: rows are then checked against it. Without
    it (replay, sample feed) rows are checked against each other (`JumpGuard`).
    """

    def __init__(
        self,
        symbols: tuple[str, ...],
        config: EngineConfig,
        recorder: Recorder,
        *,
        wall_clock: Callable[[], float] | None = None,
        future_tolerance_s: float = 120.0,
    ) -> None:
        names = tuple(dict.fromkeys(symbol.upper() for symbol in symbols))  # `mes` is MES
        self.symbols = frozenset(names)
        self.config = config
        self.engines = {symbol: SymbolEngine(symbol, config) for symbol in names}
        self.recorder = recorder
        self.wall_clock = wall_clock
        self.future_tolerance_s = future_tolerance_s
        self.guards: dict[str, JumpGuard[Admitted]] = (
            {} if wall_clock is not None else {s: JumpGuard(config.time_jump_s) for s in names}
        )
        # Admitted rows not applied yet. A call applies them in order and stops after the
        # first that closes something, so that its states are decided before the next row
        # reaches the minute listeners (the paper broker): the order of an unheld stream.
        self.waiting: deque[Admitted] = deque()
        self.counts: Counter[str] = Counter()  # rows, accepted, rejected.<reason>, ...
        self.last_row_arrival: float | None = None  # epoch s; backfilled rows do not count
        self.minute_listeners: list[MinuteListener] = []  # e.g. the paper broker

    def handle(self, event: SourceEvent) -> tuple[MarketState, ...]:
        """One event of a source (engine/ports.py); the instants it closed, in order."""
        if isinstance(event, RowReceived):
            return self.ingest(event)
        if isinstance(event, RowUnreadable):
            return self.unreadable(event)
        if isinstance(event, Tick):
            return self.tick(event.now)
        self.resume(event.now)
        return ()

    def ingest(self, event: RowReceived) -> tuple[MarketState, ...]:
        """One raw `tv_datafeed` row; the instants it closed (or a row before it did)."""
        self.counts["rows"] += 1
        result = normalize_row(event.row, self.symbols, self.config.ambiguity_tolerance_s)
        if isinstance(result, Rejection):
            self._rejected(result, _brief(event.row, event.line))
            return self._apply_waiting()
        admitted = Admitted(result, _clock_time(event, result), event)
        if self.wall_clock is not None:
            now = self.wall_clock()
            if too_far_ahead(result, now, self.future_tolerance_s):
                ahead = round(row_time(result) - now)
                rejection = Rejection("future_timestamp", f"{ahead} s ahead of the clock")
                self._rejected(rejection, _brief(event.row, event.line))
                return ()
            return self._apply(admitted)
        verdict = self.guards[result.symbol].offer(admitted, row_time(result))
        if verdict.rejected is not None:
            self._time_jump(verdict.rejected)
        self.waiting.extend(verdict.admitted)
        return self._apply_waiting()

    def unreadable(self, event: RowUnreadable) -> tuple[MarketState, ...]:
        """A line of a file that is no row: rejected as any bad row is."""
        self.counts["rows"] += 1
        brief: dict[str, object] = {"line": event.line, "cells": [c[:40] for c in event.cells]}
        self._rejected(Rejection(event.reason, event.detail), brief)
        return self._apply_waiting()

    def tick(self, now: float) -> tuple[MarketState, ...]:
        """Advance every engine's watermark clock to `now` (epoch s)."""
        states: list[MarketState] = []
        for engine in self.engines.values():
            closed = engine.tick(now)
            self._closed(closed)
            states += closed
        return tuple(states)

    def watermark_due(self, now: float) -> bool:
        """Would `tick(now)` close a bucket (epoch s)? The live source asks the table
        right before it lets that happen."""
        return any(engine.watermark_due(now) for engine in self.engines.values())

    def resume(self, now: float) -> None:
        """Rows were just received in bulk (warm-up, backfill): restart the silence clock
        at `now`, so the watermark waits a full grace from here before closing a bucket."""
        for engine in self.engines.values():
            engine.touch(now)

    def flush(self) -> tuple[MarketState, ...]:
        """End of a finite input: apply the rows still waiting, judge those still held
        (`JumpGuard.end`), then close what the watermark would eventually close."""
        states: list[MarketState] = []
        for guard in self.guards.values():
            verdict = guard.end()
            if verdict.rejected is not None:
                self._time_jump(verdict.rejected)
            self.waiting.extend(verdict.admitted)
        while self.waiting:
            states += self._apply_waiting()
        for engine in self.engines.values():
            closed = engine.flush()
            self._closed(closed)
            states += closed
        return tuple(states)

    # -- applying ------------------------------------------------------------------------

    def _apply_waiting(self) -> tuple[MarketState, ...]:
        """Apply admitted rows in order, up to the first that closes something."""
        states: tuple[MarketState, ...] = ()
        while self.waiting and not states:
            states = self._apply(self.waiting.popleft())
        return states

    def _apply(self, admitted: Admitted) -> tuple[MarketState, ...]:
        """One checked bar into its engine."""
        bar = admitted.bar
        if admitted.arrival is not None:
            self.last_row_arrival = admitted.arrival
        if bar.ambiguous:
            self.counts["ambiguous"] += 1
            events.row_ambiguous(bar, reason="receipt_after_tolerance")
        outcome, states = self.engines[bar.symbol].add(bar, admitted.arrival)
        if outcome == Outcome.ACCEPTED:
            self.counts["accepted"] += 1
            for listener in self.minute_listeners:
                listener.on_minute(bar)
        else:
            self._not_applied(outcome, bar)
        if states:
            self._closed(states)
        return states

    def _closed(self, states: tuple[MarketState, ...]) -> None:
        """Count and record each bar that closed (their log line is the trader's
        `market_state`, one per instant)."""
        for state in states:
            for bar in state.closed:
                self.counts[f"bars.{tf_label(bar.timeframe)}"] += 1
                self.recorder.bar(bar)

    # -- what is not applied -------------------------------------------------------------

    def _rejected(self, rejection: Rejection, row: dict[str, object]) -> None:
        if rejection.ignored:
            self.counts[f"ignored.{rejection.reason}"] += 1
            events.row_ignored(rejection)
            return
        self.counts[f"rejected.{rejection.reason}"] += 1
        events.row_rejected(rejection, row=row)

    def _time_jump(self, held: Admitted) -> None:
        detail = f"{iso(row_time(held.bar))}: far ahead of the rows around it"
        self._rejected(Rejection("time_jump", detail), _brief(held.event.row, held.event.line))

    def _not_applied(self, outcome: str, bar: Bar1m) -> None:
        self.counts[outcome] += 1
        if outcome == Outcome.DUPLICATE:
            events.row_duplicate(bar)
        elif outcome == Outcome.CONFLICT:
            events.row_conflict(bar)
        else:
            events.row_late(bar)


def _clock_time(event: RowReceived, bar: Bar1m) -> float | None:
    """The instant a row moves the engine's clock to: its arrival live, its own receipt
    (else its bar's close) when it came in bulk, none when it was re-read (backfill)."""
    if event.backfilled:
        return None
    if event.arrival is not None:
        return event.arrival
    return bar.received if bar.received is not None else bar.open_time + 60.0


def _brief(row: Mapping[str, object], line: int | None) -> dict[str, object]:
    """The columns of a bad row worth logging (never indicator noise), and from a file
    the `line` it starts on."""
    keys = ("id", "ts", "symbol", "timeframe", "o", "h", "l", "c", "v", "bar_time")
    out: dict[str, object] = {} if line is None else {"line": line}
    for key in keys:
        if key in row:
            value = row[key]
            out[key] = value if value is None or type(value) is int else str(value)[:40]
    return out
