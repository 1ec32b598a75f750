"""Notifications and the pause switch, end to end: the real worker on the fake Supabase
(real Postgres) trading through the fake ProjectX gateway (TRADING_ENABLED=true), its
notes sent by the real Apprise library to a loopback receiver. Decisions come from the
manual trigger (POST /webhook): the same path as a bar close, at once.

- Paused: a BUY becomes HOLD `paused`, no order reaches the gateway; a restart keeps
  it paused; resume restores trading; a wrong secret is 401. Each change is notified,
  and no secret appears in any note, log line or stderr.
- A receiver that hangs, answers 500 or refuses: the order goes out all the same (the
  trigger's answer comes after the order call), failures and drops are logged and
  counted on /metrics.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.livekit import Inserter, WorkerProcess, insert_now, minute_row
from tests.e2e.test_live_faults import _states
from tests.e2e.test_live_supabase import _env as live_env
from tests.fakes.notify_receiver import NotifyReceiver
from tests.fakes.ports import ReservedPort
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.projectx_gateway import FakeProjectX
from tests.fakes.realtime_server import FakeRealtime
from tests.worker.test_lifecycle import ACCOUNT_ID, Live

SECRET = "control-secret-7c1d"
HOOK = "hook-token-4b2a91"  # the receiver URL's path: a token the notes must never show
API_KEY = "lifecycle-key"


async def _post(port: int, path: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        return await client.post(f"http://127.0.0.1:{port}{path}", json=body)


async def _get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        return await client.get(f"http://127.0.0.1:{port}{path}")


async def _started(worker: WorkerProcess) -> int:
    """The health port, once the worker streams live."""
    await worker.wait_for(lambda: _states(worker, "READY") >= 1, 60, "subscription")
    await worker.wait_for(lambda: bool(worker.named("health_listening")), 10, "health")
    port = int(worker.named("health_listening")[0]["port"])
    await worker.wait_for(lambda: bool(worker.named("warmup_done")), 10, "warm-up")
    return port


async def _trigger(port: int) -> dict[str, Any]:
    """The manual trigger's decision for `main` (retried while still starting)."""
    for _ in range(100):
        answer = (await _post(port, "/webhook", {"secret": SECRET})).json()
        if "skipped" not in answer:
            decision: dict[str, Any] = answer["decisions"]["MES"][0]
            return decision
        await asyncio.sleep(0.1)
    raise AssertionError("the worker never started")


def _env(live: Live, gateway: FakeProjectX, state: Path, url: str, **extra: str) -> dict[str, str]:
    return live.env(gateway, state) | {
        "NOTIFY_URLS": url, "WEBHOOK_SECRET": SECRET, "SESSION_CALENDAR": "always",
        "NOTIFY_TIMEOUT_SECONDS": "1", "NOTIFY_RETRIES": "1", **extra,
    }  # fmt: skip


def _no_secret(text: str) -> None:
    for secret in (SECRET, HOOK, API_KEY):
        assert secret not in text, secret


async def test_pause_holds_survives_a_restart_and_resume_trades_each_change_notified(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    live = Live(pg_dsn, fake_realtime, fake_postgrest, tmp_path / "out")
    with NotifyReceiver() as receiver:
        async with FakeProjectX(username="trader", api_key=API_KEY) as gateway:
            env = _env(live, gateway, tmp_path / "state", receiver.url(HOOK))
            first = WorkerProcess(env)
            await first.start()
            try:
                port = await _started(first)
                wrong = await _post(port, "/control", {"secret": "wrong", "action": "pause"})
                assert wrong.status_code == 401
                paused = await _post(port, "/control", {"secret": SECRET, "action": "pause"})
                assert paused.json()["paused"] is True
                assert await _trigger(port) == {"account": "main", "action": "HOLD",
                                                "reason_code": "paused"}  # fmt: skip
            finally:
                assert await first.stop() == 0
            assert gateway.place_calls == 0  # paused: the BUY never reached the gateway

            second = WorkerProcess(env)  # a restart while paused
            await second.start()
            try:
                port = await _started(second)
                health = (await _get(port, "/healthz")).json()
                assert health["paused"] is True and health["paused_by"] == "control"
                assert (await _trigger(port))["reason_code"] == "paused"
                assert gateway.place_calls == 0
                resumed = await _post(port, "/control", {"secret": SECRET, "action": "resume"})
                assert resumed.json()["paused"] is False
                assert await _trigger(port) == {"account": "main", "action": "BUY",
                                                "reason_code": "aligned_uptrend"}  # fmt: skip
                await second.wait_for(lambda: bool(second.named("order_placed")), 10, "order")
                await second.wait_for(lambda: len(receiver.named("Order placed")) == 1, 10, "note")
            finally:
                assert await second.stop() == 0
                stderr = await second._stderr()
            orders = [o for o in gateway.orders(ACCOUNT_ID) if o.get("customTag")]
    assert len(orders) == 1 and gateway.place_calls == 1
    placed = second.named("order_placed")[0]
    changes = [(e["paused"], e["by"]) for w in (first, second) for e in w.named("pause_changed")]
    assert changes == [(True, "control"), (True, "control"), (False, "control")]
    titles = receiver.titles()
    assert titles.count("Worker stopped") == 2
    assert sum(t.startswith("Worker started") for t in titles) == 2
    assert [t for t in titles if t.startswith("Trading")] == [
        "Trading PAUSED: BUY/SELL become HOLD", "Trading PAUSED: BUY/SELL become HOLD",
        "Trading resumed",
    ]  # fmt: skip
    order_note = receiver.named("Order placed")[0]
    assert order_note["title"] == "Order placed: buy 1 MES on main"
    assert f"tag: {placed['tag']}" in order_note["message"]
    assert f"order_id: {placed['order_id']}" in order_note["message"]
    assert not [e for w in (first, second) for e in w.named("notify_failed")]
    _no_secret(json.dumps(receiver.notes))
    _no_secret(json.dumps(first.events) + json.dumps(second.events) + stderr)


@pytest.mark.parametrize("mode", ["hang", "error", "refused"])
async def test_a_bad_receiver_changes_nothing_for_orders(
    mode: str,
    pg_dsn: str,
    fake_realtime: FakeRealtime,
    fake_postgrest: FakePostgrest,
    tmp_path: Path,
) -> None:
    live = Live(pg_dsn, fake_realtime, fake_postgrest, tmp_path / "out")
    with NotifyReceiver("error" if mode == "error" else "hang") as receiver, ReservedPort() as dead:
        url = f"json://127.0.0.1:{dead.port}/{HOOK}" if mode == "refused" else receiver.url(HOOK)
        async with FakeProjectX(username="trader", api_key=API_KEY) as gateway:
            env = _env(live, gateway, tmp_path / "state", url, NOTIFY_QUEUE_SIZE="1")
            worker = WorkerProcess(env)
            await worker.start()
            try:
                port = await _started(worker)
                for action in ("pause", "resume", "pause", "resume"):  # notes to fill the queue
                    await _post(port, "/control", {"secret": SECRET, "action": action})
                assert (await _trigger(port))["action"] == "BUY"
                # The trigger answers after the order call: the order went out meanwhile.
                assert gateway.place_calls == 1 and worker.named("order_placed")
                await worker.wait_for(lambda: bool(worker.named("notify_failed")), 20, "failed")
                metrics = (await _get(port, "/metrics")).text
            finally:
                assert await worker.stop() == 0
    assert 'worker_notifications_total{outcome="dropped"}' in metrics
    dropped = [line for line in metrics.splitlines()
               if line.startswith('worker_notifications_total{outcome="dropped"}')]  # fmt: skip
    assert float(dropped[0].split()[-1]) >= 1  # a queue of one, four pause changes at once
    assert worker.named("notify_dropped")
    failed = worker.named("notify_failed")
    assert all(e["target"] == "1 (JSON)" for e in failed)
    _no_secret(json.dumps(worker.events))


async def test_a_stale_feed_and_its_recovery_are_notified(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    """Inside the session (calendar `always`) no live row for STALE_AFTER_SECONDS after
    start: `feed_stale`; rows flowing again: `feed_recovered`, each notified once."""
    now = int(time.time()) // 60 * 60
    insert_now(pg_dsn, [minute_row(now, i) for i in range(-30, -1)])
    with NotifyReceiver() as receiver:
        env = live_env(
            fake_realtime, fake_postgrest, tmp_path / "out", SESSION_CALENDAR="always",
            STALE_AFTER_SECONDS="3", NOTIFY_URLS=receiver.url(HOOK), HEALTH_PORT="0",
            TIMEFRAMES="1,2", EMA_PERIOD="5", SLOPE_WINDOW="3", WARMUP_BARS="0",
        )  # fmt: skip
        worker = WorkerProcess(env)
        await worker.start()
        try:
            await worker.wait_for(lambda: bool(worker.named("feed_stale")), 30, "feed_stale")
            async with Inserter(pg_dsn) as ins:  # the same minute again and again: live rows
                deadline = time.monotonic() + 30
                while not worker.named("feed_recovered") and time.monotonic() < deadline:
                    await ins.insert([minute_row(now, -1)], pause_s=0.2)
            await worker.wait_for(lambda: bool(worker.named("feed_recovered")), 5, "recovered")
            await worker.wait_for(lambda: bool(receiver.named("Data feed recovered")), 5, "note")
        finally:
            assert await worker.stop() == 0
    stale = receiver.named("Data feed STALE")
    assert stale and "inside the session" in stale[0]["message"]
    assert len(receiver.named("Data feed recovered")) == len(worker.named("feed_recovered"))
    assert len(stale) == len(worker.named("feed_stale"))  # one note per turn, no more
    _no_secret(json.dumps(receiver.notes) + json.dumps(worker.events))
