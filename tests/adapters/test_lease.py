"""One active trader: `AdvisoryLease` on a real PostgreSQL, and `LeaderGate` in front of
an executor. Takeover times are measured against the bound `poll_s` + 1 s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from structlog.testing import capture_logs

from adapters.leader_gate import LeaderGate
from adapters.lease import AdvisoryLease, StaticLease, lease_key
from engine.execution import PlaceEntry
from engine.model import MarketState, Side
from tests.fakes.wait import eventually

POLL_S = 0.5
BOUND_S = POLL_S + 1.0
SECRET = "hunter2-lease-secret"
AT = 1_750_086_000
ENTRY = PlaceEntry("main", "MES", "CON.F.US.MES.U25", Side.SELL, 1, "rt-main-MES-t", AT)
STATE = MarketState("MES", AT, (), ())


class RecordingExecutor:
    def __init__(self) -> None:
        self.entries: list[PlaceEntry] = []

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        self.entries.append(entry)


class Running:
    """A lease's run task and its stop event."""

    def __init__(self, lease: AdvisoryLease) -> None:
        self.lease = lease
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(lease.run(self.stop))


@asynccontextmanager
async def running(*leases: AdvisoryLease) -> AsyncIterator[list[Running]]:
    runs = [Running(lease) for lease in leases]
    try:
        yield runs
    finally:
        for run in runs:
            run.stop.set()
        async with asyncio.timeout(5):
            await asyncio.gather(*(run.task for run in runs), return_exceptions=True)


@asynccontextmanager
async def no_overlap(*leases: AdvisoryLease) -> AsyncIterator[None]:
    """Fails if two of `leases` are ever leaders at once while the block runs."""
    overlaps: list[float] = []

    async def watch() -> None:
        while True:
            if sum(lease.is_leader for lease in leases) > 1:
                overlaps.append(time.monotonic())
            await asyncio.sleep(0.002)

    watcher = asyncio.create_task(watch())
    try:
        yield
    finally:
        watcher.cancel()
    assert overlaps == [], "two leaders at once"


async def seconds_until(condition: Callable[[], bool], within: float = BOUND_S) -> float:
    start = time.monotonic()
    await eventually(condition, timeout=within, interval=0.005)
    return time.monotonic() - start


async def terminate(dsn: str, pid: int | None) -> None:
    """Kill a session from a third connection; returns once the backend has exited."""
    assert pid is not None
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as admin:
        killed = await admin.execute("select pg_terminate_backend(%s, 5000)", (pid,))
        row = await killed.fetchone()
    assert row == (True,)


def lease(dsn: str, name: str = "trader", poll_s: float = POLL_S) -> AdvisoryLease:
    return AdvisoryLease(make_conninfo(dsn, password=SECRET), name, poll_s=poll_s)


def events(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line["event"] == event]


def test_lease_key_is_a_stable_signed_64_bit_value() -> None:
    assert lease_key("trader") == 2175425542945653798  # pinned: every host must agree
    assert lease_key("reduction-trigger") == -5373822720691518341
    assert lease_key("trader") != lease_key("trader-2")


def test_malformed_dsn_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="malformed") as info:
        AdvisoryLease(f"host=db password={SECRET} junk", "trader")
    assert SECRET not in str(info.value)


async def test_one_leader_and_one_standby_that_logs_standby_once(pg_dsn: str) -> None:
    a, b = lease(pg_dsn), lease(pg_dsn)
    with capture_logs() as logs:
        async with running(a, b), no_overlap(a, b):
            await eventually(lambda: a.is_leader or b.is_leader, timeout=BOUND_S)
            await asyncio.sleep(4 * POLL_S)  # several standby polls and leader keepalives
            assert sum((a.is_leader, b.is_leader)) == 1
    assert len(events(logs, "leader")) == 1
    assert len(events(logs, "standby")) == 1
    standby = events(logs, "standby")[0]
    assert standby["lease"] == "trader" and standby["host"] == "127.0.0.1"
    assert SECRET not in repr(logs)


async def test_standby_takes_over_when_the_leader_backend_is_terminated(pg_dsn: str) -> None:
    a, b = lease(pg_dsn), lease(pg_dsn)
    async with running(a, b), no_overlap(a, b):
        await eventually(lambda: a.is_leader or b.is_leader, timeout=BOUND_S)
        leader, standby = (a, b) if a.is_leader else (b, a)
        with capture_logs() as logs:
            await terminate(pg_dsn, leader.backend_pid)
            takeover_s = await seconds_until(lambda: standby.is_leader)
        assert not leader.is_leader
        assert events(logs, "leader_lost")[0]["lease"] == "trader"
    print(f"takeover after terminate: {takeover_s:.3f} s (poll_s {POLL_S})")
    assert takeover_s <= BOUND_S


async def test_standby_takes_over_when_the_leader_task_is_cancelled(pg_dsn: str) -> None:
    a, b = lease(pg_dsn), lease(pg_dsn)
    async with running(a, b) as runs, no_overlap(a, b):
        await eventually(lambda: a.is_leader or b.is_leader, timeout=BOUND_S)
        leader_run, standby = (runs[0], b) if a.is_leader else (runs[1], a)
        leader_run.task.cancel()
        takeover_s = await seconds_until(lambda: standby.is_leader)
        assert leader_run.task.cancelled() and not leader_run.lease.is_leader
    print(f"takeover after cancel: {takeover_s:.3f} s (poll_s {POLL_S})")
    assert takeover_s <= BOUND_S


async def test_stop_releases_at_once_not_at_the_next_keepalive(pg_dsn: str) -> None:
    a, b = lease(pg_dsn, poll_s=2.0), lease(pg_dsn, poll_s=2.0)
    async with running(a, b) as runs, no_overlap(a, b):
        await eventually(lambda: a.is_leader or b.is_leader, timeout=3.0)
        leader_run, standby = (runs[0], b) if a.is_leader else (runs[1], a)
        with capture_logs() as logs:
            leader_run.stop.set()
            stop_s = await seconds_until(leader_run.task.done, within=1.0)
            takeover_s = await seconds_until(lambda: standby.is_leader, within=3.0)
        assert events(logs, "leader_released") != []
    print(f"stop: {stop_s:.3f} s, takeover after stop: {takeover_s:.3f} s (poll_s 2.0)")
    assert stop_s < 0.5


async def test_different_names_do_not_conflict(pg_dsn: str) -> None:
    a, b = lease(pg_dsn, "trader-a"), lease(pg_dsn, "trader-b")
    async with running(a, b):
        await eventually(lambda: a.is_leader and b.is_leader, timeout=BOUND_S)


async def test_a_dead_connection_steps_down_before_a_submit_can_slip_through(
    pg_dsn: str,
) -> None:
    trader = lease(pg_dsn)
    executor = RecordingExecutor()
    gate = LeaderGate(executor, trader)
    async with running(trader):
        await eventually(lambda: trader.is_leader, timeout=BOUND_S)
        await gate.submit(ENTRY, STATE)
        assert executor.entries == [ENTRY]
        async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as rival:
            await terminate(pg_dsn, trader.backend_pid)
            step_down_s = await seconds_until(lambda: not trader.is_leader)
            # The freed lock goes to a rival, so the lease must stay a standby.
            taken = await rival.execute("select pg_try_advisory_lock(%s)", (lease_key("trader"),))
            assert await taken.fetchone() == (True,)
            with capture_logs() as logs:
                await asyncio.sleep(3 * POLL_S)
                await gate.submit(ENTRY, STATE)
            assert not trader.is_leader and executor.entries == [ENTRY]
            assert events(logs, "order_skipped")[0]["reason"] == "standby"
        await eventually(lambda: trader.is_leader, timeout=BOUND_S)  # rival gone: leads again
        await gate.submit(ENTRY, STATE)
        assert executor.entries == [ENTRY, ENTRY]
    print(f"step-down after terminate: {step_down_s:.3f} s (poll_s {POLL_S})")
    assert step_down_s <= BOUND_S


async def test_unreachable_database_never_leads() -> None:
    trader = AdvisoryLease(f"postgresql://u:{SECRET}@127.0.0.1:1/db", "trader", poll_s=0.1)
    with capture_logs() as logs:
        async with running(trader) as runs:
            await eventually(lambda: events(logs, "lease_unavailable") != [], timeout=2.0)
            await asyncio.sleep(0.5)  # several reconnect attempts
            assert not trader.is_leader
            with pytest.raises(RuntimeError, match="stop event"):
                await runs[0].lease.release()
    assert len(events(logs, "lease_unavailable")) == 1  # logged per transition, not per retry
    assert SECRET not in repr(logs)


async def test_gate_forwards_only_while_leader_and_logs_the_full_intent_otherwise() -> None:
    executor = RecordingExecutor()
    flag = StaticLease(is_leader=True)
    gate = LeaderGate(executor, flag)
    await gate.submit(ENTRY, STATE)
    flag.is_leader = False
    with capture_logs() as logs:
        await gate.submit(ENTRY, STATE)
    assert executor.entries == [ENTRY] and gate.skipped == 1
    assert logs == [
        {
            "event": "order_skipped",
            "log_level": "info",
            "reason": "standby",
            "message": "standby: another instance holds the trading lease, order not sent",
            "order_type": "market",
            "account": "main",
            "symbol": "MES",
            "contract": "CON.F.US.MES.U25",
            "side": "sell",
            "side_code": 1,
            "size": 1,
            "tag": "rt-main-MES-t",
            "at": logs[0]["at"],
        }
    ]
    assert logs[0]["at"].startswith("2025-06-16T")
