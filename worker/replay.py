"""Replay: a CSV export (or the table itself) through exactly the live pipeline and
trader, clocked by the rows' own receipt `ts`. Nothing is sent anywhere: a flat book,
or the paper broker's simulated one."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm  # type: ignore[import-untyped]

from adapters import events
from adapters.files.csv_source import CsvSource
from worker.app import App, build_replay
from worker.outputs import run_parameters, write_results, write_run
from worker.settings import Settings


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
    return asyncio.run(
        replay(app, out_dir, source=str(input_path), progress=progress, total_rows=rows)
    )


async def replay(
    app: App,
    out_dir: Path,
    *,
    source: str = "",
    progress: bool = False,
    total_rows: int | None = None,
) -> dict[str, Any]:
    """Every event of the app's source through the pipeline; each closed instant decided
    before the next row, as live. run.json (the parameters, `source` the input in words)
    is written first, and a summary.json left by an earlier run goes with it: only a
    finished replay writes one."""
    source = source or app.source.name
    symbols = tuple(sorted(app.pipeline.symbols))
    write_run(
        out_dir, run_parameters(app.settings, symbols=symbols, source=source, broker=app.broker)
    )
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
    wall_s = time.perf_counter() - started
    summary = write_results(out_dir, app.pipeline, app.trader, app.paper, wall_s)
    events.replay_done(rows_read=summary["rows_read"], rows_per_second=summary["rows_per_second"])
    return summary
