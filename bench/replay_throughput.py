"""Throughput bench, in product terms: a year of quirky rows replayed end to end, the
engine alone, NautilusTrader on the same bars, and yardsticks beside them (a lean loop,
the old pull-based recompute, a numpy batch, a vectorized limit); plus the engine's
memory. Prints a table with PASS/FAIL against the targets of issue 12.

    .venv/bin/python bench/replay_throughput.py [--days 364] [--minutes 1000000]

A script, not a test: figures depend on the machine and on what else runs on it. The
replay and Nautilus are timed as processes (best of 2), the engine best of 3. Nautilus
runs in its own venv (`python3 -m venv .venv-bench && .venv-bench/bin/pip install
nautilus_trader`), skipped when that is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import best_of, engine_closes, iter_bars, make_bars, time_engine
from _competitors import (
    as_arrays,
    engine_memory,
    max_ema_gap,
    time_lean,
    time_pull,
    vectorized,
    vectorized_limit,
)
from quirky_year import write, write_clean

from engine.config import DecisionConfig, EngineConfig

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NAUTILUS_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
YEAR_TARGET_S = 5.0  # a year of quirky rows, process wall
NAUTILUS_RATIO_TARGET = 2.0
ENGINE_TARGET = 500_000  # bars/s
MEMORY_GROWTH_LIMIT = 1.25  # current bytes after N bars / after N/10 bars

Row = tuple[str, str, str, str]  # what, figure, target, PASS/FAIL/""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _process_wall(command: list[str]) -> tuple[float, str]:
    """Seconds from start to exit of `command` (its stdout, for what it prints last)."""
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 -- our own CLI and script
        command, cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "LOG_FORMAT": "json"},
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command[1:3]} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, done.stdout


def bench_year(year: Path, rows: int) -> tuple[float, list[Row]]:
    """`python -m worker replay` over the year: interpreter start to exit."""
    walls = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as out:
            command = [sys.executable, "-m", "worker", "replay", "--input", str(year),
                       "--symbol", "MES", "--out", out, "--no-progress"]  # fmt: skip
            walls.append(_process_wall(command)[0])
            summary = json.loads((Path(out) / "summary.json").read_text())
    wall = min(walls)
    return wall, [
        (f"1. a year of quirky rows ({rows:,}), `worker replay` end to end, process wall",
         f"{wall:.2f} s", f"<= {YEAR_TARGET_S:.0f} s", verdict(wall <= YEAR_TARGET_S)),
        ("   the same, rows/s", f"{rows / wall:,.0f}", "", ""),
        ("   accepted / rejected / duplicates / late / decisions",
         f"{summary['rows_accepted']:,} / {summary['rows_rejected']:,} / "
         f"{summary['duplicates']:,} / {summary['late']:,} / "
         f"{sum(summary['decisions_by_action'].values()):,}", "", ""),
    ]  # fmt: skip


def bench_nautilus(clean: Path, minutes: int, year_wall: float) -> list[Row]:
    """NautilusTrader's BacktestEngine on the same minutes: CSV -> 1m bars -> 5/15/30m
    bars with an EMA21 each, as a process (its own venv), best of 2."""
    if not NAUTILUS_PYTHON.exists():
        print("nautilus: skipped: .venv-bench not found")
        return [("2. NautilusTrader", "skipped: .venv-bench not found", "", "")]
    script = str(HERE / "nautilus_bars.py")
    runs = [_process_wall([str(NAUTILUS_PYTHON), script, str(clean)]) for _ in range(2)]
    wall = min(seconds for seconds, _ in runs)
    run_only = min(json.loads(out.strip().splitlines()[-1])["seconds"] for _, out in runs)
    ratio = wall / year_wall
    return [
        (f"2. NautilusTrader BacktestEngine, the same {minutes:,} minutes, process wall",
         f"{wall:.2f} s", "", ""),
        ("   of which BacktestEngine.run() (its data already loaded)", f"{run_only:.2f} s",
         "", ""),
        ("   replay / Nautilus, process wall against process wall", f"{ratio:.1f}x",
         f">= {NAUTILUS_RATIO_TARGET:.0f}x", verdict(ratio >= NAUTILUS_RATIO_TARGET)),
        ("   replay / Nautilus run() alone (info)", f"{run_only / year_wall:.1f}x", "(info)",
         ""),
    ]  # fmt: skip


def bench_engine(bars: list, config: EngineConfig, decision: DecisionConfig) -> list[Row]:
    seconds = best_of(3, lambda: time_engine(bars, config, decision))
    rate = len(bars) / seconds
    lean_rate = len(bars) / best_of(3, lambda: time_lean(bars)[0])
    return [
        ("3. engine alone (pre-parsed bars in, closed bars + decisions out), bars/s",
         f"{rate:,.0f}", f">= {ENGINE_TARGET:,}", verdict(rate >= ENGINE_TARGET)),
        ("   lean incremental loop (no dedup/watermark/late handling, no decisions), bars/s",
         f"{lean_rate:,.0f}", "(info)", ""),
        ("   engine / lean loop", f"{rate / lean_rate:.2f}x", "(info)", ""),
    ]  # fmt: skip


def bench_yardsticks(bars: list, config: EngineConfig, pull_minutes: int) -> list[Row]:
    engine_rate = len(bars) / best_of(1, lambda: time_engine(bars, config, DecisionConfig()))
    pull_bars = make_bars(pull_minutes + 600)
    pull_seconds, decisions = time_pull(pull_bars, pull_minutes)
    pull_rate = pull_minutes / pull_seconds
    started = time.perf_counter()
    batch = vectorized(bars, config)
    batch_rate = len(bars) / (time.perf_counter() - started)
    open_time, prices = as_arrays(bars)

    def limit() -> float:
        started = time.perf_counter()
        vectorized_limit(open_time, prices, config)
        return time.perf_counter() - started

    limit_rate = len(bars) / best_of(3, limit)
    reference = engine_closes(bars[:200_000], config)
    gaps = (max_ema_gap(batch, reference),
            max_ema_gap(vectorized_limit(open_time, prices, config), reference))  # fmt: skip
    return [
        (f"4. old pull recompute (600 rows -> pandas -> EMA -> polyfit per decision; "
         f"{decisions:,} decisions), bars/s", f"{pull_rate:,.0f}", "(info)", ""),
        ("   engine / pull recompute", f"{engine_rate / pull_rate:,.0f}x", "(info)", ""),
        ("   numpy batch (reduceat bars, loop EMA, vector slope), bars/s", f"{batch_rate:,.0f}",
         "(info)", ""),
        ("   vectorized limit (columns in memory, EMA by matrix blocks), bars/s",
         f"{limit_rate:,.0f}", "(info)", ""),
        ("   max relative EMA gap, numpy batch vs engine", f"{gaps[0]:.1e}", "< 1e-9",
         verdict(gaps[0] < 1e-9)),
        ("   max relative EMA gap, vectorized limit vs engine", f"{gaps[1]:.1e}", "< 1e-9",
         verdict(gaps[1] < 1e-9)),
    ]  # fmt: skip


def bench_memory(minutes: int) -> list[Row]:
    # The dedup memory fills over each day (1,440 minutes) then rotates: compare two
    # points at the same minute of the day, about a tenth of the way and at the end.
    small = minutes - (minutes - minutes // 10) // 1440 * 1440
    marks = engine_memory(iter_bars(minutes, seed=2), {small, minutes})
    (cur_small, peak_small), (cur_big, peak_big) = marks[small], marks[minutes]
    growth = cur_big / cur_small
    return [
        (f"5. engine memory after {small:,} bars: current / peak",
         f"{cur_small / 1024:,.0f} / {peak_small / 1024:,.0f} KiB", "", ""),
        (f"   after {minutes:,} bars: current / peak",
         f"{cur_big / 1024:,.0f} / {peak_big / 1024:,.0f} KiB", "", ""),
        ("   growth, current", f"{growth:.2f}x", f"<= {MEMORY_GROWTH_LIMIT}x (flat)",
         verdict(growth <= MEMORY_GROWTH_LIMIT)),
    ]  # fmt: skip


def print_table(rows: list[Row]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header: Row = ("what", "figure", "target", "result")
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=364, help="of quirky rows to replay")
    parser.add_argument("--minutes", type=int, default=1_000_000, help="for the engine alone")
    parser.add_argument(
        "--pull-minutes",
        type=int,
        default=6_000,
        help="minutes the slow pull recompute is measured on",
    )
    parser.add_argument("--no-nautilus", action="store_true", help="skip NautilusTrader")
    args = parser.parse_args()  # fmt: skip
    config, decision = EngineConfig(), DecisionConfig()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        year, clean = Path(tmp) / "year.csv", Path(tmp) / "clean.csv"
        print(f"writing {args.days} days of quirky rows ...", flush=True)
        count, minutes = write(year, args.days), write_clean(clean, args.days)
        print("replaying them (2 processes) ...", flush=True)
        year_wall, year_rows = bench_year(year, count)
        rows += year_rows
        if not args.no_nautilus:
            print("NautilusTrader on the same minutes (2 processes) ...", flush=True)
            rows += bench_nautilus(clean, minutes, year_wall)
    print(f"engine alone, {args.minutes:,} synthetic minutes ...", flush=True)
    bars = make_bars(args.minutes)
    rows += bench_engine(bars, config, decision)
    print("yardsticks (pull recompute, numpy batch, vectorized limit) ...", flush=True)
    rows += bench_yardsticks(bars, config, args.pull_minutes)
    del bars
    print("memory (tracemalloc) ...", flush=True)
    rows += bench_memory(args.minutes)
    print(f"\nPython {sys.version.split()[0]} (plain CPython, no compiled modules)\n")
    print_table(rows)


if __name__ == "__main__":
    main()
