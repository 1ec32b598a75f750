"""The console renderer (a terminal) gives a short line a trader reads at a glance; the
JSON lines (not a terminal) keep every field at full precision."""

from __future__ import annotations

import io
import json
from typing import Any

import structlog

from adapters.console import ConsoleLine, number, slope_text
from adapters.logs import configure_logging

STAMP = "2026-01-05T14:35:07.123456Z"
SLOPES = {"5m": -9.268701571163456e-05, "15m": 0.00014054222903186466, "30m": None}
# As the worker logs them (fields in the order it passes them).
PLAN = {
    "account": "sample", "symbol": "MES", "at": "2025-06-17T16:05:00Z", "action": "SELL",
    "reason_code": "aligned_downtrend",
    "regimes": {"5m": "trend_down", "15m": "trend_up", "30m": "insufficient"},
    "slopes": SLOPES, "event": "action_plan", "level": "info", "timestamp": STAMP,
}  # fmt: skip
STATE = {
    "symbol": "MES", "at": "2025-06-17T16:15:00Z", "closed": ["5m", "15m"],
    "frames": {
        tf: {"close": close, "ema": ema, "slope": slope, "regime": "trend_down",
             "bar_open": "2025-06-17T16:00:00Z"}
        for tf, close, ema, slope in (
            ("5m", 6109.25, 6116.663347755483, -9.268701571163456e-05),
            ("15m", 6109.25, 6106.549274958627, 0.00014054222903186466),
            ("30m", 6112.0, 6088.270877021678, 0.000556851034411438),
        )
    },
    "event": "market_state", "level": "info", "timestamp": STAMP,
}  # fmt: skip


def render(event: dict[str, Any], colors: bool = False) -> str:
    return ConsoleLine(colors)(None, "info", dict(event))


def test_a_decision_is_one_line_time_symbol_action_reason_first() -> None:
    assert render(PLAN) == (
        "2025-06-17 16:05Z MES SELL aligned_downtrend  sample  "
        "5m trend_down -9.27e-05 · 15m trend_up +1.41e-04 · 30m insufficient -"
    )


def test_a_close_is_one_short_line() -> None:
    line = render(STATE)
    assert line == (
        "2025-06-17 16:15Z MES close 6109.25 (5m,15m closed)  "
        "ema 5m 6116.663 · 15m 6106.549 · 30m 6088.271"
    )
    assert len(line) < 100  # the default console renderer printed ~560 characters


def test_other_events_name_first_fields_in_logged_order_floats_short() -> None:
    event = {
        "account": "acct", "side": "sell", "price": 6073.75, "ema": 6116.663347755483,
        "fees": 0.74, "slope": -9.268701571163456e-05, "ok": True, "note": "two words",
        "nested": {"a": 0.1 + 0.2, "b": [1.0, None]},
        "event": "paper_fill", "level": "info", "timestamp": STAMP,
    }  # fmt: skip
    assert render(event) == (
        "14:35:07 paper_fill account=acct side=sell price=6073.75 ema=6116.663 fees=0.74 "
        "slope=-9.27e-05 ok=true note='two words' nested={a: 0.3, b: [1, null]}"
    )


def test_warnings_carry_a_tag_and_tracebacks_follow_the_line() -> None:
    trace = "Traceback (most recent call last):\n  ...\nRuntimeError: boom"
    event = {"error": "boom", "event": "task_crashed", "level": "error", "timestamp": STAMP,
             "exception": trace}  # fmt: skip
    assert render(event).splitlines() == [
        "14:35:07 ERROR task_crashed error=boom",
        "Traceback (most recent call last):", "  ...", "RuntimeError: boom",
    ]  # fmt: skip
    colored = render(event | {"exception": None}, colors=True)
    assert colored == "14:35:07 \x1b[31mERROR\x1b[0m task_crashed error=boom"
    assert "\x1b[31mSELL\x1b[0m" in render(PLAN, colors=True)


def test_a_rejected_row_shows_where_it_is_and_its_cells() -> None:
    event = {
        "reason": "bad_price", "detail": "h='6000.5x'",
        "row": {"line": 252, "id": "251", "ts": "1750084322.5", "symbol": "MES",
                "timeframe": "1", "o": "6000.25", "h": "6000.5x", "l": "5999", "c": "6000",
                "v": "12"},
        "event": "row_rejected", "level": "warning", "timestamp": STAMP,
    }  # fmt: skip
    assert render(event) == (
        "14:35:07 WARN row_rejected reason=bad_price detail=\"h='6000.5x'\" line=252 id=251 "
        "cells=1750084322.5,MES,1,6000.25,6000.5x,5999,6000,12"
    )


def test_long_lifecycle_lines_keep_the_few_fields_that_matter() -> None:
    stopped = {
        "counts": {"rows": 5043, "accepted": 4990, "conflict": 5, "bars.5m": 1000},
        "decisions": {"HOLD.range": 55, "SELL.aligned_downtrend": 5, "HOLD.position_open": 7},
        "source": {}, "paper": {"trades": 17, "wins": 14, "losses": 3, "gross": 1250.0,
                                "fees": 12.58, "net": 1237.42, "max_drawdown": 101.48,
                                "open_positions": 0, "pending_entries": 0},
        "event": "worker_stopped", "level": "info", "timestamp": STAMP,
    }  # fmt: skip
    assert render(stopped) == (
        "14:35:07 worker_stopped rows=5043 accepted=4990 decisions={HOLD: 62, SELL: 5} "
        "paper={trades: 17, wins: 14, losses: 3, net: 1237.42, max_drawdown: 101.48, "
        "open_positions: 0}"
    )
    huge = {"blob": "x" * 500, "more": list(range(200)), "event": "some_event",
            "level": "info", "timestamp": STAMP}  # fmt: skip
    assert len(render(huge)) <= 200 and render(huge).endswith("…")


def test_numbers_for_people() -> None:
    assert [number(x) for x in (6109.0, 6109.25, 21000.25, 1.0850512345, 0.74, 1e-7)] == [
        "6109", "6109.25", "21000.25", "1.085051", "0.74", "1e-07",
    ]  # fmt: skip
    assert [slope_text(x) for x in (0.000556851034411438, -4.5e-05, 0.0, None)] == [
        "+5.57e-04", "-4.50e-05", "+0.00e+00", "-",
    ]  # fmt: skip


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_is_the_console_on_a_terminal_and_json_elsewhere() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        configure_logging("INFO", "auto", secrets=["hunter2-secret"], stream=stream)
        structlog.get_logger().info("action_plan", **{k: PLAN[k] for k in list(PLAN)[:7]})
        structlog.get_logger().warning("login_failed", detail="key hunter2-secret refused")
    plan_line, warning = terminal.getvalue().splitlines()
    assert plan_line.startswith("2025-06-17 16:05Z MES \x1b[31mSELL\x1b[0m aligned_downtrend")
    assert "hunter2-secret" not in warning and "***" in warning
    # JSON: every field, full precision, exactly the values logged.
    record = json.loads(pipe.getvalue().splitlines()[0])
    assert record["slopes"] == SLOPES and record["regimes"] == PLAN["regimes"]
    assert set(record) == {*list(PLAN)[:7], "event", "level", "timestamp"}
    configure_logging("INFO", "console", stream=pipe)  # asked for: the console, uncolored
    structlog.get_logger().info("action_plan", **{k: PLAN[k] for k in list(PLAN)[:7]})
    assert pipe.getvalue().splitlines()[-1].startswith("2025-06-17 16:05Z MES SELL ")


def test_an_odd_event_still_renders() -> None:
    odd = {"regimes": {"5m": "range"}, "slopes": 5, "event": "action_plan", "timestamp": STAMP}
    assert render(odd).startswith("14:35:07 action_plan {")
    odd_close = {"closed": ["5m"], "frames": {"5m": 1}, "event": "market_state"}
    assert render(odd_close) == "? ? close ? (5m closed)  ema "
