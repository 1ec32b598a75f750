"""The console renderer (LOG_FORMAT=console, or auto on a terminal): a short line per event
that a trader reads at a glance. The JSON lines (LOG_FORMAT=json, or not a terminal) are
the record: every field, full precision. Here, for people:

- a decision (`action_plan`): time of the decision (the bar close, UTC), symbol, action,
  reason, account, then per timeframe its regime and slope (3 significant digits);
- a close (`market_state`): time, symbol, which timeframes closed, the close, each EMA;
- any other event: wall time (UTC), a level tag when not info, the event name, its
  `message` when it has one, then its fields as logged (not sorted) — for the chattiest
  events only the few that matter (`_VIEWS`) — floats shortened (7 significant digits
  from 1 up, 3 below), long values cut, nested values compact, the line at most
  `_LINE_CHARS`; an exception's traceback on the lines after.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

_HIDDEN = frozenset({"event", "timestamp", "level", "log_level", "exception", "message"})
_VALUE_CHARS = 100  # a longer value is cut and ends with "…"
_LINE_CHARS = 200  # a longer line too (the JSON line has it all)
_TAGS = {"debug": "debug", "warning": "WARN", "error": "ERROR", "critical": "CRITICAL"}
_RESET = "\x1b[0m"
_COLORS = {
    "BUY": "\x1b[32m",
    "SELL": "\x1b[31m",
    "HOLD": "\x1b[2m",
    "WARN": "\x1b[33m",
    "ERROR": "\x1b[31m",
    "CRITICAL": "\x1b[31;1m",
    "debug": "\x1b[2m",
}


class ConsoleLine:
    """structlog renderer: event dict -> one line (plus a traceback, when there is one)."""

    def __init__(self, colors: bool = False) -> None:
        self.colors = colors

    def __call__(self, _logger: object, _name: str, event: MutableMapping[str, Any]) -> str:
        name = str(event.get("event", ""))
        try:
            if name == "action_plan":
                line = self._decision(event)
            elif name == "market_state":
                line = _close(event)
            else:
                line = self._other(name, event)
        except Exception:  # noqa: BLE001 -- an odd field must never break a log call
            line = _cut(f"{wall_time(event.get('timestamp'))} {name} {event!r}", _LINE_CHARS)
        trace = event.get("exception")
        return f"{line}\n{trace}" if trace else line

    def _paint(self, text: str, key: str) -> str:
        color = _COLORS.get(key)
        return f"{color}{text}{_RESET}" if self.colors and color else text

    def _decision(self, event: Mapping[str, Any]) -> str:
        action = str(event.get("action", "?"))
        regimes = event.get("regimes") or {}
        slopes = event.get("slopes") or {}
        frames = " · ".join(
            f"{tf} {regime} {slope_text(slopes.get(tf))}" for tf, regime in regimes.items()
        )
        head = f"{bar_time(event.get('at'))} {event.get('symbol', '?')} "
        body = f"{event.get('reason_code', '?')}  {event.get('account', '')}  {frames}"
        return head + self._paint(f"{action:<4}", action) + " " + body.rstrip()

    def _other(self, name: str, event: Mapping[str, Any]) -> str:
        level = str(event.get("level") or event.get("log_level") or "info")
        tag = _TAGS.get(level)
        parts = [wall_time(event.get("timestamp"))]
        if tag:
            parts.append(self._paint(tag, tag))
        parts.append(name)
        if event.get("message"):
            parts.append(_cut(str(event["message"])))
        view = _VIEWS.get(name)
        fields = view(event) if view else {k: v for k, v in event.items() if k not in _HIDDEN}
        parts += [f"{key}={_value(value, top=True)}" for key, value in fields.items()]
        return _cut(" ".join(parts), _LINE_CHARS)


def _close(event: Mapping[str, Any]) -> str:
    frames: Mapping[str, Any] = event.get("frames") or {}
    closed = [str(tf) for tf in event.get("closed") or ()]
    first = frames.get(closed[0]) if closed else None
    close = number(first.get("close")) if isinstance(first, Mapping) else "?"
    emas = " · ".join(
        f"{tf} {number(frame.get('ema'))}"
        for tf, frame in frames.items()
        if isinstance(frame, Mapping)
    )
    return (
        f"{bar_time(event.get('at'))} {event.get('symbol', '?')} close {close} "
        f"({','.join(closed)} closed)  ema {emas}"
    )


def bar_time(value: object) -> str:
    """'2025-06-17T16:05:00Z' -> '2025-06-17 16:05Z' (a decision is on a whole minute)."""
    text = "?" if value is None else str(value)
    if len(text) >= 16 and text[10] == "T":
        return f"{text[:10]} {text[11:16]}Z"
    return text


def wall_time(value: object) -> str:
    """'2026-01-05T14:35:07.123456Z' -> '14:35:07' (UTC)."""
    text = str(value or "")
    return text[11:19] if len(text) >= 19 and text[10] == "T" else text


def slope_text(slope: object) -> str:
    """A slope at 3 significant digits, signed: '-9.27e-05'; '-' when there is none."""
    if not isinstance(slope, float | int) or isinstance(slope, bool):
        return "-"
    return f"{slope:+.2e}"


def number(value: object) -> str:
    """A float shortened for people: 7 significant digits from 1 up (prices, money),
    3 below (slopes, fractions); whole numbers without a decimal point."""
    if not isinstance(value, float):
        return str(value)
    if not math.isfinite(value):
        return repr(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.7g}" if abs(value) >= 1 else f"{value:.3g}"


def _value(value: object, top: bool = False) -> str:
    if isinstance(value, bool) or value is None:
        text = str(value).lower() if isinstance(value, bool) else "null"
    elif isinstance(value, float):
        text = number(value)
    elif isinstance(value, Mapping):
        text = "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(_value(v) for v in value) + "]"
    elif isinstance(value, str) and top and (not value or " " in value or "=" in value):
        text = repr(value)
    else:
        text = str(value)
    return _cut(text) if top else text


def _cut(text: str, limit: int = _VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the few fields that matter, for the chattiest events ------------------------------


def _pick(*keys: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def view(event: Mapping[str, Any]) -> dict[str, Any]:
        return {key: event[key] for key in keys if key in event}

    return view


def _row_rejected(event: Mapping[str, Any]) -> dict[str, Any]:
    """Where the row is (file line, id) and its cells as the file has them."""
    out = {key: event[key] for key in ("reason", "detail") if key in event}
    row = event.get("row")
    if isinstance(row, Mapping):
        out |= {key: row[key] for key in ("line", "id") if key in row}
        cells = row.get("cells")
        if not isinstance(cells, list):
            cells = [v for k, v in row.items() if k not in ("line", "id")]
        out["cells"] = ",".join("" if cell is None else str(cell) for cell in cells)
    return out


def _worker_stopped(event: Mapping[str, Any]) -> dict[str, Any]:
    """Rows read and accepted, decisions by action, the paper P&L."""
    out: dict[str, Any] = {}
    counts = event.get("counts")
    if isinstance(counts, Mapping):
        out |= {key: counts[key] for key in ("rows", "accepted") if key in counts}
    decisions = event.get("decisions")
    if isinstance(decisions, Mapping):
        actions: dict[str, int] = {}
        for key, count in decisions.items():
            action = str(key).split(".", 1)[0]
            actions[action] = actions.get(action, 0) + int(count)
        out["decisions"] = actions
    paper = event.get("paper")
    if isinstance(paper, Mapping):
        keys = ("trades", "wins", "losses", "net", "max_drawdown", "open_positions")
        out["paper"] = {key: paper[key] for key in keys if key in paper}
    return out


_VIEWS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "worker_started": _pick("source", "broker", "symbols", "accounts", "dry_run"),
    "worker_stopped": _worker_stopped,
    "row_rejected": _row_rejected,
    "order_skipped": _pick("account", "symbol", "side", "size", "reason", "tag"),
    "paper_exit": _pick(
        "account", "symbol", "side", "exit_reason", "entry_price", "exit_price", "net", "day_net"
    ),
}
