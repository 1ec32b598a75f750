"""A scripted trading day over the fake user hub, for both SignalR clients: account
state, and exactly the expected `trade_results` rows in Postgres — through a hub drop
with a token rotation, fills missed while disconnected reconciled from REST."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.projectx.client import ProjectXClient, ProjectXConfig
from adapters.projectx.hub.factory import adapter_factory
from adapters.projectx.hub.listener import ListenerConfig, UserHubListener
from adapters.supabase.outbox import Outbox, OutboxDelivery
from adapters.supabase.results import PostgrestWriter, ResultsConfig
from engine.calendar import trading_day_start
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.projectx_gateway import FakeProjectX
from tests.fakes.signalr_hub import FakeUserHub
from worker.accounts import AccountTracker

MAIN, ALT = 1001, 1002
ACCOUNTS = [
    {"id": MAIN, "name": "MAIN-1001", "balance": 50000.0, "canTrade": True, "isVisible": True},
    {"id": ALT, "name": "ALT-1002", "balance": 50000.0, "canTrade": True, "isVisible": True},
]


async def until(
    condition: Callable[[], bool],
    timeout: float = 15.0,  # noqa: ASYNC109 -- a polling deadline that names what it awaited
    what: str = "",
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _rows(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select account, symbol, signal, size, total_pnl, result_key from trade_results "
            "order by account"
        ).fetchall()


@pytest.mark.parametrize("client_name", ["pysignalr", "signalrcore"])
async def test_scripted_day_through_a_drop_and_token_rotation(
    client_name: str, pg_dsn: str, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    day = trading_day_start(time.time()) + 3600
    async with FakeProjectX(accounts=ACCOUNTS) as gw:  # noqa: SIM117 -- the hub needs `gw`
        async with FakeUserHub(gw.token_valid, ping_interval_s=0.2) as hub:
            client = ProjectXClient(ProjectXConfig(gw.url, "user", "key", timeout_s=2.0))
            writer = PostgrestWriter(ResultsConfig(fake_postgrest.url, API_KEY))
            delivery = OutboxDelivery(Outbox(tmp_path / "outbox.db"), writer, idle_s=0.1)
            tracker = AccountTracker(client, {"main": MAIN, "alt": ALT}, delivery)
            listener = UserHubListener(
                ListenerConfig(hub.url, (MAIN, ALT), keepalive_s=2.0, backoff_initial_s=0.1,
                               backoff_cap_s=0.5),
                adapter_factory(client_name, ping_interval_s=0.5), client.hub_token,
                tracker.on_hub_event, on_subscribed=tracker.reconcile,
            )  # fmt: skip
            delivering = asyncio.create_task(delivery.run())
            await listener.start()
            await until(lambda: listener.counts["subscribed"] == 1, what="first subscribe")

            async def fill(account: int, **kw: Any) -> None:
                """Book a fill at the gateway (REST truth) and push it over the hub."""
                gw.add_trade(account, **kw)
                await hub.emit("GatewayUserTrade", gw.trades(account)[-1])

            # main: BUY 2 in two partial fills, then a target exit of 2 (+10 points).
            await fill(MAIN, price=5000.0, pnl=None, fees=0.37, side=0, size=1, at=day + 60)
            await fill(MAIN, price=5000.0, pnl=None, fees=0.37, side=0, size=1, at=day + 61)
            # alt: SELL 1, then a voided exit, then the real stop exit (-5 points).
            await fill(ALT, price=5000.0, pnl=None, fees=0.37, side=1, size=1, at=day + 120)
            await fill(ALT, price=4990.0, pnl=50.0, fees=0.37, side=0, size=1, at=day + 180,
                       voided=True)  # fmt: skip
            await fill(ALT, price=5005.0, pnl=-25.0, fees=0.37, side=0, size=1, at=day + 240)
            await until(lambda: tracker.counts["round_trips"] == 1, what="alt round trip")

            # The hub drops and the token rotates; main's exit happens while we are away.
            gw.expire_token(renewable=True)
            await hub.drop_all()
            gw.add_trade(MAIN, price=5010.0, pnl=100.0, fees=0.74, side=1, size=2, at=day + 300)
            await until(lambda: listener.counts["subscribed"] >= 2, what="resubscribe")
            await until(lambda: tracker.counts["round_trips"] == 2, what="main via REST")
            await until(lambda: len(_rows(pg_dsn)) == 2, what="rows in Postgres")
            # Replayed events and another reconcile change nothing.
            for trade in gw.trades(MAIN):
                await hub.emit("GatewayUserTrade", trade)
            await tracker.reconcile()
            await asyncio.sleep(0.3)

            await listener.stop()
            assert await delivery.flush(5.0)
            delivering.cancel()
            await client.aclose()
            await writer.aclose()
            rotated = gw.logins + gw.validates

    rows = _rows(pg_dsn)
    assert [(r[0], r[1], r[2], float(r[3]), float(r[4])) for r in rows] == [
        ("alt", "MES", "SELL", 1.0, -25.74),  # -25 - 2 x 0.37; the voided +50 ignored
        ("main", "MES", "BUY", 2.0, 98.52),  # +100 - 0.37 - 0.37 - 0.74
    ]
    assert len({r[5] for r in rows}) == 2
    main, alt = tracker.states[MAIN], tracker.states[ALT]
    assert main.positions == {} and alt.positions == {}
    assert (round(main.net_pnl, 2), round(alt.net_pnl, 2)) == (98.52, -25.74)
    assert listener.counts["subscribed"] >= 2 and rotated >= 2  # a new token was used
    tokens = {i.token for i in hub.sessions}
    assert len(tokens) >= 2  # the reconnect used the renewed token
    subscribed = [i.target for i in hub.invocations]
    assert subscribed.count("SubscribeAccounts") >= 2
    assert not any(t.startswith(("Place", "Cancel", "Modify")) for t in subscribed)
