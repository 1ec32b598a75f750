"""What a trader is told: log events turned into short notes, and the day's tally.

Notifications follow the log: every note is one logged event put in words (its fields
are the facts, already masked), so a note never says what the log does not. `Notes` is
called with each event as it is logged (the `NotifyTap` processor, adapters/logs.py)
and answers the note to send, or None. It keeps what a note needs beyond one event:
the first `account_gate_block` per account and trading day, and per account the day's
decisions by action, trades and net P&L for `daily_summary` (`roll`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from adapters.notify.sender import Note
from engine.calendar import trading_day_start
from engine.timefmt import iso

# The default events; NOTIFY_EVENTS narrows them. `signal` (a BUY/SELL in a dry run) is
# sent only with NOTIFY_DRY_RUN_SIGNALS=true.
DEFAULT_EVENTS: Final = (
    "order_placed",
    "order_failed",
    "order_ambiguous",
    "order_unresolved_at_start",
    "account_gate_block",
    "trade_result",
    "worker_started",
    "worker_stopped",
    "worker_crashed",
    "feed_stale",
    "feed_recovered",
    "leader",
    "leader_lost",
    "pause_changed",
    "daily_summary",
)
SIGNAL: Final = "signal"
KNOWN_EVENTS: Final = frozenset((*DEFAULT_EVENTS, SIGNAL))

Fields = Mapping[str, Any]


def _entry(f: Fields) -> str:
    """`buy 1 MES on main`, with what is known of an entry."""
    what = " ".join(str(f[k]) for k in ("side", "size") if f.get(k) is not None)
    return f"{what} {f.get('symbol', '?')} on {f.get('account', '?')}".strip()


def _facts(f: Fields, *keys: str) -> str:
    return "\n".join(f"{key}: {f[key]}" for key in keys if f.get(key) not in (None, ""))


def _usd(value: object) -> str:
    return f"{float(value):+,.2f} USD" if isinstance(value, int | float) else "? USD"


def order_placed(f: Fields) -> Note:
    body = _facts(f, "account", "symbol", "contract", "side", "size", "order_id", "tag", "at")
    if f.get("resolved"):
        body += f"\nresolved: {f['resolved']}"
    return Note("order_placed", f"Order placed: {_entry(f)}", body)


def order_failed(f: Fields) -> Note:
    body = _facts(f, "account", "symbol", "side", "size", "tag", "at", "reason", "sent")
    body += "\n" + _facts(f, "error", "error_code", "error_message")
    return Note("order_failed", f"ORDER FAILED: {_entry(f)}", body.strip())


def order_ambiguous(f: Fields) -> Note:
    body = _facts(f, "account", "symbol", "side", "size", "tag", "at", "reason")
    return Note("order_ambiguous", f"Order outcome unknown: {_entry(f)}, looking it up", body)


def order_unresolved_at_start(f: Fields) -> Note:
    body = _facts(f, "account", "symbol", "side", "size", "tag", "at", "created")
    title = f"Unresolved order from an earlier run: {_entry(f)}, resolving it by its tag"
    return Note("order_unresolved_at_start", title, body)


def trade_result(f: Fields) -> Note:
    net = f.get("total_pnl", f.get("net"))
    body = _facts(f, "account", "symbol", "side", "size", "entry_price", "exit_price")
    body += "\n" + _facts(f, "fees", "exit_reason", "tag", "entry_time", "exit_time")
    return Note("trade_result", f"Trade closed: {_entry(f)}: {_usd(net)} net", body.strip())


def worker_started(f: Fields) -> Note:
    symbols = ", ".join(f.get("symbols", []))
    return Note("worker_started", f"Worker started ({symbols})", str(f.get("message", "")))


def worker_stopped(f: Fields) -> Note:
    decisions: Mapping[str, int] = f.get("decisions") or {}
    counted = Counter({key.split(".")[0]: 0 for key in decisions})
    for key, n in decisions.items():
        counted[key.split(".")[0]] += n
    shown = ", ".join(f"{action} {n}" for action, n in sorted(counted.items())) or "none"
    return Note("worker_stopped", "Worker stopped", f"decisions this run: {shown}")


def worker_crashed(f: Fields) -> Note:
    title = f"WORKER CRASHED: {f.get('error_type', 'error')}"
    return Note("worker_crashed", title, str(f.get("error", "")))


def feed_stale(f: Fields) -> Note:
    return Note("feed_stale", "Data feed STALE: no decisions", _facts(f, "reason", "source"))


def feed_recovered(f: Fields) -> Note:
    return Note("feed_recovered", "Data feed recovered", _facts(f, "stale_s", "source"))


def leader(f: Fields) -> Note:
    body = _facts(f, "lease", "host")
    return Note("leader", "This copy is now the active trader (took the lease)", body)


def leader_lost(f: Fields) -> Note:
    body = _facts(f, "lease", "error", "host")
    return Note("leader_lost", "Trading lead LOST: this copy sends no orders", body)


def pause_changed(f: Fields) -> Note:
    state = "PAUSED: BUY/SELL become HOLD" if f.get("paused") else "resumed"
    return Note("pause_changed", f"Trading {state}", _facts(f, "by", "since"))


def daily_summary(f: Fields) -> Note:
    decisions: Mapping[str, int] = f.get("decisions") or {}
    shown = ", ".join(f"{a} {n}" for a, n in sorted(decisions.items())) or "none"
    title = f"Day {f.get('day')} on {f.get('account')}: {_usd(f.get('net_pnl'))} net"
    body = f"decisions: {shown}\ntrades: {f.get('trades', 0)}\nnet after fees: "
    return Note("daily_summary", title, body + _usd(f.get("net_pnl")))


_PLAIN: Final[dict[str, Callable[[Fields], Note]]] = {
    "order_placed": order_placed,
    "order_failed": order_failed,
    "order_ambiguous": order_ambiguous,
    "order_unresolved_at_start": order_unresolved_at_start,
    "trade_result": trade_result,
    "paper_exit": trade_result,  # the paper broker's closed trade
    "worker_started": worker_started,
    "worker_stopped": worker_stopped,
    "worker_crashed": worker_crashed,
    "feed_stale": feed_stale,
    "feed_recovered": feed_recovered,
    "leader": leader,
    "leader_lost": leader_lost,
    "pause_changed": pause_changed,
    "daily_summary": daily_summary,
}


@dataclass
class _Day:
    decisions: Counter[str] = field(default_factory=Counter)
    trades: int = 0
    net_pnl: float = 0.0


class Notes:
    """Event -> note (see the module doc). Thread-safe: events are logged from any thread.
    `clock`: wall-clock epoch seconds (the trading day starts 17:00 America/Chicago)."""

    def __init__(
        self,
        wanted: frozenset[str] = frozenset(DEFAULT_EVENTS),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.wanted = wanted
        self.clock = clock
        self._lock = threading.Lock()
        self._day = trading_day_start(clock())
        self._tally: dict[str, _Day] = {}
        self._gate_noted: dict[str, float] = {}  # account -> trading day of its last block

    def __call__(self, event: Fields) -> Note | None:
        name = str(event.get("event", ""))
        with self._lock:
            self._count(name, event)
            if name == "action_plan":
                return self._plan(event)
        plain = _PLAIN.get(name)
        note = plain(event) if plain is not None else None
        return note if note is not None and note.event in self.wanted else None

    def roll(self) -> list[dict[str, Any]]:
        """After the trading day turned (17:00 CT), the finished day's tally per account
        (`daily_summary` fields), once; an empty list before."""
        today = trading_day_start(self.clock())
        with self._lock:
            if today == self._day:
                return []
            day, tally = self._day, self._tally
            self._day, self._tally = today, {}
        label = iso(day + 7 * 3600)[:10]  # the trading day is named by the date it ends on
        return [
            {
                "account": account,
                "day": label,
                "decisions": dict(sorted(t.decisions.items())),
                "trades": t.trades,
                "net_pnl": round(t.net_pnl, 2),
            }
            for account, t in sorted(tally.items())
        ]

    def _count(self, name: str, event: Fields) -> None:
        account = event.get("account")
        if not isinstance(account, str):
            return
        if name == "action_plan":
            self._tally.setdefault(account, _Day()).decisions[str(event.get("action"))] += 1
        elif name in ("trade_result", "paper_exit"):
            day = self._tally.setdefault(account, _Day())
            net = event.get("total_pnl", event.get("net"))
            day.trades += 1
            day.net_pnl += float(net) if isinstance(net, int | float) else 0.0

    def _plan(self, f: Fields) -> Note | None:
        account = str(f.get("account"))
        if f.get("reason_code") == "account_gate_block" and "account_gate_block" in self.wanted:
            day = trading_day_start(self.clock())
            if self._gate_noted.get(account) == day:
                return None
            self._gate_noted[account] = day
            why = (f.get("details") or {}).get("gate") or "unknown"
            body = f"why: {why}\nno new entry on {account} until the trading day ends (17:00 CT)"
            return Note("account_gate_block", f"Account {account} blocked: {why}", body)
        if SIGNAL in self.wanted and f.get("action") in ("BUY", "SELL"):
            title = f"Signal {f['action']} {f.get('symbol')} on {account} (dry run, not sent)"
            return Note(SIGNAL, title, _facts(f, "reason_code", "at"))
        return None
