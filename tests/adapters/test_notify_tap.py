"""Every default event, logged through its real events function with the notifier's
tap installed (adapters/logs.py), arrives at a loopback receiver through the real
Apprise library once, with its facts; no secret appears in any note or log line."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from adapters import events
from adapters.logs import configure_logging
from adapters.notify import Notes, Notifier, SendPolicy
from engine.execution import PlaceEntry
from engine.model import Action, ActionPlan, MarketState, Side
from engine.risk import Fill
from engine.round_trips import Leg, RoundTrip
from tests.fakes.notify_receiver import NotifyReceiver
from tests.fakes.wait import eventually

API_KEY = "px-api-key-0123456789"  # a ProjectX key the notes must never show
HOOK = "hook-token-9f8e7d6c5b"  # the receiver URL's own token
AT = int(datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Chicago")).timestamp())
ENTRY = PlaceEntry("main", "MES", "CON.F.US.MES.Z26", Side.BUY, 1, "RT-main-MES-1", AT)


def _trip() -> RoundTrip:
    def fill(i: int, at: float, price: float, pnl: float | None, side: Side) -> Fill:
        return Fill(i, "main", "CON.F.US.MES.Z26", at, price, pnl, 0.37, side, 1, False, i)

    entry, exit_ = (
        fill(1, AT + 5, 6000.25, None, Side.BUY),
        fill(2, AT + 900, 6010.25, 50.0, Side.SELL),
    )
    return RoundTrip(
        "k1", "main", 1001, "CON.F.US.MES.Z26", "MES", Side.BUY, 1,
        (Leg(entry, 1, 0.0, 0.37),), (Leg(exit_, 1, 50.0, 0.37),),
        6000.25, 6010.25, 50.0, 0.74, 49.26, "RT-main-MES-1", None,
    )  # fmt: skip


def _log_every_default_event() -> None:
    state = MarketState("MES", AT, (), ())
    events.worker_started(symbols=["MES"], flat_window="15:07-17:00",
                          mode={"message": "running on live data; TRADING ENABLED"})  # fmt: skip
    events.order_unresolved_at_start(ENTRY, created=AT - 60)
    events.order_placed(ENTRY, order_id=4242)
    events.order_ambiguous(ENTRY, reason="timeout")
    events.order_failed(account="main", symbol="MES", at=AT, reason="rejected", sent=True,
                        entry=ENTRY, error_code=2, error_message=f"bad key {API_KEY}")  # fmt: skip
    gate = ActionPlan(Action.HOLD, "account_gate_block", {"gate": "daily_loss_limit"})
    events.action_plan("main", state, gate)
    events.action_plan("main", state, gate)  # the second block of the day: no note
    events.trade_result(_trip())
    events.feed_stale(source="supabase", reason="last row 200 s old inside the session")
    events.feed_recovered(source="supabase", stale_s=240.0)
    events.leader(lease="rt", key=7, pid=99, endpoint={"host": "db.local"})
    events.leader_lost(lease="rt", error="connection lost", endpoint={"host": "db.local"})
    events.pause_changed(paused=True, by="control", since=AT)
    events.daily_summary(account="main", day="2026-12-07", decisions={"BUY": 1, "HOLD": 3},
                         trades=1, net_pnl=49.26)  # fmt: skip
    events.worker_stopped(counts={}, decisions={"BUY.aligned_uptrend": 1}, source={})
    try:
        raise KeyError(f"token={API_KEY}")
    except KeyError as exc:
        events.worker_crashed(exc, error=f"KeyError: token={API_KEY}")


async def test_each_default_event_arrives_once_with_its_facts_and_no_secret() -> None:
    out = io.StringIO()
    with NotifyReceiver() as receiver:
        url = receiver.url(HOOK)
        secrets = [API_KEY, url]
        notifier = Notifier.build([url], Notes(), SendPolicy(timeout_s=2.0), secrets)
        configure_logging("INFO", "json", secrets, stream=out, event_counts=Counter(),
                          taps=[notifier.tap])  # fmt: skip
        try:
            notifier.start()
            _log_every_default_event()
            await eventually(lambda: len(receiver.notes) >= 15, timeout=10)
            notifier.close(2.0)
        finally:
            structlog.reset_defaults()
    titles = receiver.titles()
    expected = [
        "Worker started (MES)",
        "Unresolved order from an earlier run: buy 1 MES on main",
        "Order placed: buy 1 MES on main",
        "Order outcome unknown: buy 1 MES on main",
        "ORDER FAILED: buy 1 MES on main",
        "Account main blocked: daily_loss_limit",
        "Trade closed: buy 1 MES on main: +49.26 USD net",
        "Data feed STALE",
        "Data feed recovered",
        "This copy is now the active trader",
        "Trading lead LOST",
        "Trading PAUSED",
        "Day 2026-12-07 on main: +49.26 USD net",
        "Worker stopped",
        "WORKER CRASHED: KeyError",
    ]
    assert len(titles) == len(expected)  # each once, the second gate block not at all
    for title, start in zip(titles, expected, strict=True):
        assert title.startswith(start), (title, start)
    bodies = {n["title"].split(":")[0]: n["message"] for n in receiver.notes}
    assert "order_id: 4242" in bodies["Order placed"]
    assert "tag: RT-main-MES-1" in bodies["Order placed"]
    assert "entry_price: 6000.25" in bodies["Trade closed"]
    assert "why: daily_loss_limit" in bodies["Account main blocked"]
    assert "trades: 1" in bodies["Day 2026-12-07 on main"]
    text = json.dumps(receiver.notes) + out.getvalue()
    assert API_KEY not in text and HOOK not in text
    assert notifier.counts == {"sent": 15}
