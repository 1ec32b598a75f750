"""Replay: a CSV export (or the table itself) through exactly the live pipeline and
trader, clocked by the rows' own receipt `ts`. Nothing is sent anywhere: a flat book,
or the paper broker's simulated one."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm  # type: ignore[import-untyped]

from adapters import events
from adapters.files.csv_source import CsvSource
from adapters.files.jsonl import write_jsonl
from adapters.paper.trades import trade_record
from worker.app import App, build_replay
from worker.pipeline import Pipeline
from worker.settings import Settings
from worker.trader import Trader

SUMMARY = "summary.json"


def replay_csv(
    input_path: Path,
    symbol: str,
    out_dir: Path,
    settings: Settings,
    *,
    progress: bool = False,
    paper: bool = False,
) -> dict[str, Any]:
    """Replay `input_path` into `out_dir` (bars.jsonl, decisions.jsonl, summary.json);
    with `paper`, through the paper broker (summary gains trades and P&L, trades.jsonl
    has one line per round trip; the broker logs nothing per trade: stdout stays quiet)."""
    source = CsvSource(input_path)
    rows = source.rows.count_lines() - 1 if progress else None
    app = build_replay(settings, source=source, symbol=symbol, out_dir=out_dir, paper=paper)
    return asyncio.run(replay(app, out_dir, progress=progress, total_rows=rows))


async def replay(
    app: App, out_dir: Path, *, progress: bool = False, total_rows: int | None = None
) -> dict[str, Any]:
    """Every event of the app's source through the pipeline; each closed instant decided
    before the next row, as live. A summary.json left by an earlier run goes first: only
    a finished replay writes one."""
    (out_dir / SUMMARY).unlink(missing_ok=True)
    events.replay_started(
        input=app.source.name, symbol=",".join(app.pipeline.symbols), out=str(out_dir)
    )
    started = time.perf_counter()
    bar = tqdm(total=total_rows, unit="rows", disable=not progress, mininterval=0.5, desc="replay")
    try:
        async for event in app.source.events():
            for state in app.pipeline.handle(event):
                await app.trader.on_state(state)
            bar.update()
        if bar.total is not None:
            bar.n = bar.total  # the whole input was read: the bar ends at 100%
    except BaseException:
        app.recorder.close()  # what was decided up to the failure stays on disk
        raise
    finally:
        bar.close()
    return await _finish(app, out_dir, started)


async def _finish(app: App, out_dir: Path, started: float) -> dict[str, Any]:
    for state in app.pipeline.flush():
        await app.trader.on_state(state)
    app.recorder.close()
    summary = build_summary(app.pipeline, app.trader, time.perf_counter() - started)
    if app.paper is not None:
        summary["paper"] = app.paper.summary()
        trades = [trade_record(trade) for trade in app.paper.trades]
        write_jsonl(out_dir / "trades.jsonl", trades)  # one line per round trip
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    # Last and atomically (a temporary file, then a rename): a summary.json in out_dir
    # means every line of the replay is written.
    temporary = out_dir / f".{SUMMARY}.tmp"
    temporary.write_text(text)
    os.replace(temporary, out_dir / SUMMARY)
    events.replay_done(rows_read=summary["rows_read"], rows_per_second=summary["rows_per_second"])
    return summary


def build_summary(pipeline: Pipeline, trader: Trader, wall_s: float) -> dict[str, Any]:
    counts = pipeline.counts
    prefixed = _by_prefix(counts)
    rows = counts["rows"]
    return {
        "rows_read": rows,
        "rows_accepted": counts["accepted"],
        "rows_rejected": sum(prefixed.get("rejected", {}).values()),
        "rejected_by_reason": prefixed.get("rejected", {}),
        "ignored_by_reason": prefixed.get("ignored", {}),
        "duplicates": counts["duplicate"],
        "conflicts": counts["conflict"],
        "late": counts["late"],
        "ambiguous": counts["ambiguous"],
        "bars_per_timeframe": prefixed.get("bars", {}),
        "decisions_by_action": _by_action(trader),
        "decisions_by_reason": dict(sorted(trader.counts.items())),
        "wall_time_s": round(wall_s, 3),
        "rows_per_second": round(rows / wall_s) if wall_s > 0 else None,
    }


def _by_prefix(counts: dict[str, int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for key, value in sorted(counts.items()):
        if "." in key:
            prefix, rest = key.split(".", 1)
            out.setdefault(prefix, {})[rest] = value
    return out


def _by_action(trader: Trader) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in trader.counts.items():
        action = key.split(".", 1)[0]
        out[action] = out.get(action, 0) + value
    return dict(sorted(out.items()))
