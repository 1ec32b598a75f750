"""SupabaseSource over the fake Realtime and PostgREST servers, its clock injected: it asks
the table before a tick that lets the watermark close, and it reports a symbol that
falls silent while another still sends (once, then its recovery)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters.supabase.realtime import RealtimeConfig, RealtimeFeed
from adapters.supabase.rest import HistoryClient, RestConfig
from adapters.supabase.source import SourceConfig, SupabaseSource
from engine.calendar import always_open
from engine.ports import RowReceived, SourceEvent, Tick
from engine.timefmt import parse_iso
from tests.e2e.livekit import Inserter
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.realtime_server import FakeRealtime
from tests.fakes.wait import eventually

SYMBOLS = ("MES", "MNQ")


@dataclass
class Run:
    """A source streaming in a task; its clock is `now[0]`, moved by the test."""

    source: SupabaseSource
    now: list[float]
    logs: list[dict[str, Any]]  # every log line since before the source was built
    events: list[SourceEvent] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def consume(self) -> None:
        async for event in self.source.events():
            self.events.append(event)

    def rows(self, symbol: str) -> int:
        return sum(
            1 for e in self.events if isinstance(e, RowReceived) and e.row["symbol"] == symbol
        )


@pytest.fixture
async def run(
    fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, request: pytest.FixtureRequest
) -> AsyncIterator[Run]:
    due: Callable[[float], bool] = getattr(request, "param", lambda now: False)
    now = [time.time()]
    capture = capture_logs()
    logs = capture.__enter__()
    config = SourceConfig(SYMBOLS, overlap_s=0, grace_s=10_000, stale_after_s=10_000, tick_s=0.05)
    history = HistoryClient(RestConfig(fake_postgrest.url, API_KEY))
    realtime = RealtimeConfig(fake_realtime.url, API_KEY, symbols=SYMBOLS)
    source = SupabaseSource(
        config, history, lambda queue: RealtimeFeed(realtime, queue), clock=lambda: now[0],
        session=always_open, watermark_due=lambda t: due(t),
    )  # fmt: skip
    streaming = Run(source, now, logs)
    streaming.task = asyncio.create_task(streaming.consume())
    await eventually(lambda: source.live, 20, message="subscribed")
    yield streaming
    streaming.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await streaming.task
    await history.aclose()
    capture.__exit__(None, None, None)


def row(symbol: str, at: float) -> dict[str, Any]:
    return {"ts": datetime.fromtimestamp(at, UTC).isoformat(), "symbol": symbol,
            "timeframe": "1", "o": 10, "h": 11, "l": 9, "c": 10, "v": 1}  # fmt: skip


async def test_a_symbol_silent_while_another_sends_is_reported_once_then_its_recovery(
    run: Run, pg_dsn: str
) -> None:
    logs = run.logs
    async with Inserter(pg_dsn) as ins:
        await ins.insert([row("MES", run.now[0]), row("MNQ", run.now[0])])
        await eventually(lambda: run.rows("MNQ") == 1, message="both symbols' rows")
        for minute in range(1, 13):  # MNQ falls silent; MES sends every minute
            run.now[0] += 60.0
            await ins.insert([row("MES", run.now[0])])
            await eventually(lambda m=minute: run.rows("MES") == m + 1)  # type: ignore[misc]
        await eventually(lambda: [e for e in logs if e["event"] == "symbol_silent"])
        await ins.insert([row("MNQ", run.now[0])])
        await eventually(lambda: [e for e in logs if e["event"] == "symbol_resumed"])
    silent = [e for e in logs if e["event"] == "symbol_silent"]
    assert [(e["symbol"], e["log_level"]) for e in silent] == [("MNQ", "warning")]
    assert 600 <= silent[0]["silent_s"] <= 660
    resumed = [e for e in logs if e["event"] == "symbol_resumed"]
    assert [(e["symbol"], e["silent_s"]) for e in resumed] == [("MNQ", 720)]
    assert run.source.counts["symbol_silent"] == 1


def _due_from(instant: list[float]) -> Callable[[float], bool]:
    return lambda now: now >= instant[0]


FLIP = [float("inf")]


@pytest.mark.parametrize("run", [_due_from(FLIP)], indirect=True)
async def test_the_table_is_asked_before_a_tick_that_lets_the_watermark_close(run: Run) -> None:
    def checks() -> list[dict[str, Any]]:
        return [e for e in run.logs if e["event"] == "backfill_done" and e["why"] == "gap_check"]

    await asyncio.sleep(0.3)
    assert not checks()  # not due: no check
    run.now[0] += 5.0
    FLIP[0] = run.now[0]  # from now on a tick would let the watermark close
    seen = len(run.events)
    await eventually(lambda: any(isinstance(e, Tick) for e in run.events[seen:]))
    first_tick = len(checks())
    FLIP[0] = float("inf")
    assert first_tick, "the first tick due to close came without asking the table"


FLIP_2 = [float("inf")]


@pytest.mark.parametrize(
    ("written_ago", "reconnects"),
    [pytest.param(0.0, False, id="written_just_now"), pytest.param(60.0, True, id="a_minute_ago")],
)
@pytest.mark.parametrize("run", [_due_from(FLIP_2)], indirect=True)
async def test_a_gap_check_finding_a_row_still_on_its_way_does_not_reconnect(
    run: Run, fake_realtime: FakeRealtime, pg_dsn: str, written_ago: float, reconnects: bool
) -> None:
    """The watermark's gap checks come while other symbols stream: a row committed a
    moment ago may be in the table before Realtime delivers it. It is applied (from the
    table), but only a row that had time to come live makes the subscription look dead."""
    fake_realtime.set_delay(3.0)  # Realtime lags the table by 3 s
    async with Inserter(pg_dsn) as ins:
        await ins.insert([row("MNQ", run.now[0] - written_ago)])
    run.now[0] += 1.0
    FLIP_2[0] = run.now[0]  # the next tick would let the watermark close: ask the table
    try:
        await eventually(lambda: run.rows("MNQ") >= 1, message="the row, from the table")
    finally:
        FLIP_2[0] = float("inf")
    checks = [e for e in run.logs if e["event"] == "backfill_done" and e["why"] == "gap_check"]
    assert checks and checks[0]["rows"] == 1  # found in the table before Realtime sent it
    await asyncio.sleep(0.2)
    stale = [e for e in run.logs if e["event"] == "source_state" and e["state"] == "stale"]
    assert bool(stale) is reconnects


async def test_a_2030_row_does_not_blind_the_backfill(
    run: Run, fake_realtime: FakeRealtime, pg_dsn: str
) -> None:
    """The backfill reads from the newest row seen: a row dated 2030 must not become that
    row, or every row missed during the next outage would stay missed."""
    real_now = time.time()
    run.now[0] = real_now
    async with Inserter(pg_dsn) as ins:
        await ins.insert([row("MES", real_now - 120), row("MES", 1_893_456_030.0)])
        await eventually(lambda: run.rows("MES") == 2, message="both rows, live")
        fake_realtime.refuse_connections(True)
        await fake_realtime.drop_all()
        await ins.insert([row("MES", real_now - 60), row("MES", real_now - 1)])  # the outage
        fake_realtime.refuse_connections(False)
    outage = {datetime.fromtimestamp(t, UTC).isoformat() for t in (real_now - 60, real_now - 1)}

    def received() -> set[str]:
        return {e.row["ts"] for e in run.events if isinstance(e, RowReceived)}

    await eventually(lambda: {parse_iso(t) for t in received()} >= {parse_iso(t) for t in outage},
                     20, message="the outage's rows, backfilled")  # fmt: skip
