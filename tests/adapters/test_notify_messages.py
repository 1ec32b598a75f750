"""Logged events put in words: each default event's note carries its facts; the first
`account_gate_block` of an account's trading day only; signals only when asked for;
the day's tally per account rolls into `daily_summary` fields after 17:00 CT."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.notify.messages import DEFAULT_EVENTS, SIGNAL, Notes

CT = ZoneInfo("America/Chicago")
MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=CT).timestamp()  # a Monday, in session
ENTRY = {"account": "main", "symbol": "MES", "contract": "CON.F.US.MES.Z26", "side": "buy",
         "size": 1, "tag": "RT-main-MES-1", "at": "2026-12-07T16:00:00Z"}  # fmt: skip


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def plan(action: str, reason: str, account: str = "main", **extra: Any) -> dict[str, Any]:
    return {"event": "action_plan", "account": account, "symbol": "MES", "action": action,
            "reason_code": reason, "at": "2026-12-07T16:00:00Z", **extra}  # fmt: skip


@pytest.mark.parametrize(
    ("event", "title", "facts"),
    [
        ({"event": "order_placed", **ENTRY, "order_id": 42}, "Order placed: buy 1 MES on main",
         ["order_id: 42", "tag: RT-main-MES-1", "contract: CON.F.US.MES.Z26"]),
        ({"event": "order_failed", **ENTRY, "reason": "rejected", "sent": True,
          "error_message": "insufficient margin"}, "ORDER FAILED: buy 1 MES on main",
         ["reason: rejected", "error_message: insufficient margin"]),
        ({"event": "order_ambiguous", **ENTRY, "reason": "timeout"},
         "Order outcome unknown: buy 1 MES on main", ["reason: timeout", "tag: RT-main-MES-1"]),
        ({"event": "order_unresolved_at_start", **ENTRY, "created": "2026-12-07T15:59:58Z"},
         "Unresolved order from an earlier run: buy 1 MES on main", ["created: "]),
        ({"event": "trade_result", "account": "main", "symbol": "MES", "side": "buy", "size": 1,
          "entry_price": 6000.25, "exit_price": 6010.25, "fees": 0.74, "total_pnl": 49.26,
          "tag": "RT-1"}, "Trade closed: buy 1 MES on main: +49.26 USD net",
         ["entry_price: 6000.25", "exit_price: 6010.25", "fees: 0.74"]),
        ({"event": "paper_exit", "account": "sample", "symbol": "MES", "side": "sell", "size": 1,
          "entry_price": 6000.0, "exit_price": 6010.0, "net": -51.24, "exit_reason": "stop"},
         "Trade closed: sell 1 MES on sample: -51.24 USD net", ["exit_reason: stop"]),
        ({"event": "worker_started", "symbols": ["MES"], "message": "running on live data"},
         "Worker started (MES)", ["running on live data"]),
        ({"event": "worker_stopped", "decisions": {"HOLD.range": 3, "BUY.aligned_uptrend": 1}},
         "Worker stopped", ["BUY 1, HOLD 3"]),
        ({"event": "worker_crashed", "error_type": "KeyError", "error": "KeyError: 'x'"},
         "WORKER CRASHED: KeyError", ["KeyError: 'x'"]),
        ({"event": "feed_stale", "source": "supabase", "reason": "last row 200 s old"},
         "Data feed STALE", ["reason: last row 200 s old"]),
        ({"event": "feed_recovered", "source": "supabase", "stale_s": 240},
         "Data feed recovered", ["stale_s: 240"]),
        ({"event": "leader", "lease": "rt", "host": "db"}, "This copy is now the active trader",
         ["lease: rt"]),
        ({"event": "leader_lost", "lease": "rt", "error": "connection lost"},
         "Trading lead LOST", ["error: connection lost"]),
        ({"event": "pause_changed", "paused": True, "by": "control"}, "Trading PAUSED",
         ["by: control"]),
        ({"event": "pause_changed", "paused": False, "by": "control"}, "Trading resumed", []),
        ({"event": "daily_summary", "account": "main", "day": "2026-12-07", "trades": 2,
          "net_pnl": 12.5, "decisions": {"BUY": 2, "HOLD": 40}},
         "Day 2026-12-07 on main: +12.50 USD net", ["decisions: BUY 2, HOLD 40", "trades: 2"]),
    ],
)  # fmt: skip
def test_each_default_event_becomes_a_note_with_its_facts(
    event: dict[str, Any], title: str, facts: list[str]
) -> None:
    note = Notes(clock=Clock(MORNING))(event)
    assert note is not None
    assert note.title.startswith(title)
    for fact in facts:
        assert fact in note.body


def test_other_events_and_other_decisions_are_not_notes() -> None:
    notes = Notes(clock=Clock(MORNING))
    assert notes({"event": "market_state", "symbol": "MES"}) is None
    assert notes(plan("HOLD", "range")) is None
    assert notes(plan("BUY", "aligned_uptrend")) is None  # signals only when asked for


def test_notify_events_narrows() -> None:
    notes = Notes(frozenset({"order_failed"}), clock=Clock(MORNING))
    assert notes({"event": "order_placed", **ENTRY, "order_id": 1}) is None
    assert notes({"event": "order_failed", **ENTRY, "reason": "x", "sent": False}) is not None


def test_signals_when_asked_for() -> None:
    notes = Notes(frozenset({*DEFAULT_EVENTS, SIGNAL}), clock=Clock(MORNING))
    note = notes(plan("SELL", "aligned_downtrend"))
    assert note is not None and note.event == SIGNAL
    assert note.title == "Signal SELL MES on main (dry run, not sent)"


def test_the_first_gate_block_of_each_account_and_trading_day_only() -> None:
    clock = Clock(MORNING)
    notes = Notes(clock=clock)
    block = plan("HOLD", "account_gate_block", details={"gate": "daily_loss_limit"})
    first = notes(block)
    assert first is not None and first.title == "Account main blocked: daily_loss_limit"
    assert notes(block) is None
    assert notes(plan("HOLD", "account_gate_block", "other", details={"gate": "x"})) is not None
    clock.now += 86_400  # the next trading day
    assert notes(block) is not None


def test_the_day_rolls_into_a_summary_per_account_after_17_ct() -> None:
    clock = Clock(MORNING)
    notes = Notes(clock=clock)
    for action in ("BUY", "HOLD", "HOLD"):
        notes(plan(action, "x"))
    notes(plan("SELL", "x", "other"))
    notes({"event": "trade_result", "account": "main", "total_pnl": 30.0})
    notes({"event": "trade_result", "account": "main", "total_pnl": -10.26})
    clock.now = datetime(2026, 12, 7, 16, 59, tzinfo=CT).timestamp()
    assert notes.roll() == []  # the day has not ended
    clock.now = datetime(2026, 12, 7, 17, 0, 5, tzinfo=CT).timestamp()
    assert notes.roll() == [
        {"account": "main", "day": "2026-12-07", "decisions": {"BUY": 1, "HOLD": 2},
         "trades": 2, "net_pnl": 19.74},
        {"account": "other", "day": "2026-12-07", "decisions": {"SELL": 1}, "trades": 0,
         "net_pnl": 0.0},
    ]  # fmt: skip
    assert notes.roll() == []  # once
