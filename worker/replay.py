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
from adapters.dryrun import FlatBookContexts, SignalsOnlyExecutor
from adapters.files.csv_source import CsvSource
from adapters.files.jsonl import JsonlRecorder, write_jsonl
from adapters.paper.broker import PaperBroker, PaperConfig
from adapters.paper.trades import trade_record
from engine.config import DecisionConfig, EngineConfig
from engine.decide import HoldFirstDecider
from engine.ports import BarSource, ContextProvider, Executor
from worker.pipeline import Pipeline
from worker.trader import StaticContracts, Trader

REPLAY_ACCOUNT = "replay"
SUMMARY = "summary.json"


def replay_csv(
    input_path: Path,
    symbol: str,
    out_dir: Path,
    config: EngineConfig,
    decision: DecisionConfig | None = None,
    progress: bool = False,
    paper: PaperConfig | None = None,
) -> dict[str, Any]:
    """Replay `input_path` into `out_dir` (bars.jsonl, decisions.jsonl, summary.json);
    with `paper`, through the paper broker (summary gains trades and P&L, trades.jsonl
    has one line per round trip; the broker logs nothing per trade: stdout stays quiet)."""
    source = CsvSource(input_path)
    rows = source.rows.count_lines() - 1 if progress else None
    return asyncio.run(
        replay(source, symbol, out_dir, config, decision, progress=progress, paper=paper,
               total_rows=rows)
    )  # fmt: skip


async def replay(
    source: BarSource,
    symbol: str,
    out_dir: Path,
    config: EngineConfig,
    decision: DecisionConfig | None = None,
    *,
    progress: bool = False,
    paper: PaperConfig | None = None,
    total_rows: int | None = None,
) -> dict[str, Any]:
    """Every event of `source` through the pipeline; each closed instant decided before
    the next row, as live. A summary.json left by an earlier run goes first: only a
    finished replay writes one."""
    (out_dir / SUMMARY).unlink(missing_ok=True)
    pipeline, trader = _replay_stack(symbol, out_dir, config, decision, paper)
    events.replay_started(input=source.name, symbol=symbol, out=str(out_dir))
    started = time.perf_counter()
    bar = tqdm(total=total_rows, unit="rows", disable=not progress, mininterval=0.5,
               desc="replay")  # fmt: skip
    try:
        async for event in source.events():
            for state in pipeline.handle(event):
                await trader.on_state(state)
            bar.update()
        if bar.total is not None:
            bar.n = bar.total  # the whole input was read: the bar ends at 100%
    except BaseException:
        pipeline.recorder.close()  # what was decided up to the failure stays on disk
        raise
    finally:
        bar.close()
    return await _finish(pipeline, trader, out_dir, started)


def _replay_stack(
    symbol: str,
    out_dir: Path,
    config: EngineConfig,
    decision: DecisionConfig | None,
    paper: PaperConfig | None = None,
) -> tuple[Pipeline, Trader]:
    """Flat book and nothing sent (default), or the paper broker's simulated book."""
    recorder = JsonlRecorder(out_dir, flush_each_line=False)
    pipeline = Pipeline((symbol,), config, recorder)
    contexts: ContextProvider = FlatBookContexts()
    executor: Executor = SignalsOnlyExecutor()
    if paper is not None:
        broker = PaperBroker(paper)
        pipeline.minute_listeners.append(broker)
        contexts = executor = broker
    trader = Trader(
        decider=HoldFirstDecider(decision or DecisionConfig()), accounts=(REPLAY_ACCOUNT,),
        contexts=contexts, executor=executor, recorder=recorder, contracts=StaticContracts(),
        log_states=False,
    )  # fmt: skip
    return pipeline, trader


async def _finish(
    pipeline: Pipeline, trader: Trader, out_dir: Path, started: float
) -> dict[str, Any]:
    for state in pipeline.flush():
        await trader.on_state(state)
    pipeline.recorder.close()
    summary = build_summary(pipeline, trader, time.perf_counter() - started)
    if isinstance(trader.executor, PaperBroker):
        summary["paper"] = trader.executor.summary()
        trades = [trade_record(trade) for trade in trader.executor.trades]
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
