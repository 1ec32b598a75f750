"""The pipeline's time checks: live rows against the wall clock, replayed rows against
each other; one bad row costs only itself, and a genuine gap costs nothing."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from adapters.files.jsonl import NullRecorder
from engine.config import EngineConfig
from engine.model import Bar1m
from engine.ports import RowReceived
from engine.timefmt import iso
from worker.pipeline import Pipeline

T0 = 1_750_082_400  # 2025-06-16 14:00 UTC
Y2030 = 1_893_456_030.0  # 2030-01-01T00:00:30Z


def bar(i: int, received: float | None = None, symbol: str = "MES") -> Bar1m:
    """Minute i after T0, received 3 s after its close unless told."""
    t = T0 + 60 * i
    price = 6000.0 + (i % 7)
    recv = t + 63.0 if received is None else received
    return Bar1m(symbol, t, price, price + 1.0, price - 1.0, price, 5.0, False, recv)


def event(b: Bar1m, arrival: float | None = None, backfilled: bool = False) -> RowReceived:
    """The raw row of `b` as a source gives it: its bar named (`bar_time`), its receipt
    `ts`."""
    row = {
        "symbol": b.symbol, "timeframe": "1", "o": str(b.open), "h": str(b.high),
        "l": str(b.low), "c": str(b.close), "v": str(b.volume), "bar_time": str(b.open_time),
        "ts": iso(b.received) if b.received is not None else "",
    }  # fmt: skip
    return RowReceived(row, arrival=arrival, backfilled=backfilled)


class Trace:
    """What a caller sees, in order: minutes given to listeners and states decided on."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def on_minute(self, minute: Bar1m) -> None:
        self.events.append(("minute", minute.open_time))

    def decide(self, states: tuple[object, ...]) -> None:
        self.events += [("state", s.at) for s in states]  # type: ignore[attr-defined]


def run(bars: list[Bar1m], clock: float | None = None) -> tuple[Trace, Pipeline]:
    """Replay `bars` (arrival = their own time); `clock` makes it a live run whose wall
    clock reads `clock` (inf: a live run that never rejects: the unheld reference)."""
    wall_clock = None if clock is None else lambda: clock
    pipeline = Pipeline(("MES",), EngineConfig(), NullRecorder(), wall_clock=wall_clock)
    trace = Trace()
    pipeline.minute_listeners.append(trace)
    for b in bars:
        trace.decide(pipeline.ingest(event(b)))
    trace.decide(pipeline.flush())
    return trace, pipeline


def minutes(first: int, last: int) -> list[Bar1m]:
    return [bar(i) for i in range(first, last)]


# -- live: the wall clock ------------------------------------------------------------------


def test_live_rows_far_ahead_of_the_wall_clock_are_rejected_however_they_come() -> None:
    now = T0 + 3600.0
    pipeline = Pipeline(("MES",), EngineConfig(), NullRecorder(), wall_clock=lambda: now)
    bad = bar(10, received=Y2030)
    with capture_logs() as logs:
        assert pipeline.ingest(event(bad)) == ()  # warm-up: its own ts
        assert pipeline.ingest(event(bad, arrival=now)) == ()  # Realtime
        assert pipeline.ingest(event(bad, backfilled=True)) == ()  # backfill
    assert pipeline.counts["rejected.future_timestamp"] == 3
    assert pipeline.counts["accepted"] == 0
    assert [(e["event"], e["reason"]) for e in logs] == [("row_rejected", "future_timestamp")] * 3
    assert pipeline.engines["MES"].now == -math.inf  # the clock never moved


def test_the_future_tolerance_is_inclusive() -> None:
    now = T0 + 3600.0
    pipeline = Pipeline(
        ("MES",), EngineConfig(), NullRecorder(), wall_clock=lambda: now, future_tolerance_s=120
    )
    pipeline.ingest(event(bar(0, received=now + 120.0)))
    pipeline.ingest(event(bar(1, received=now + 120.5)))
    assert pipeline.counts["accepted"] == 1
    assert pipeline.counts["rejected.future_timestamp"] == 1


def test_live_a_2030_row_costs_only_itself() -> None:
    rows = minutes(0, 120)
    reference, _ = run(rows, clock=math.inf)
    traced, pipeline = run([*rows[:50], bar(50, received=Y2030), *rows[50:]], clock=T0 + 9000.0)
    assert traced.events == reference.events
    assert pipeline.counts["rejected.future_timestamp"] == 1
    assert pipeline.counts["late"] == 0


# -- replay: rows against each other -------------------------------------------------------


def test_replay_a_2030_row_costs_only_itself() -> None:
    rows = minutes(0, 120)
    reference, _ = run(rows, clock=math.inf)
    with capture_logs() as logs:
        traced, pipeline = run([*rows[:50], bar(50, received=Y2030), *rows[50:]])
    assert traced.events == reference.events
    assert pipeline.counts["rejected.time_jump"] == 1
    assert pipeline.counts["late"] == 0
    assert [e["reason"] for e in logs if e["event"] == "row_rejected"] == ["time_jump"]


def test_replay_a_bar_time_in_2030_costs_only_itself() -> None:
    rows = minutes(0, 60)
    y2030_minute = Bar1m("MES", int(Y2030) // 60 * 60, 1.0, 1.0, 1.0, 1.0, 1.0, False, None)
    reference, _ = run(rows, clock=math.inf)
    traced, pipeline = run([*rows[:20], y2030_minute, *rows[20:]])
    assert traced.events == reference.events
    assert pipeline.counts["rejected.time_jump"] == 1


def test_replay_a_ten_day_outage_rejects_nothing_and_changes_nothing() -> None:
    outage = 10 * 1440
    rows = minutes(0, 100) + minutes(100 + outage, 200 + outage)
    reference, _ = run(rows, clock=math.inf)
    traced, pipeline = run(rows)
    assert traced.events == reference.events
    assert not [key for key in pipeline.counts if key.startswith("rejected")]


def test_symbols_are_upper_cased_at_the_pipeline() -> None:
    pipeline = Pipeline(("mes", "Mnq", "MES"), EngineConfig(), NullRecorder())
    assert list(pipeline.engines) == ["MES", "MNQ"]
    assert pipeline.symbols == {"MES", "MNQ"}


@st.composite
def streams(draw: st.DrawFn) -> list[Bar1m]:
    """Minutes in time order with gaps of every size (a minute to weeks), ending on a
    minute right after the one before (so that the end of input confirms the last gap)."""
    i, out = 0, []
    for _ in range(draw(st.integers(1, 80))):
        i += draw(st.one_of(st.integers(1, 4), st.integers(5, 30), st.integers(30, 30_000)))
        out.append(bar(i, received=T0 + 60 * i + 60 + draw(st.integers(0, 50))))
    out.append(bar(i + 1))
    return out


@settings(max_examples=150, deadline=None)
@given(streams())
def test_holding_is_invisible_when_the_next_row_confirms(rows: list[Bar1m]) -> None:
    """Listeners and decisions interleave exactly as for an unheld stream."""
    reference, _ = run(rows, clock=math.inf)
    traced, pipeline = run(rows)
    assert traced.events == reference.events
    assert not [key for key in pipeline.counts if key.startswith("rejected")]


@settings(max_examples=150, deadline=None)
@given(streams(), st.data())
def test_one_far_row_anywhere_costs_only_itself(rows: list[Bar1m], data: st.DataObject) -> None:
    where = data.draw(st.integers(0, len(rows)))
    far = float(data.draw(st.integers(int(Y2030), int(Y2030) + 10**8)))
    reference, _ = run(rows, clock=math.inf)
    traced, pipeline = run([*rows[:where], bar(0, received=far), *rows[where:]])
    assert traced.events == reference.events
    assert pipeline.counts["rejected.time_jump"] == 1
