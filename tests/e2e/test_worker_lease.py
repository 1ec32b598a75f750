"""Two workers, one trading lease (a PostgreSQL advisory lock): only the leader places
orders; the standby logs `standby` and `order_skipped` (reason "standby"). SIGKILL the
leader: the standby logs `leader` within LEASE_POLL_SECONDS + 1.5 s and places the next
order. The gateway never sees a customTag twice, nor an order from the standby while the
leader lives. Orders follow the live feed only: both workers stream the fake Supabase
(real Postgres), one BUY per inserted minute."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.e2e.livekit import (
    NO_HUB,
    ROOT,
    Inserter,
    WorkerProcess,
    far_flat_window,
    insert_now,
    minute_row,
)
from tests.e2e.test_worker_config import clean_env
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.projectx_gateway import FakeProjectX
from tests.fakes.realtime_server import FakeRealtime

POLL_S = 0.5
TAKEOVER_SLACK_S = 1.5
ACCOUNT_ID = 1001
ROW_PAUSE_S = 0.5  # one minute row (one BUY decision) every half second


class LoggedWorker(WorkerProcess):
    """WorkerProcess that also keeps raw stdout and drains stderr while it runs (a full
    stderr pipe would block the child), with an explicit cwd and a clean environment."""

    def __init__(self, env: dict[str, str], cwd: Path = ROOT) -> None:
        super().__init__({})
        self.env = clean_env(**env)
        self.cwd = cwd
        self.raw_out: list[str] = []
        self.raw_err = b""
        self.pid = 0
        self._err_reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", "run", cwd=self.cwd, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=2**22,
        )  # fmt: skip
        self.pid = self._proc.pid
        self._reader = asyncio.create_task(self._read())
        self._err_reader = asyncio.create_task(self._read_err())

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for raw in self._proc.stdout:
            line = raw.decode(errors="replace")
            self.raw_out.append(line)
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    self.events.append(json.loads(line))

    async def _read_err(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while chunk := await self._proc.stderr.read(65_536):
            self.raw_err += chunk

    async def _stderr(self) -> str:
        return self.raw_err.decode(errors="replace")[-2000:]

    async def stop(self, kill: bool = False) -> int:
        code = await super().stop(kill)
        if self._err_reader is not None:
            await asyncio.wait_for(self._err_reader, 5)
        return code

    @property
    def output(self) -> str:
        return "".join(self.raw_out) + self.raw_err.decode(errors="replace")

    @property
    def health_port(self) -> int:
        return int(self.named("health_listening")[0]["port"])

    def first_at(self, name: str, **match: Any) -> dict[str, Any] | None:
        for event in self.named(name):
            if all(event.get(k) == v for k, v in match.items()):
                return event
        return None


def stamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def auth_of(request: Any) -> str:
    return str(request.headers.get("authorization", ""))


async def test_only_the_leader_trades_and_the_standby_takes_over(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    now = int(time.time()) // 60 * 60
    insert_now(pg_dsn, [minute_row(now, i) for i in range(-600, -500)])  # history

    async def stream() -> None:  # one minute at a time, each closes a 1m bar: a BUY
        async with Inserter(pg_dsn) as ins:
            for i in range(-500, 0):
                await ins.insert([minute_row(now, i)], pause_s=ROW_PAUSE_S)

    async with FakeProjectX(username="trader", api_key="lease-key",
                            fill_market_orders=False) as gateway:  # fmt: skip
        # fill_market_orders=False: orders stay working, no position is ever booked, so
        # every BUY decision of both workers is an entry (no position_open HOLDs).
        def env(name: str) -> dict[str, str]:
            return {
                "SUPABASE_URL": fake_postgrest.url, "SUPABASE_KEY": API_KEY,
                "SUPABASE_REALTIME_URL": fake_realtime.url,
                "BROKER": "projectx", "PROJECTX_BASE_URL": gateway.url,
                "PROJECTX_USERNAME": "trader", "PROJECTX_API_KEY": "lease-key",
                "ACCOUNT_MAIN": str(ACCOUNT_ID), "TRADE_ACCOUNTS": "main",
                "TRADING_ENABLED": "true", "STATE_DIR": str(tmp_path / name),
                "LEASE_DATABASE_URL": pg_dsn, "LEASE_POLL_SECONDS": str(POLL_S),
                "HEALTH_PORT": "0", "PROJECTX_USER_HUB_URL": NO_HUB,
                "OVERRIDE_CONTRACT_ID": "CON.F.US.MES.Z25", "SESSION_CALENDAR": "always",
                "TIMEFRAMES": "1,2", "EMA_PERIOD": "5", "SLOPE_WINDOW": "3", "WARMUP_BARS": "0",
                "MAX_SIGNAL_AGE_SECONDS": "86400",  # rows of the past: their age is not tested
                **far_flat_window(),
            }  # fmt: skip

        a, b = LoggedWorker(env("a"), tmp_path), LoggedWorker(env("b"), tmp_path)
        await asyncio.gather(a.start(), b.start())
        try:
            both = (a, b)
            await a.wait_for(
                lambda: sum(bool(w.named("leader")) for w in both) == 1
                and sum(bool(w.named("standby")) for w in both) == 1,
                30, "one leader and one standby",
            )  # fmt: skip
            leader, standby = (a, b) if a.named("leader") else (b, a)
            # Both live before the first row: a row a worker reads in its warm-up is never
            # acted on there (no order_skipped), while the other would trade it.
            await a.wait_for(
                lambda: all(
                    any(e.get("state") == "READY" for e in w.named("source_state")) for w in both
                ),
                30, "both subscribed",
            )  # fmt: skip
            streamer = asyncio.create_task(stream())
            await leader.wait_for(lambda: bool(leader.named("order_placed")), 60, "a first order")

            def standby_caught_up() -> bool:
                placed = {e["tag"] for e in leader.named("order_placed")}
                skipped = {e["tag"] for e in standby.named("order_skipped")}
                return placed <= skipped

            # Kill only once the standby has passed every instant the leader ordered.
            await standby.wait_for(standby_caught_up, 30, "the standby to catch up")
            places_before_kill = len(gateway.calls("Order/place"))
            killed_at_wall, killed_at = time.time(), time.monotonic()
            assert await leader.stop(kill=True) == -9
            await standby.wait_for(lambda: bool(standby.named("leader")), 10, "takeover")
            seen_after = time.monotonic() - killed_at
            takeover = stamp(standby.named("leader")[0]) - killed_at_wall
            await standby.wait_for(
                lambda: bool(standby.named("order_placed")), 30, "an order from the new leader"
            )  # fmt: skip
        finally:
            if "streamer" in locals():
                streamer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await streamer
            for worker in (a, b):
                if worker._proc is not None and worker._proc.returncode is None:
                    await worker.stop()
        places = gateway.calls("Order/place")
        tags = [r.body.get("customTag") for r in places]
        book_tags = [o["customTag"] for o in gateway.orders(ACCOUNT_ID)]

    print(f"takeover: leader logged {takeover:.3f} s after SIGKILL "
          f"(observed by the test after {seen_after:.3f} s)")  # fmt: skip
    # Roles: the standby said so and skipped its entries; it placed nothing while led.
    skipped = standby.named("order_skipped")
    assert skipped and all(e["reason"] == "standby" for e in skipped)
    became_leader = standby.events.index(standby.named("leader")[0])
    assert not [e for e in standby.events[:became_leader] if e["event"] == "order_placed"]
    assert not leader.named("standby") and not leader.named("order_skipped")
    # Takeover bound, from the kill.
    assert takeover <= POLL_S + TAKEOVER_SLACK_S, takeover
    # The gateway: every request before the kill came from the leader (its own token),
    # each tag once, and the new leader's order is a new decision.
    leader_tags = {e["tag"] for e in leader.named("order_placed")}
    new_tags = [e["tag"] for e in standby.named("order_placed")]
    before, after = places[:places_before_kill], places[places_before_kill:]
    assert before and {r.body["customTag"] for r in before} <= leader_tags
    assert len({auth_of(r) for r in before}) == 1
    assert after and not {auth_of(r) for r in after} & {auth_of(r) for r in before}
    assert new_tags and not set(new_tags) & leader_tags
    assert len(tags) == len(set(tags)), tags
    assert len(book_tags) == len(set(book_tags)), book_tags
    assert set(book_tags) == leader_tags | set(new_tags)
    first_new = standby.named("order_placed")[0]
    last_old = max(leader.named("order_placed"), key=lambda e: e["at"])
    assert first_new["at"] > last_old["at"]
