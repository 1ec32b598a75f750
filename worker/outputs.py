"""What a run leaves in its output directory besides bars.jsonl and decisions.jsonl (a
replay's `--out`, a live run's OUT_DIR): run.json (its parameters, written first),
trades.jsonl (the paper round trips) and summary.json (written last, atomically: a
summary.json means every line of the run is written). `python -m worker report DIR`
reads all of them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from adapters.files.jsonl import RUN, SUMMARY
from adapters.paper.broker import PaperBroker
from worker.pipeline import Pipeline
from worker.settings import Settings
from worker.trader import Trader


def run_parameters(
    settings: Settings, *, symbols: tuple[str, ...], source: str, broker: str
) -> dict[str, Any]:
    """The parameters a reader of the run's results needs: engine, decision, paper."""
    products = settings.products
    return {
        "symbols": list(symbols),
        "source": source,
        "broker": broker,
        "timeframes": [int(x) for x in settings.timeframes.split(",")],
        "ema_period": settings.ema_period,
        "slope_window": settings.slope_window,
        "slope_threshold": settings.slope_threshold,
        "warmup_bars": settings.warmup_bars,
        "flat_window": settings.flat_window_text,
        "flat_window_start": settings.flat_window_start,
        "flat_window_end": settings.flat_window_end,
        "market_tz": settings.market_tz,
        "trade_size": settings.default_trade_size,
        "paper": {
            "stop_ticks": settings.paper_stop_ticks,
            "target_ticks": settings.paper_target_ticks,
            "products": {
                s: {
                    "tick_size": products[s].tick_size,
                    "tick_value": products[s].tick_value,
                    "fee_per_side": products[s].fee_per_side,
                }
                for s in symbols
                if s in products
            },
        }
        if broker == "paper"
        else None,
    }


def write_run(out_dir: Path, parameters: dict[str, Any]) -> None:
    """run.json; a summary.json of an earlier run goes: only a finished run has one."""
    (out_dir / SUMMARY).unlink(missing_ok=True)
    (out_dir / RUN).write_text(json.dumps(parameters, indent=2) + "\n")


def write_results(
    out_dir: Path, pipeline: Pipeline, trader: Trader, paper: PaperBroker | None, wall_s: float
) -> dict[str, Any]:
    """summary.json, last (trades.jsonl has had its lines from the paper broker, one at
    each exit); returns the summary."""
    summary = build_summary(pipeline, trader, wall_s)
    if paper is not None:
        summary["paper"] = paper.summary()
    temporary = out_dir / f".{SUMMARY}.tmp"
    temporary.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, out_dir / SUMMARY)
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
