"""The one path every row takes, live and in replay: normalize -> engine -> states.

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

import logging
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import structlog

from adapters.files.records import tf_label
from adapters.files.timefmt import iso
from engine.aggregator import SymbolEngine
from engine.config import EngineConfig
from engine.jumps import JumpGuard, row_time, too_far_ahead
from engine.model import ActionPlan, Bar1m, ClosedBar, MarketState, Outcome, Rejection
from engine.normalize import normalize_row

# Final: compiled, a module constant is a C static, not a dict lookup per use.
_NONE: Final[tuple[MarketState, ...]] = ()
_INF: Final = float("inf")
_REJECTION: Final = Rejection


class Recorder(Protocol):
    def bar(self, bar: ClosedBar) -> None: ...
    def decision(self, state: MarketState, plan: ActionPlan) -> None: ...
    def close(self) -> None: ...


class MinuteListener(Protocol):
    def on_minute(self, bar: Bar1m) -> None: ...


# A row admitted by a jump guard, waiting to be applied: (bar, arrival, raw row or None).
Admitted = tuple[Bar1m, float, Mapping[str, Any] | None]


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
        wall_clock: Callable[[], float] | None = None,
        future_tolerance_s: float = 120.0,
    ) -> None:
        names = tuple(dict.fromkeys(symbol.upper() for symbol in symbols))  # `mes` is MES
        self.symbols = frozenset(names)
        self.config = config
        self.engines = {symbol: SymbolEngine(symbol, config) for symbol in names}
        self.recorder = recorder
        self._wall_clock = wall_clock
        self._future_tolerance_s = future_tolerance_s
        self._guards: dict[str, JumpGuard[Admitted]] = (
            {} if wall_clock is not None else {s: JumpGuard(config.time_jump_s) for s in names}
        )
        # Admitted rows not applied yet. A call applies them in order and stops after the
        # first that closes something, so that its states are decided before the next row
        # reaches the minute listeners (the paper broker): the order of an unheld stream.
        self._waiting: deque[Admitted] = deque()
        self._counts: Counter[str] = Counter()
        # The two counters every row moves are plain ints, folded into `counts` on read
        # (read and written on the event loop thread only, as everything here).
        self._rows = 0
        self._accepted = 0
        # Unboxed in the compiled build (a float attribute is a C double; `float | None`
        # would box a new float every row): -inf until a row arrived with a time.
        self._last_arrival = -_INF
        self.minute_listeners: list[MinuteListener] = []  # e.g. the paper broker
        self._log = structlog.get_logger("pipeline")
        # Per-bar debug lines cost more than the engine itself: build them only when asked.
        self._debug = self._log.is_enabled_for(logging.DEBUG)

    @property
    def counts(self) -> Counter[str]:
        """Rows, accepted, rejected/ignored by reason, duplicates, bars per timeframe..."""
        counts = self._counts
        if self._rows:
            counts["rows"] += self._rows
            self._rows = 0
        if self._accepted:
            counts["accepted"] += self._accepted
            self._accepted = 0
        return counts

    @property
    def last_row_arrival(self) -> float | None:
        """When the latest row arrived (epoch s), None before any (backfilled rows, which
        arrive at -inf, do not count)."""
        return self._last_arrival if self._last_arrival > -_INF else None

    def ingest(self, row: Mapping[str, Any], arrival: float | None) -> tuple[MarketState, ...]:
        """One raw `tv_datafeed` row received at `arrival` (epoch s; None = its own ts)."""
        return self.ingest_normalized(
            normalize_row(row, self.symbols, self.config.ambiguity_tolerance_s), arrival, row
        )

    def ingest_normalized(
        self,
        result: Bar1m | Rejection,
        arrival: float | None,
        row: Mapping[str, Any] | None = None,
    ) -> tuple[MarketState, ...]:
        self._rows += 1
        if type(result) is _REJECTION:
            self._rejected(result, row)
            return self._apply_waiting()
        bar: Bar1m = result  # type: ignore[assignment]
        if arrival is None:
            # The bar's own float object (compiled, an expression typed `float` would be
            # unboxed and boxed anew, twice a row): its receipt, else its close.
            arrival = bar.received
            if arrival is None:
                arrival = bar.open_time + 60.0
        clock = self._wall_clock
        if clock is not None:
            now = clock()
            if too_far_ahead(bar, now, self._future_tolerance_s):
                ahead = round(row_time(bar) - now)
                self._rejected(Rejection("future_timestamp", f"{ahead} s ahead of the clock"), row)
                return _NONE
            return self._apply(bar, arrival)
        guard, at = self._guards[bar.symbol], row_time(bar)
        if not self._waiting and guard.admit_now(at):  # in order: nothing to wait for
            return self._apply(bar, arrival)
        verdict = guard.offer((bar, arrival, row), at)
        if verdict.rejected is not None:
            self._time_jump(verdict.rejected)
        self._waiting.extend(verdict.admitted)
        return self._apply_waiting()

    def watermark_due(self, now: float) -> bool:
        """Would `tick(now)` close a bucket (epoch s)? The live source asks the table
        right before it lets that happen."""
        return any(engine.watermark_due(now) for engine in self.engines.values())

    def _apply_waiting(self) -> tuple[MarketState, ...]:
        """Apply admitted rows in order, up to the first that closes something."""
        states = _NONE
        waiting = self._waiting
        while waiting and not states:
            bar, arrival, _ = waiting.popleft()
            states = self._apply(bar, arrival)
        return states

    def _apply(self, bar: Bar1m, arrival: float) -> tuple[MarketState, ...]:
        """One checked bar into its engine."""
        if arrival > -_INF:
            self._last_arrival = arrival
        if bar.ambiguous:
            self._counts["ambiguous"] += 1
            self._log.warning(
                "row_ambiguous", symbol=bar.symbol, bar_open=iso(bar.open_time),
                received=iso(bar.received or 0.0), reason="receipt_after_tolerance",
            )  # fmt: skip
        outcome, states = self.engines[bar.symbol].add(bar, arrival)
        if outcome is not Outcome.ACCEPTED:
            self._not_applied(outcome, bar)
        else:
            self._accepted += 1
            for listener in self.minute_listeners:
                listener.on_minute(bar)
        if states:
            for state in states:
                self._closed(state)
        return states

    def _time_jump(self, held: Admitted) -> None:
        bar, _, row = held
        detail = f"{iso(row_time(bar))}: far ahead of the rows around it"
        self._rejected(Rejection("time_jump", detail), row)

    def tick(self, now: float) -> tuple[MarketState, ...]:
        """Advance every engine's watermark clock to `now` (epoch s)."""
        out: list[MarketState] = []
        for engine in self.engines.values():
            for state in engine.tick(now):
                self._closed(state)
                out.append(state)
        return tuple(out)

    def resume(self, now: float) -> None:
        """Rows were just received in bulk (warm-up, backfill): restart the silence clock
        at `now`, so the watermark waits a full grace from here before closing a bucket."""
        for engine in self.engines.values():
            engine.touch(now)

    def flush(self) -> tuple[MarketState, ...]:
        """End of a finite input: apply the rows still waiting, judge those still held
        (`JumpGuard.end`), then close what the watermark would eventually close."""
        out: list[MarketState] = []
        for guard in self._guards.values():
            verdict = guard.end()
            if verdict.rejected is not None:
                self._time_jump(verdict.rejected)
            self._waiting.extend(verdict.admitted)
        while self._waiting:
            out.extend(self._apply_waiting())
        for engine in self.engines.values():
            for state in engine.flush():
                self._closed(state)
                out.append(state)
        return tuple(out)

    def _rejected(self, rejection: Rejection, row: Mapping[str, Any] | None) -> None:
        if rejection.ignored:
            self._counts[f"ignored.{rejection.reason}"] += 1
            self._log.debug("row_ignored", reason=rejection.reason, detail=rejection.detail)
            return
        self._counts[f"rejected.{rejection.reason}"] += 1
        self._log.warning(
            "row_rejected", reason=rejection.reason, detail=rejection.detail, row=_brief(row)
        )

    def _not_applied(self, outcome: str, bar: Bar1m) -> None:
        self._counts[outcome] += 1
        log = self._log.debug if outcome == Outcome.DUPLICATE else self._log.warning
        log(_NOT_APPLIED[outcome], symbol=bar.symbol, bar_open=iso(bar.open_time), reason=outcome)

    def _closed(self, state: MarketState) -> None:
        for bar in state.closed:
            self._counts[_BAR_KEYS.get(bar.timeframe) or _bar_key(bar.timeframe)] += 1
            self.recorder.bar(bar)
            if self._debug:
                self._log.debug(
                    "bar_closed", symbol=bar.symbol, timeframe=tf_label(bar.timeframe),
                    open_time=iso(bar.open_time), close=bar.close, minutes=bar.minutes,
                    ema=bar.ema, slope=bar.slope, regime=bar.regime,
                )  # fmt: skip


# Literal event names, so that each can be grepped (tests/test_log_events.py reads them).
_NOT_APPLIED: Final[dict[str, str]] = {
    Outcome.DUPLICATE: "row_duplicate",
    Outcome.CONFLICT: "row_conflict",
    Outcome.LATE: "row_late",
}
_BAR_KEYS: Final[dict[int, str]] = {}


def _bar_key(timeframe: int) -> str:
    key = _BAR_KEYS[timeframe] = f"bars.{tf_label(timeframe)}"
    return key


def _brief(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The columns of a bad row worth logging (never indicator noise); from a file, also
    the `line` it starts on, and all `cells` of a row with the wrong cell count."""
    if row is None:
        return None
    keys = ("line", "id", "ts", "symbol", "timeframe", "o", "h", "l", "c", "v", "bar_time")
    out: dict[str, Any] = {k: _cell(row[k]) for k in keys if k in row}
    cells = row.get("cells")
    if isinstance(cells, list):
        out["cells"] = [_cell(cell) for cell in cells[:20]]
    return out


def _cell(value: object) -> object:
    if value is None or type(value) is int:  # a line number stays a number
        return value
    return str(value)[:40]
