"""Old news is not a signal, end to end: the real worker on the fake Supabase (real
Postgres) trading through the fake ProjectX gateway (TRADING_ENABLED=true). After an
outage, the closes the backfill replays are decided as replay decides them, but none is
sent: `order_skipped` reason `stale_signal` with its age; the gateway never sees them.
The first fresh close after it is sent."""

from __future__ import annotations

import time
from pathlib import Path

from engine.execution import entry_tag
from engine.timefmt import iso
from tests.e2e.livekit import (
    NO_HUB,
    Inserter,
    WorkerProcess,
    far_flat_window,
    insert_now,
    minute_row,
)
from tests.e2e.test_live_faults import _states
from tests.e2e.test_live_supabase import _env
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.projectx_gateway import FakeProjectX
from tests.fakes.realtime_server import FakeRealtime

ACCOUNT_ID = 1001
CONTRACT = "CON.F.US.MES.Z25"


async def test_backfilled_closes_are_skipped_as_stale_and_a_fresh_close_is_sent(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    now = int(time.time()) // 60 * 60
    insert_now(pg_dsn, [minute_row(now, i) for i in range(-200, -40)])
    async with FakeProjectX(username="trader", api_key="k-stale",
                            fill_market_orders=False) as gateway:  # fmt: skip
        env = _env(
            fake_realtime, fake_postgrest, tmp_path / "live",
            BROKER="projectx", PROJECTX_BASE_URL=gateway.url, PROJECTX_USERNAME="trader",
            PROJECTX_API_KEY="k-stale", ACCOUNT_MAIN=str(ACCOUNT_ID), TRADE_ACCOUNTS="main",
            TRADING_ENABLED="true", STATE_DIR=str(tmp_path / "state"), HEALTH_PORT="0",
            PROJECTX_USER_HUB_URL=NO_HUB, OVERRIDE_CONTRACT_ID=CONTRACT,
            TIMEFRAMES="1,2", EMA_PERIOD="5", SLOPE_WINDOW="3", WARMUP_BARS="0",
            **far_flat_window(),
        )  # fmt: skip
        worker = WorkerProcess(env)
        await worker.start()
        try:
            await worker.wait_for(lambda: _states(worker, "READY") == 1, 60, "subscription")
            # The outage: the connection drops and cannot come back while 35 minutes of
            # rows land in the table; the resubscribe's backfill brings them all at once.
            fake_realtime.refuse_connections(True)
            await fake_realtime.drop_all()
            insert_now(pg_dsn, [minute_row(now, i) for i in range(-40, -5)])
            fake_realtime.refuse_connections(False)
            await worker.wait_for(lambda: _states(worker, "READY") == 2, 60, "resubscribe")
            last_stale = iso(now - 5 * 60)
            await worker.wait_for(
                lambda: any(e["at"] == last_stale for e in worker.named("order_skipped")),
                30, "the backfilled closes decided",
            )  # fmt: skip
            fresh_open = int(time.time()) // 60 * 60 - 60  # the last minute that ended
            async with Inserter(pg_dsn) as ins:
                await ins.insert([minute_row(now, (fresh_open - now) // 60)])
            fresh_at = iso(fresh_open + 60)
            await worker.wait_for(
                lambda: any(e["at"] == fresh_at for e in worker.named("order_placed")),
                30, "the fresh close's order",
            )  # fmt: skip
        finally:
            assert await worker.stop() == 0
        placed = [r.body["customTag"] for r in gateway.calls("Order/place")]

    backfill = [e for e in worker.named("backfill_done") if e["why"] == "subscribed"]
    assert backfill[-1]["rows"] >= 35  # the closes below came from the backfill
    buys = [e for e in worker.named("action_plan") if e["action"] == "BUY"]
    stale = [e for e in worker.named("order_skipped") if e["reason"] == "stale_signal"]
    stale_ats = {e["at"] for e in stale}
    # Every BUY but the fresh one was stale: the backfilled closes, and a 2m bucket the
    # watermark closed later (its last minute never came) — old news too.
    assert {e["at"] for e in buys if e["at"] != fresh_at} == stale_ats
    assert len({at for at in stale_ats if at <= last_stale}) >= 30  # the backfilled 1m closes
    assert all(e["age_s"] > 120 and e["max_age_s"] == 120 for e in stale)
    assert not [e for e in worker.named("order_skipped") if e["reason"] != "stale_signal"]
    # The gateway saw exactly one order: the fresh close's; none of the stale ones.
    assert placed == [entry_tag("main", "MES", fresh_open + 60)]
    assert not {e["tag"] for e in stale} & set(placed)
