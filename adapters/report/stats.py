"""The report's figures from trades.jsonl and decisions.jsonl: what a trader reads first.

Money is USD after fees (each trade's `net`), summed with math.fsum and rounded to
cents as the paper broker's summary is. Days are trading days: 17:00 America/Chicago
(the market's zone) to the next 17:00; a trade counts on the day it closed.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

from engine.calendar import trading_day_start
from engine.timefmt import parse_iso


def cents(x: float) -> float:
    return round(x, 2) + 0.0


def trade_stats(trades: list[dict[str, Any]], span_s: float) -> dict[str, Any]:
    """Totals, rates and streaks of closed round trips; `span_s` is the run's length
    (first bar open to last bar close), for the time in market."""
    nets = [float(t["net"]) for t in trades]
    won = math.fsum(n for n in nets if n > 0)
    lost = -math.fsum(n for n in nets if n < 0)
    equity = peak = drawdown = 0.0
    streak = longest = 0
    for net in nets:
        equity += net
        peak = max(peak, equity)
        drawdown = max(drawdown, peak - equity)
        streak = streak + 1 if net < 0 else 0
        longest = max(longest, streak)
    held = math.fsum(float(t["duration_s"]) for t in trades)
    count = len(trades)
    return {
        "trades": count,
        "wins": sum(1 for n in nets if n > 0),
        "losses": sum(1 for n in nets if n < 0),
        "win_rate": sum(1 for n in nets if n > 0) / count if count else None,
        "gross": cents(math.fsum(float(t["gross"]) for t in trades)),
        "fees": cents(math.fsum(float(t["fees"]) for t in trades)),
        "net": cents(math.fsum(nets)),
        "profit_factor": (won / lost if lost else (math.inf if won else None)),
        "expectancy": cents(math.fsum(nets) / count) if count else None,
        "max_drawdown": cents(drawdown),
        "longest_losing_streak": longest,
        "time_in_market": held / span_s if span_s > 0 else None,
    }


def daily_net(trades: list[dict[str, Any]], market_tz: str) -> list[tuple[float, float]]:
    """(trading day start epoch s, net USD) for each day with a closed trade, in order."""
    tz = ZoneInfo(market_tz)
    days: dict[float, list[float]] = {}
    for trade in trades:
        start = trading_day_start(parse_iso(trade["exit_time"]), tz)
        days.setdefault(start, []).append(float(trade["net"]))
    return [(day, cents(math.fsum(nets))) for day, nets in sorted(days.items())]


def decision_counts(decisions: list[dict[str, Any]]) -> tuple[Counter[str], Counter[str]]:
    """Decisions by action, and by action.reason_code."""
    actions: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for d in decisions:
        actions[d["action"]] += 1
        reasons[f"{d['action']}.{d['reason_code']}"] += 1
    return actions, reasons
