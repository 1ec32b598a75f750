"""Outbox + PostgrestWriter against the Postgres-backed fake PostgREST: every result
row lands in `trade_results` exactly once through refused connections, 5xx, a timeout
after the insert committed, and a worker killed (SIGKILL) with rows pending."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

import tests.fakes.postgrest as postgrest_module
from adapters.supabase.outbox import Outbox, OutboxDelivery
from adapters.supabase.results import TRADE_RESULT, PostgrestWriter, ResultsConfig, trade_result_row
from engine.account_state import AccountState, RoundTripClosed, reduce
from tests.engine.test_account_state import DAY, SCRIPT
from tests.fakes import pg
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.wait import eventually

REPO = Path(__file__).resolve().parents[2]


def day_rows() -> list[dict[str, Any]]:
    """The scripted day's round trips (5 for account 101, 1 for 202) as result rows."""
    rows = []
    for account_id, name in ((101, "main"), (202, "alt")):
        state = AccountState(account_id, name, DAY)
        for event in SCRIPT:
            state, effects = reduce(state, event)
            rows += [trade_result_row(e.trip) for e in effects if isinstance(e, RoundTripClosed)]
    return rows


ROWS = day_rows()
KEYS = sorted(r["result_key"] for r in ROWS)


def stored(dsn: str) -> list[tuple[str, int]]:
    """(result_key, rows with it) for every key in trade_results."""
    with pg.connect(dsn) as conn:
        return conn.execute(
            "select result_key, count(*) from trade_results group by result_key order by 1"
        ).fetchall()


EXACTLY_ONCE = [(k, 1) for k in KEYS]


def delivery_for(path: Path, url: str, timeout_s: float = 5.0) -> OutboxDelivery:
    writer = PostgrestWriter(ResultsConfig(url, API_KEY, timeout_s=timeout_s))
    return OutboxDelivery(Outbox(path), writer, base_s=0.01, cap_s=0.05, idle_s=0.05)


def submit_all(delivery: OutboxDelivery, rows: list[dict[str, Any]] = ROWS) -> None:
    for row in rows:
        delivery.submit(TRADE_RESULT, row["result_key"], row)


async def stop_loop(task: asyncio.Task[None], delivery: OutboxDelivery) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await delivery.writer.aclose()  # type: ignore[attr-defined]


class PinnedPostgrest(FakePostgrest):
    """The fake bound to a given port: the server the writer knows comes back up."""

    def __init__(self, dsn: str, port: int) -> None:
        super().__init__(dsn, api_key=API_KEY)
        self.pinned = port

    def start(self) -> None:
        original = postgrest_module.HttpServer
        postgrest_module.HttpServer = lambda address, respond: original(  # type: ignore[misc]
            (address[0], self.pinned), respond
        )
        try:
            super().start()
        finally:
            postgrest_module.HttpServer = original  # type: ignore[misc]


def test_the_row_has_the_existing_columns_and_the_round_trip(pg_dsn: str) -> None:
    with pg.connect(pg_dsn) as conn:
        columns = {r[0] for r in conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'public' and table_name = 'trade_results'")}  # fmt: skip
    first = ROWS[0]
    assert set(first) == columns - {"id"}
    assert {k: first[k] for k in ("strategy", "signal", "symbol", "account", "size")} == {
        "strategy": "reduction_trigger", "signal": "BUY", "symbol": "MES", "account": "main",
        "size": 2}  # fmt: skip
    assert (first["entry_time"], first["exit_time"], first["duration_sec"]) == (
        "2025-06-16T22:05:00Z", "2025-06-16T22:15:00Z", 600.0)  # fmt: skip
    assert (first["total_pnl"], first["order_id"], first["trade_ids"]) == (97.27, "1001", "1,2,3")
    assert first["ai_decision_id"] == "rt-main-MES-20250616T2205Z"
    assert first["alert"] == "BUY 2 MES closed by target"
    assert [(t["id"], t["role"], t["legSize"]) for t in first["raw_trades"]] == [
        (1, "entry", 1), (2, "entry", 1), (3, "exit", 2)]  # fmt: skip
    assert first["result_key"].startswith("101:CON.F.US.MES.Z25:1:3:")


async def test_put_is_durable_before_any_network_and_idempotent(tmp_path: Path) -> None:
    delivery = delivery_for(tmp_path / "o.sqlite", "http://127.0.0.1:9")  # never run
    with capture_logs() as logs:
        submit_all(delivery)
        submit_all(delivery)
    again = Outbox(tmp_path / "o.sqlite")  # what a restarted worker finds
    assert sorted(i.key for i in again.pending()) == KEYS
    assert again.pending()[0].row == json.loads(json.dumps(ROWS[0]))
    assert (delivery.counters.put, delivery.counters.duplicate_put) == (len(ROWS), len(ROWS))
    assert [e["new"] for e in logs if e["event"] == "outbox_put"] == [True] * 6 + [False] * 6
    await delivery.writer.aclose()  # type: ignore[attr-defined]


async def test_server_errors_are_retried_until_each_row_is_in_once(
    pg_dsn: str, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    delivery = delivery_for(tmp_path / "o.sqlite", fake_postgrest.url)
    fake_postgrest.fail_next(4, status=500)
    with capture_logs() as logs:
        submit_all(delivery)
        task = asyncio.create_task(delivery.run())
        await eventually(lambda: delivery.outbox.pending_count() == 0)
        await stop_loop(task, delivery)
    assert stored(pg_dsn) == EXACTLY_ONCE
    assert delivery.counters.retries == 4 and delivery.counters.delivered == len(ROWS)
    events = [e["event"] for e in logs]
    assert events.count("outbox_retry") == 4 and events.count("outbox_delivered") == len(ROWS)
    post = next(r for r in fake_postgrest.requests if r.method == "POST")
    assert post.path == "/rest/v1/trade_results" and post.param("on_conflict") == ["result_key"]
    assert post.headers["prefer"] == "return=minimal,resolution=ignore-duplicates"
    assert (post.headers["apikey"], post.headers["authorization"]) == (API_KEY, f"Bearer {API_KEY}")


async def test_rows_wait_out_a_refused_connection_and_go_when_the_server_is_back(
    pg_dsn: str, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    delivery = delivery_for(tmp_path / "o.sqlite", fake_postgrest.url)
    task = asyncio.create_task(delivery.run())
    submit_all(delivery, ROWS[:2])
    await eventually(lambda: delivery.outbox.pending_count() == 0)
    await asyncio.to_thread(fake_postgrest.stop)  # down: connections are refused
    submit_all(delivery, ROWS[2:])
    await eventually(lambda: delivery.counters.retries >= 5)
    assert delivery.outbox.pending_count() == len(ROWS) - 2
    async with PinnedPostgrest(pg_dsn, fake_postgrest.port):
        await eventually(lambda: delivery.outbox.pending_count() == 0)
        await stop_loop(task, delivery)
    assert stored(pg_dsn) == EXACTLY_ONCE


async def test_a_timeout_after_the_insert_committed_makes_no_second_row(
    pg_dsn: str, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    delivery = delivery_for(tmp_path / "o.sqlite", fake_postgrest.url, timeout_s=0.2)
    fake_postgrest.delay(0.6)  # the fake answers late, then inserts anyway
    submit_all(delivery, ROWS[:1])
    task = asyncio.create_task(delivery.run())
    await eventually(lambda: delivery.counters.retries >= 1)
    await eventually(lambda: len(stored(pg_dsn)) == 1)  # committed, unconfirmed
    assert delivery.outbox.pending_count() == 1
    fake_postgrest.delay(0)
    await eventually(lambda: delivery.outbox.pending_count() == 0)
    await stop_loop(task, delivery)
    assert stored(pg_dsn) == [(ROWS[0]["result_key"], 1)]
    assert sum(r.method == "POST" for r in fake_postgrest.requests) >= 2


async def test_a_refused_row_does_not_hold_up_the_others(
    pg_dsn: str, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    delivery = delivery_for(tmp_path / "o.sqlite", fake_postgrest.url)
    bad = {**ROWS[0], "result_key": "bad", "size": "two"}  # numeric column: HTTP 400
    submit_all(delivery, [bad, *ROWS])
    assert not await delivery.flush(timeout=0.5)
    assert stored(pg_dsn) == EXACTLY_ONCE
    (left,) = delivery.outbox.pending()
    assert left.key == "bad" and left.attempts >= 1
    await delivery.writer.aclose()  # type: ignore[attr-defined]


async def test_a_worker_killed_while_rows_are_pending_loses_none_and_doubles_none(
    pg_dsn: str, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    path = tmp_path / "o.sqlite"
    fake_postgrest.delay(0.3)
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WORKER, str(path), fake_postgrest.url, API_KEY,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, cwd=REPO,
    )  # fmt: skip
    assert worker.stdin is not None
    worker.stdin.write(json.dumps(ROWS).encode())
    worker.stdin.close()
    posts = lambda: sum(r.method == "POST" for r in fake_postgrest.requests)  # noqa: E731
    await eventually(lambda: posts() >= 2, timeout=10.0)  # first confirmed, second in flight
    worker.kill()  # SIGKILL: no cleanup, no flush
    await worker.wait()
    await eventually(lambda: len(stored(pg_dsn)) == 2)  # the in-flight insert committed
    fake_postgrest.delay(0)
    restarted = delivery_for(path, fake_postgrest.url)
    assert restarted.outbox.pending_count() == len(ROWS) - 1  # the second is unconfirmed
    assert await restarted.flush(timeout=5.0)
    await restarted.writer.aclose()  # type: ignore[attr-defined]
    assert stored(pg_dsn) == EXACTLY_ONCE


async def test_a_restart_after_a_cancelled_delivery_resends_and_the_key_dedupes(
    pg_dsn: str, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    path = tmp_path / "o.sqlite"
    first = delivery_for(path, fake_postgrest.url)
    fake_postgrest.delay(0.3)
    submit_all(first)
    task = asyncio.create_task(first.run())
    await eventually(lambda: any(r.method == "POST" for r in fake_postgrest.requests))
    await stop_loop(task, first)  # cancelled mid-request; the file is left as it is
    await eventually(lambda: len(stored(pg_dsn)) == 1)
    fake_postgrest.delay(0)
    second = delivery_for(path, fake_postgrest.url)
    assert second.outbox.pending_count() == len(ROWS)
    assert await second.flush(timeout=5.0)
    await second.writer.aclose()  # type: ignore[attr-defined]
    assert stored(pg_dsn) == EXACTLY_ONCE


def test_backoff_is_jittered_exponential_and_capped(tmp_path: Path) -> None:
    delivery = delivery_for(tmp_path / "o.sqlite", "http://127.0.0.1:9")
    delivery.base_s, delivery.cap_s = 1.0, 8.0
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0), (99, 8.0)]:
        waits = [delivery.backoff_s(failures) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1


_WORKER = """
import asyncio, json, sys
from pathlib import Path
from adapters.supabase.outbox import Outbox, OutboxDelivery
from adapters.supabase.results import PostgrestWriter, ResultsConfig

async def main() -> None:
    path, url, key = sys.argv[1:4]
    writer = PostgrestWriter(ResultsConfig(url, key, timeout_s=5.0))
    delivery = OutboxDelivery(Outbox(Path(path)), writer, base_s=0.01, cap_s=0.05)
    for row in json.loads(sys.stdin.read()):
        delivery.submit("trade_result", row["result_key"], row)
    await delivery.run()

asyncio.run(main())
"""
