"""SIGTERM while an order call is in flight: the worker exits 0 within 2 s either way. An
answer that comes within the drain is recorded (`order_placed`); one that comes later
leaves a durable `sending` intent, which the next start resolves by its tag — found at
the gateway, never sent twice. Orders follow the live feed only, so the worker runs on
the fake Supabase (real Postgres) and a fresh row makes the decision."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from tests.e2e.livekit import NO_HUB, Inserter, far_flat_window, insert_now, minute_row
from tests.e2e.test_live_supabase import _env as live_env
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.projectx_gateway import FakeProjectX
from tests.fakes.realtime_server import FakeRealtime

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ID = 1001


class Live:
    """The fake Supabase under the worker: history before it starts, fresh rows after."""

    def __init__(self, dsn: str, rt: FakeRealtime, rest: FakePostgrest, out: Path) -> None:
        self.dsn, self.rt, self.rest, self.out = dsn, rt, rest, out
        self.now = int(time.time()) // 60 * 60
        insert_now(dsn, [minute_row(self.now, i) for i in range(-60, -1)])

    async def fresh_close(self) -> None:
        """The row of the minute that just ended: a fresh 1m close, decided BUY."""
        last_open = int(time.time()) // 60 * 60 - 60
        async with Inserter(self.dsn) as ins:
            await ins.insert([minute_row(self.now, (last_open - self.now) // 60)])

    def env(self, gateway: FakeProjectX, state: Path) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE", "ACCOUNT_"))}
        return base | live_env(
            self.rt, self.rest, self.out, LOG_FORMAT="json",
            BROKER="projectx", PROJECTX_BASE_URL=gateway.url,
            PROJECTX_USERNAME="trader", PROJECTX_API_KEY="lifecycle-key",
            ACCOUNT_MAIN=str(ACCOUNT_ID), TRADE_ACCOUNTS="main", TRADING_ENABLED="true",
            STATE_DIR=str(state), HEALTH_PORT="0", OVERRIDE_CONTRACT_ID="CON.F.US.MES.Z25",
            PROJECTX_USER_HUB_URL=NO_HUB,  # refused: it just retries
            TIMEFRAMES="1,2", EMA_PERIOD="5", SLOPE_WINDOW="3", WARMUP_BARS="0",
            **far_flat_window(),
        )  # fmt: skip


async def _start(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _until(proc: asyncio.subprocess.Process | None, condition: Any, what: str) -> None:
    """Wait for `condition`; fail at once when `proc` (if given) has exited."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if proc is not None and proc.returncode is not None:
            assert proc.stderr is not None
            raise AssertionError((await proc.stderr.read()).decode()[-2000:])
        await asyncio.sleep(0.01)


async def _sigterm(proc: asyncio.subprocess.Process) -> tuple[float, list[dict[str, Any]]]:
    proc.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    out, err = await asyncio.wait_for(proc.communicate(), 15)
    took = time.monotonic() - signalled
    assert proc.returncode == 0, err.decode()[-2000:]
    assert err == b"", err.decode()[-2000:]
    return took, [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]


def _named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


async def _streaming(proc: asyncio.subprocess.Process, live: Live) -> None:
    """Wait until the worker is subscribed, then send it a fresh close."""
    lines: list[bytes] = []

    async def subscribed() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            lines.append(raw)
            if b'"state": "READY"' in raw:
                return

    await asyncio.wait_for(subscribed(), 60)
    await live.fresh_close()


async def test_an_order_answered_within_the_drain_is_recorded(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    live = Live(pg_dsn, fake_realtime, fake_postgrest, tmp_path / "out")
    async with FakeProjectX(username="trader", api_key="lifecycle-key") as gateway:
        gateway.delay("Order/place", 0.4, n=None)  # every placement takes 0.4 s to answer
        proc = await _start(live.env(gateway, tmp_path / "state"))
        await _streaming(proc, live)
        await _until(proc, lambda: gateway.place_calls > 0, "an order call")
        await asyncio.sleep(0.1)  # the request is at the gateway, its answer 0.3 s away
        took, events = await _sigterm(proc)
        orders = [o for o in gateway.orders(ACCOUNT_ID) if o.get("customTag")]
    assert took < 2.0, took
    assert events[-1]["event"] == "worker_stopped"
    assert _named(events, "worker_stopping")[0]["order_in_flight"] is True
    placed = _named(events, "order_placed")
    assert len(orders) == 1 == len(placed)
    assert placed[0]["tag"] == orders[0]["customTag"]


async def test_an_order_answered_too_late_is_resolved_by_its_tag_at_the_next_start(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    live = Live(pg_dsn, fake_realtime, fake_postgrest, tmp_path / "out")
    async with FakeProjectX(username="trader", api_key="lifecycle-key") as gateway:
        gateway.delay("Order/place", 2.5, n=1)  # booked 2.5 s after it arrived
        proc = await _start(live.env(gateway, tmp_path / "state"))
        await _streaming(proc, live)
        await _until(proc, lambda: gateway.place_calls > 0, "an order call")
        took, first = await _sigterm(proc)
        assert took < 2.0, took
        assert _named(first, "worker_stopping")[0]["order_in_flight"] is True
        assert not _named(first, "order_placed")
        await _until(None, lambda: bool(gateway.orders(ACCOUNT_ID)), "the order to be booked")
        tag = gateway.orders(ACCOUNT_ID)[0]["customTag"]
        places = gateway.place_calls
        again = await _start(live.env(gateway, tmp_path / "state"))
        lines: list[dict[str, Any]] = []

        async def read() -> None:
            assert again.stdout is not None
            async for raw in again.stdout:
                if raw.startswith(b"{"):
                    lines.append(json.loads(raw))

        reader = asyncio.create_task(read())
        await _until(again, lambda: bool(_named(lines, "order_placed")), "the resolution")
        again.send_signal(signal.SIGTERM)
        await asyncio.wait_for(again.wait(), 10)
        await reader
        tags = [r.body.get("customTag") for r in gateway.calls("Order/place")]
    unresolved = _named(lines, "order_unresolved_at_start")
    assert [e["tag"] for e in unresolved] == [tag]
    resolved = _named(lines, "order_placed")[0]
    assert (resolved["tag"], resolved["resolved"]) == (tag, "found_by_tag")
    assert tags.count(tag) == 1  # never sent twice
    assert places >= 1
