"""The composition root wires the age gate and the wall clock on the live source only:
there a stale entry is skipped (in a dry run too); replay and the sample feed keep their
simulated time and act on every decision."""

from __future__ import annotations

import time

from structlog.testing import capture_logs

from adapters.supabase.source import SupabaseSource
from engine.model import Action, ActionPlan, MarketState
from engine.ports import RowReceived
from worker.app import build
from worker.settings import Settings
from worker.trader import Trader

LIVE = {"supabase_url": "http://127.0.0.1:9", "supabase_key": "k-123"}  # never contacted


class Buy:
    def decide(self, state: MarketState | None, context: object) -> ActionPlan:
        return ActionPlan(Action.BUY, "aligned_uptrend")


async def _skipped(trader: Trader, at: int) -> list[dict[str, object]]:
    """The `order_skipped` lines of one BUY decided at the close `at` (epoch s)."""
    trader.decider = Buy()
    with capture_logs() as logs:
        await trader.on_state(MarketState("MES", at, (), ()))
    return [e for e in logs if e["event"] == "order_skipped"]


async def test_live_a_stale_entry_is_skipped_in_a_dry_run_and_a_fresh_one_is_not() -> None:
    app = build(Settings(broker="none", **LIVE), configure_logs=False)  # type: ignore[arg-type]
    assert isinstance(app.source, SupabaseSource)
    now = int(time.time()) // 60 * 60
    [stale] = await _skipped(app.trader, now - 600)
    assert stale["reason"] == "stale_signal"
    assert 600 <= stale["age_s"] <= 700  # type: ignore[operator]
    [fresh] = await _skipped(app.trader, now)
    assert fresh["reason"] == "signals only"  # reached the dry-run executor


def test_live_rows_far_ahead_of_the_wall_clock_are_rejected() -> None:
    app = build(Settings(broker="none", **LIVE), configure_logs=False)  # type: ignore[arg-type]
    row = {"ts": "2030-01-01T00:00:30Z", "symbol": "MES", "timeframe": "1",
           "o": "1", "h": "1", "l": "1", "c": "1", "v": "1"}  # fmt: skip
    app.pipeline.ingest(RowReceived(row))
    assert app.pipeline.counts["rejected.future_timestamp"] == 1


async def test_the_sample_feed_keeps_simulated_time() -> None:
    app = build(Settings(broker="none"), configure_logs=False)
    assert app.on_sample_feed
    [skipped] = await _skipped(app.trader, 1_750_082_700)  # a 2025 close: old, and simulated
    assert skipped["reason"] == "signals only"
    row = {"ts": "2030-01-01T00:00:30Z", "symbol": "MES", "timeframe": "1",
           "o": "1", "h": "1", "l": "1", "c": "1", "v": "1"}  # fmt: skip
    app.pipeline.ingest(RowReceived(row))
    assert "rejected.future_timestamp" not in app.pipeline.counts  # judged by its neighbours
