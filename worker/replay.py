"""Replay: a CSV export through exactly the live pipeline, clocked by the rows' ts."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog
from tqdm import tqdm  # type: ignore[import-untyped]

from adapters.dryrun import FlatBookContexts, SignalsOnlyExecutor
from adapters.files.csvread import Columns, Layout, read_columns
from adapters.files.records import JsonlRecorder, write_jsonl
from adapters.paper.broker import PaperBroker, PaperConfig
from adapters.paper.trades import trade_record
from engine.config import DecisionConfig, EngineConfig
from engine.decide import HoldFirstDecider
from engine.model import Bar1m, Rejection
from engine.normalize import normalize_fields
from engine.ports import ContextProvider
from worker.native import build_name
from worker.pipeline import Pipeline
from worker.trader import Executor, StaticContracts, Trader

REPLAY_ACCOUNT = "replay"
SUMMARY = "summary.json"
REPLAY_HOLD_LINES = 256  # JSONL lines held per file write (~64 KiB; see JsonlRecorder)


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
    return asyncio.run(_replay(input_path, symbol, out_dir, config, decision, progress, paper))


def _replay_stack(
    symbol: str,
    out_dir: Path,
    config: EngineConfig,
    decision: DecisionConfig | None,
    paper: PaperConfig | None = None,
) -> tuple[Pipeline, Trader]:
    """Flat book and nothing sent (default), or the paper broker's simulated book. A
    summary.json left by an earlier run goes first: only a finished replay writes one."""
    (out_dir / SUMMARY).unlink(missing_ok=True)
    recorder = JsonlRecorder(out_dir, hold=REPLAY_HOLD_LINES)
    pipeline = Pipeline((symbol,), config, recorder)
    contexts: ContextProvider = FlatBookContexts()
    executor: Executor = SignalsOnlyExecutor()
    if paper is not None:
        broker = PaperBroker(paper)
        pipeline.minute_listeners.append(broker)
        contexts = executor = broker
    trader = Trader(
        HoldFirstDecider(decision or DecisionConfig()),
        (REPLAY_ACCOUNT,),
        contexts,
        executor,
        recorder,
        contracts=StaticContracts(),
        log_states=False,
    )
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
    structlog.get_logger("replay").info(
        "replay_done", **{k: summary[k] for k in ("rows_read", "rows_per_second")}
    )
    return summary


async def _replay(
    input_path: Path,
    symbol: str,
    out_dir: Path,
    config: EngineConfig,
    decision: DecisionConfig | None,
    progress: bool,
    paper: PaperConfig | None = None,
) -> dict[str, Any]:
    pipeline, trader = _replay_stack(symbol, out_dir, config, decision, paper)
    assert trader.in_memory, "replay runs on in-memory providers only"
    structlog.get_logger("replay").info(
        "replay_started",
        input=str(input_path),
        symbol=symbol,
        out=str(out_dir),
        engine_build=build_name(),
    )
    started = time.perf_counter()
    symbols, tolerance = pipeline.symbols, config.ambiguity_tolerance_s
    layout = Layout(input_path)
    bar = tqdm(
        total=input_path.stat().st_size,  # noqa: ASYNC240 -- once, before the loop
        unit="B", unit_scale=True, disable=not progress,
        mininterval=0.5, desc="replay",
    )  # fmt: skip
    rows = 0
    # The row path makes no reference cycles (tests/worker/test_replay_speed.py checks it),
    # so the cycle collector has nothing to find; paused, it stops rescanning the batches.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for batch in read_columns(input_path):
            _replay_batch(batch, pipeline, trader, symbols, tolerance)
            rows += batch.n
            if progress:  # an estimate from the first lines' length, until the end
                bar.n = min(bar.total, int(rows * layout.line_bytes))
                bar.refresh()
        bar.n = bar.total  # the whole file was read: the bar ends at 100%
    except BaseException:
        pipeline.recorder.close()  # what was decided up to the failure stays on disk
        raise
    finally:
        if collecting:
            gc.enable()
        bar.close()
    return await _finish(pipeline, trader, out_dir, started)


def _replay_batch(
    batch: Columns,
    pipeline: Pipeline,
    trader: Trader,
    symbols: frozenset[str],
    tolerance: float,
) -> None:
    """Each row of a batch through the live path; each closed instant decided at once,
    before the next row, as live. A plain function, not a coroutine: its locals stay C
    locals in the compiled build (the replay's providers are all in memory)."""
    sym, tf, ts, bar_time, malformed = (
        batch.symbol, batch.timeframe, batch.ts, batch.bar_time, batch.malformed
    )  # fmt: skip
    o, h, low, c, v = batch.o, batch.h, batch.low, batch.c, batch.v
    for i in range(batch.n):
        if malformed and i in malformed:
            result: Bar1m | Rejection = malformed[i]
        else:
            result = normalize_fields(
                sym[i], tf[i], ts[i], o[i], h[i], low[i], c[i], v[i],
                None if bar_time is None else bar_time[i], symbols, tolerance,
            )  # fmt: skip
        # A rejected row's log line says where it is in the file (line, id, its cells).
        row = batch.source(i) if type(result) is Rejection and not result.ignored else None
        states = pipeline.ingest_normalized(result, None, row)
        if states:
            for state in states:
                trader.on_state_now(state)


async def replay_rows(
    rows: AsyncIterator[dict[str, Any]],
    symbol: str,
    out_dir: Path,
    config: EngineConfig,
    decision: DecisionConfig | None = None,
    progress: bool = False,
    paper: PaperConfig | None = None,
) -> dict[str, Any]:
    """Replay raw rows (e.g. read from the table over REST), each at its own ts."""
    pipeline, trader = _replay_stack(symbol, out_dir, config, decision, paper)
    started = time.perf_counter()
    with tqdm(unit="rows", disable=not progress, mininterval=0.5, desc="replay") as bar:
        try:
            async for row in rows:
                for state in pipeline.ingest(row, None):
                    await trader.on_state(state)
                bar.update()
        except BaseException:
            pipeline.recorder.close()  # what was decided up to the failure stays on disk
            raise
    return await _finish(pipeline, trader, out_dir, started)


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
