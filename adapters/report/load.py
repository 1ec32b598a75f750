"""Read a run's output directory (a replay's `--out`, a live run's OUT_DIR) for the report.

bars.jsonl and decisions.jsonl must be there (they are what makes a directory a run's);
run.json, trades.jsonl and summary.json may not be (an older run, a live run still
going, a replay without the paper broker): the report says what is missing. A live run
killed mid-write can leave its last line cut short: that line is skipped and counted.
Any other line that is not a JSON object stops the report with one line naming it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from adapters.files.jsonl import BARS, DECISIONS, RUN, SUMMARY, TRADES

# The fields the report reads, per file, and what each must hold: `text`, an `instant`
# (ISO 8601 UTC text, as the worker writes it), a `number`, or a number or null
# (`number?`: an EMA before warm-up). A line that breaks this is not a run's line.
FIELDS: dict[str, dict[str, str]] = {
    BARS: {
        "symbol": "text",
        "timeframe": "text",
        "open_time": "instant",
        "close_time": "instant",
        "open": "number",
        "high": "number",
        "low": "number",
        "close": "number",
        "ema": "number?",
        "slope": "number?",
        "regime": "text",
    },
    DECISIONS: {"symbol": "text", "at": "instant", "action": "text", "reason_code": "text"},
    TRADES: {
        "symbol": "text",
        "side": "text",
        "size": "number",
        "entry_time": "instant",
        "entry_price": "number",
        "exit_time": "instant",
        "exit_price": "number",
        "exit_reason": "text",
        "ticks": "number",
        "gross": "number",
        "fees": "number",
        "net": "number",
        "duration_s": "number",
    },
}


KINDS = {
    "text": "text",
    "instant": "an ISO 8601 UTC time",
    "number": "a finite number",
    "number?": "a number or null",
}


class ReportError(Exception):
    """What the operator must fix, in one line (exit 2)."""


@dataclass
class RunFiles:
    directory: Path
    bars: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    trades: list[dict[str, Any]] | None  # None: no trades.jsonl
    summary: dict[str, Any] | None  # None: no summary.json (a run not finished)
    run: dict[str, Any] | None  # None: no run.json (a run from before it existed)
    cut_lines: list[str] = field(default_factory=list)  # files whose last line was cut


def load_run(directory: Path) -> RunFiles:
    if not directory.exists():
        raise ReportError(f"report error: {str(directory)!r}: no such directory")
    if not directory.is_dir():
        raise ReportError(f"report error: {str(directory)!r} is a file, not a run's directory")
    missing = [name for name in (BARS, DECISIONS) if not (directory / name).is_file()]
    if missing:
        raise ReportError(
            f"report error: {str(directory)!r}: no {' and no '.join(missing)} (the output "
            "directory of `python -m worker replay --out DIR` or of a live run's OUT_DIR)"
        )
    cut: list[str] = []
    bars = _jsonl(directory / BARS, cut)
    decisions = _jsonl(directory / DECISIONS, cut)
    trades = _jsonl(directory / TRADES, cut) if (directory / TRADES).is_file() else None
    return RunFiles(
        directory,
        bars,
        decisions,
        trades,
        _json(directory / SUMMARY),
        _json(directory / RUN),
        cut,
    )


def _jsonl(path: Path, cut: list[str]) -> list[dict[str, Any]]:
    data = _read(path)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:  # no newline at the end: a line cut short by a killed writer
        lines.pop()
        cut.append(path.name)
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            raise ReportError(f"report error: {path}: line {number} is not a JSON object")
        for name, kind in FIELDS[path.name].items():
            if name not in record:
                raise ReportError(f"report error: {path}: line {number} has no {name!r}")
            if not _holds(record[name], kind):
                wanted = KINDS[kind]
                raise ReportError(f"report error: {path}: line {number}: {name!r} is not {wanted}")
        records.append(record)
    return records


def _holds(value: object, kind: str) -> bool:
    if kind == "text":
        return isinstance(value, str)
    if kind == "instant":
        return isinstance(value, str) and _is_instant(value)
    if value is None:
        return kind == "number?"
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_instant(text: str) -> bool:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return moment.utcoffset() == timedelta(0)


def _json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        value = json.loads(_read(path))
    except ValueError:
        raise ReportError(f"report error: {path}: not JSON") from None
    if not isinstance(value, dict):
        raise ReportError(f"report error: {path}: not a JSON object")
    return value


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReportError(f"report error: cannot read {path} ({exc.strerror or exc})") from None
