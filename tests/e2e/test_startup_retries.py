"""What passes by itself is waited out: a gateway or Supabase that is down at start is
retried with capped, jittered backoff, forever, one `startup_retry` line per attempt
with the phase, the error and the next delay, while /healthz answers 503 with the
reason; the worker carries on when the service comes up. A warm-up cut short resumes
after the last row it read. SIGTERM at any phase ends the worker with exit 0 in < 2 s."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.livekit import NO_HUB, Inserter, insert_now
from tests.e2e.test_startup_refusals import PROJECTX
from tests.e2e.test_worker_lease import LoggedWorker
from tests.e2e.test_worker_secrets import trend_rows
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.ports import ReservedPort
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.projectx_gateway import FakeProjectX
from tests.fakes.realtime_server import FakeRealtime

FAST = {"RECONNECT_INITIAL_SECONDS": "0.1", "RECONNECT_CAP_SECONDS": "0.4", "HEALTH_PORT": "0"}
WARM = 1900  # minutes of history: > 60 closed 30m bars, so decisions are BUY, not HOLD
STOP_S = 2.0


def retries(worker: LoggedWorker, phase: str) -> list[dict[str, Any]]:
    return [e for e in worker.named("startup_retry") if e["phase"] == phase]


async def healthz(worker: LoggedWorker) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(f"http://127.0.0.1:{worker.health_port}/healthz")


def assert_backing_off(lines: list[dict[str, Any]], error: str) -> None:
    """Attempts count up, each names the error and a delay within the jittered bounds
    (RECONNECT_INITIAL_SECONDS=0.1 doubling, capped at RECONNECT_CAP_SECONDS=0.4)."""
    assert [e["attempt"] for e in lines] == list(range(1, len(lines) + 1)), lines
    for line in lines:
        full = min(0.4, 0.1 * 2 ** (line["attempt"] - 1))
        assert full / 2 <= line["delay_s"] <= full, line
        assert error in line["error"], line


async def test_an_unreachable_gateway_is_retried_until_it_comes_up(tmp_path: Path) -> None:
    with ReservedPort() as reserved:
        worker = LoggedWorker({**PROJECTX, **FAST, "PROJECTX_BASE_URL": reserved.url,
                               "STATE_DIR": str(tmp_path / "state"),
                               "WEBHOOK_SECRET": "hook-secret-1"}, cwd=tmp_path)  # fmt: skip
        await worker.start()
        try:
            await worker.wait_for(lambda: len(retries(worker, "broker_login")) >= 4, 20,
                                  "login retries")  # fmt: skip
            down = await healthz(worker)
            async with httpx.AsyncClient(timeout=5) as http:  # no decision before start
                hook = await http.post(f"http://127.0.0.1:{worker.health_port}/webhook",
                                       json={"secret": "hook-secret-1"})  # fmt: skip
            async with FakeProjectX(username="trader", api_key=PROJECTX["PROJECTX_API_KEY"],
                                    port=reserved.release()) as gateway:  # fmt: skip
                await worker.wait_for(lambda: bool(worker.named("warmup_done")), 20, "warm-up")
                await worker.wait_for(lambda: bool(worker.named("action_plan")), 20, "decisions")
                logins = gateway.logins
        finally:
            code = await worker.stop()
    assert code == 0, worker.raw_err.decode()[-2000:]
    assert down.status_code == 503, down.text
    assert down.json()["reason"].startswith("starting: broker_login: ConnectError"), down.json()
    assert hook.status_code == 200 and hook.json()["decisions"] == {}, hook.text
    assert hook.json()["skipped"].startswith("starting: broker_login"), hook.text
    assert_backing_off(retries(worker, "broker_login"), "ConnectError")
    assert logins == 1
    assert worker.raw_err == b"", worker.raw_err.decode()[-2000:]


async def test_an_unreachable_supabase_is_retried_until_it_comes_up(
    pg_dsn: str, fake_realtime: FakeRealtime, tmp_path: Path
) -> None:
    insert_now(pg_dsn, trend_rows(WARM, 30)[:WARM])
    with ReservedPort() as reserved:
        worker = LoggedWorker({**FAST, "SUPABASE_URL": reserved.url, "SUPABASE_KEY": API_KEY,
                               "SUPABASE_REALTIME_URL": fake_realtime.url, "BROKER": "none",
                               "HEALTH_HOST": "127.0.0.1"}, cwd=tmp_path)  # fmt: skip
        await worker.start()
        try:
            await worker.wait_for(lambda: len(retries(worker, "warm_up")) >= 4, 20, "retries")
            down = await healthz(worker)
            async with FakePostgrest(pg_dsn, API_KEY, port=reserved.release()):
                await worker.wait_for(
                    lambda: any(e["state"] == "READY" for e in worker.named("source_state")),
                    20, "subscription",
                )  # fmt: skip
                up = await healthz(worker)
                deadline = time.monotonic() + 10
                while up.status_code != 200 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)  # the backfill after READY, then live
                    up = await healthz(worker)
        finally:
            code = await worker.stop()
    assert code == 0, worker.raw_err.decode()[-2000:]
    assert down.status_code == 503, down.text
    assert down.json()["reason"].startswith("starting: warm_up: ConnectError"), down.json()
    assert_backing_off(retries(worker, "warm_up"), "ConnectError")
    assert worker.named("warmup_done")[0]["rows"] == WARM
    assert up.status_code == 200, up.text


async def test_a_warm_up_cut_short_resumes_after_the_last_row_it_read(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    insert_now(pg_dsn, trend_rows(WARM, 30)[:WARM])
    fake_postgrest.fail_next(3, status=503, after=2)  # two pages of 100 rows, then 503s
    worker = LoggedWorker({**FAST, "SUPABASE_URL": fake_postgrest.url, "SUPABASE_KEY": API_KEY,
                           "SUPABASE_REALTIME_URL": fake_realtime.url, "BROKER": "none",
                           "HISTORY_PAGE_SIZE": "100"}, cwd=tmp_path)  # fmt: skip
    await worker.start()
    try:
        await worker.wait_for(lambda: bool(worker.named("warmup_done")), 30, "warm-up")
    finally:
        code = await worker.stop()
    assert code == 0, worker.raw_err.decode()[-2000:]
    assert_backing_off(retries(worker, "warm_up"), "HTTP 503")
    assert len(retries(worker, "warm_up")) == 3
    # The read after the failures resumes after the 200th row, not from the start.
    reads = [r for r in fake_postgrest.requests if r.method == "GET"]
    second_page_last = reads[1]
    resumed = reads[5]
    assert resumed.param("id") and resumed.param("ts")[0].startswith("eq."), resumed
    assert second_page_last.param("ts")[0].startswith("eq."), second_page_last
    # Each row went through the engine once: a warm-up read again from the start would
    # have ingested the first 200 rows twice.
    assert worker.named("warmup_done")[0]["rows"] == WARM
    assert worker.named("worker_stopped")[0]["counts"]["accepted"] == WARM


async def _stop_within(
    worker: LoggedWorker, sig: signal.Signals = signal.SIGTERM, seconds: float = STOP_S
) -> float:
    assert worker._proc is not None
    signalled, wall = time.monotonic(), time.time()
    worker._proc.send_signal(sig)
    code = await asyncio.wait_for(worker._proc.wait(), 10)
    took = time.monotonic() - signalled
    await worker.stop()  # collects the output
    assert code == 0, worker.raw_err.decode()[-2000:]
    stamps = {e["event"]: e["timestamp"][17:26] for e in worker.events}
    print(
        f"exit {took:.2f} s after SIGTERM at {wall % 60:.6f}; {stamps.get('worker_stopping')}"
        f" -> {stamps.get('worker_stopped')}"
    )
    assert took < seconds, f"exit {took:.2f} s after SIGTERM"
    assert worker.events[-1]["event"] == "worker_stopped", worker.tail()
    assert worker.raw_err == b"", worker.raw_err.decode()[-2000:]
    return took


@pytest.mark.parametrize(
    ("phase", "sig"),
    [
        ("backoff_sleep", signal.SIGTERM),
        ("backoff_sleep", signal.SIGINT),
        ("login", signal.SIGTERM),
    ],
)
async def test_a_stop_signal_while_the_gateway_is_awaited_exits_0_within_2_s(
    phase: str, sig: signal.Signals, tmp_path: Path
) -> None:
    slow = {"RECONNECT_INITIAL_SECONDS": "30", "RECONNECT_CAP_SECONDS": "30"}
    async with FakeProjectX(username="trader", api_key=PROJECTX["PROJECTX_API_KEY"]) as gateway:
        with ReservedPort() as reserved:
            if phase == "login":
                gateway.delay("Auth/loginKey", 30.0)  # a login that hangs
            url = reserved.url if phase == "backoff_sleep" else gateway.url
            worker = LoggedWorker({**PROJECTX, **slow, "PROJECTX_BASE_URL": url,
                                   "STATE_DIR": str(tmp_path / "state")}, cwd=tmp_path)  # fmt: skip
            await worker.start()
            if phase == "login":
                await worker.wait_for(lambda: gateway.logins == 1, 20, "the login request")
            else:
                await worker.wait_for(lambda: bool(retries(worker, "broker_login")), 20, "retry")
            await _stop_within(worker, sig)
    stopping = worker.named("worker_stopping")
    assert [e["phase"] for e in stopping] == ["broker_login"], stopping


async def test_sigterm_during_the_warm_up_exits_0_within_2_s(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    insert_now(pg_dsn, trend_rows(WARM, 30)[:WARM])
    fake_postgrest.delay(0.5)  # 19 pages of 100 rows: a warm-up of ~10 s
    worker = LoggedWorker({**FAST, "SUPABASE_URL": fake_postgrest.url, "SUPABASE_KEY": API_KEY,
                           "SUPABASE_REALTIME_URL": fake_realtime.url, "BROKER": "none",
                           "HISTORY_PAGE_SIZE": "100"}, cwd=tmp_path)  # fmt: skip
    await worker.start()
    await worker.wait_for(lambda: len(fake_postgrest.requests) >= 3, 20, "the warm-up reads")
    await _stop_within(worker)
    assert [e["phase"] for e in worker.named("worker_stopping")] == ["warm_up"]
    assert not worker.named("warmup_done")


async def test_sigterm_while_streaming_with_everything_in_flight_exits_0_within_2_s(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    """The whole stack at once: an order call the gateway holds, decision rows the outbox
    cannot deliver (PostgREST holds every request), the user hub reconnecting (refused),
    the lease held. None of it may hold the exit: the intent stays `sending` (resolved by
    its tag at the next start) and the outbox rows stay pending, both on disk."""
    rows = trend_rows(WARM + 30, 30)
    insert_now(pg_dsn, rows[:WARM])
    state = tmp_path / "state"
    async with FakeProjectX(username="trader", api_key=PROJECTX["PROJECTX_API_KEY"]) as gateway:
        worker = LoggedWorker({
            **FAST, "SUPABASE_URL": fake_postgrest.url, "SUPABASE_KEY": API_KEY,
            "SUPABASE_REALTIME_URL": fake_realtime.url, "BROKER": "projectx",
            "PROJECTX_BASE_URL": gateway.url, "PROJECTX_USERNAME": "trader",
            "PROJECTX_API_KEY": PROJECTX["PROJECTX_API_KEY"], "ACCOUNT_MAIN": "1001",
            "TRADE_ACCOUNTS": "main", "TRADING_ENABLED": "true", "RECORD_DECISIONS": "true",
            "PROJECTX_USER_HUB_URL": NO_HUB, "LEASE_DATABASE_URL": pg_dsn,
            "LEASE_POLL_SECONDS": "0.5", "STATE_DIR": str(state), "SESSION_CALENDAR": "always",
            "MAX_SIGNAL_AGE_SECONDS": "86400",  # rows of the past; their age is not tested here
        }, cwd=tmp_path)  # fmt: skip
        await worker.start()
        await worker.wait_for(
            lambda: bool(worker.named("backfill_done")) and bool(worker.named("leader")),
            30, "subscribed, caught up, leading",
        )  # fmt: skip
        gateway.delay("Order/place", 30.0, n=None)
        fake_postgrest.delay(30.0)
        async with Inserter(pg_dsn) as ins:
            await ins.insert(rows[WARM : WARM + 10])
        await worker.wait_for(lambda: gateway.place_calls >= 1, 30, "an order call")
        await _stop_within(worker)
        fake_postgrest.delay(0)
    stopping = worker.named("worker_stopping")
    assert stopping and stopping[0]["order_in_flight"] is True, stopping
    with sqlite3.connect(state / "intents.sqlite3") as db:
        assert db.execute("select count(*) from intents where state = 'sending'").fetchone()[0]
    with sqlite3.connect(state / "outbox.sqlite3") as db:
        assert db.execute("select count(*) from outbox where delivered is null").fetchone()[0]
