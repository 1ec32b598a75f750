"""Throughput bench: the engine against the old pull-based recompute, a numpy batch,
the whole CSV replay and NautilusTrader; plus the engine's memory. Prints a table.

    .venv/bin/python bench/replay_throughput.py [--minutes N] [--pull-minutes K]

A script, not a test: figures depend on the machine and on what else runs on it (the
engine's figure is the best of 3 runs, the replay's and Nautilus's the best of 2; the
others are single runs). Nautilus runs in
its own venv (`python3 -m venv .venv-bench && .venv-bench/bin/pip install
nautilus_trader`), skipped when that is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import best_of, engine_closes, iter_bars, make_bars, time_engine, write_csv
from _competitors import (
    as_arrays,
    engine_memory,
    max_ema_gap,
    time_lean,
    time_pull,
    vectorized,
    vectorized_limit,
)

from engine.config import DecisionConfig, EngineConfig
from worker.native import build_name

HERE = Path(__file__).resolve().parent
NAUTILUS_PYTHON = HERE.parent / ".venv-bench" / "bin" / "python"
ENGINE_TARGET = 1_000_000  # bars/s
PULL_RATIO_TARGET = 30.0
LEAN_RATIO_TARGET = 0.75  # the whole engine within 25% of the lean incremental loop
REPLAY_TARGET = 300_000  # rows/s
NAUTILUS_RATIO_TARGET = 5.0
MEMORY_GROWTH_LIMIT = 1.25  # current bytes after N bars / after N/10 bars

Row = tuple[str, str, str, str]  # what, figure, target, PASS/FAIL/""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bench_engine(
    bars: list, config: EngineConfig, decision: DecisionConfig
) -> tuple[float, list[Row]]:
    seconds = best_of(3, lambda: time_engine(bars, config, decision))
    rate = len(bars) / seconds
    lean_seconds = best_of(3, lambda: time_lean(bars)[0])
    lean_rate = len(bars) / lean_seconds
    ratio = rate / lean_rate
    return rate, [
        (f"1. engine alone (add + decide), bars/s [{build_name()}]", f"{rate:,.0f}",
         f">= {ENGINE_TARGET:,}", verdict(rate >= ENGINE_TARGET)),
        ("   lean incremental loop (interpreted, no dedup/watermark/decide), bars/s",
         f"{lean_rate:,.0f}", "", ""),
        ("   engine / lean loop (within 25% of it)", f"{ratio:.2f}x", f">= {LEAN_RATIO_TARGET}x",
         verdict(ratio >= LEAN_RATIO_TARGET)),
    ]  # fmt: skip


def bench_pull(bars: list, minutes: int, engine_rate: float) -> list[Row]:
    seconds, decisions = time_pull(bars, minutes)
    rate = minutes / seconds
    ratio = engine_rate / rate
    return [
        (f"2. pull recompute (pandas), bars/s [{minutes:,} min, {decisions:,} decisions,"
         " extrapolated]", f"{rate:,.0f}", "", ""),
        ("   engine / pull", f"{ratio:,.0f}x", f">= {PULL_RATIO_TARGET:.0f}x",
         verdict(ratio >= PULL_RATIO_TARGET)),
    ]  # fmt: skip


def bench_vectorized(bars: list, config: EngineConfig, engine_rate: float) -> list[Row]:
    started = time.perf_counter()
    batch = vectorized(bars, config)
    rate = len(bars) / (time.perf_counter() - started)
    gap = max_ema_gap(batch, engine_closes(bars[:200_000], config))
    return [
        ("3. numpy batch (reduceat bars, loop EMA, vector slope), bars/s", f"{rate:,.0f}",
         "", ""),
        ("   engine / numpy batch", f"{engine_rate / rate:.2f}x", "(info)", ""),
        _gap_row("numpy", gap),
    ]  # fmt: skip


def _gap_row(what: str, gap: float) -> Row:
    label = f"   max relative EMA gap {what} vs engine"
    return (label, f"{gap:.1e}", "< 1e-9", verdict(gap < 1e-9))


def bench_limit(bars: list, config: EngineConfig, engine_rate: float) -> tuple[float, list[Row]]:
    open_time, prices = as_arrays(bars)

    def run() -> float:
        started = time.perf_counter()
        vectorized_limit(open_time, prices, config)
        return time.perf_counter() - started

    rate = len(bars) / best_of(3, run)
    gap = max_ema_gap(vectorized_limit(open_time, prices, config),
                      engine_closes(bars[:200_000], config))  # fmt: skip
    return rate, [
        ("   vectorized limit (columns in memory, no loop per bar), bars/s", f"{rate:,.0f}",
         "(info)", ""),
        ("   engine / vectorized limit", f"{engine_rate / rate:.2f}x", "(info)", ""),
        _gap_row("vectorized limit", gap),
    ]  # fmt: skip


def _time_replay(csv_path: Path, minutes: int, config: EngineConfig) -> float:
    from worker.replay import replay_csv

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        replay_csv(csv_path, "MES", Path(out), config, DecisionConfig())
        return minutes / (time.perf_counter() - started)


def _time_reading(csv_path: Path, minutes: int, columnar: bool) -> float:
    from adapters.files.csvread import read_columns

    started = time.perf_counter()
    rows = sum(batch.n for batch in read_columns(csv_path, columnar))
    assert rows == minutes
    return minutes / (time.perf_counter() - started)


def bench_replay(csv_path: Path, minutes: int, config: EngineConfig) -> tuple[float, list[Row]]:
    try:
        from adapters.logs import configure_logging
    except ImportError as exc:
        print(f"replay skipped: adapters.logs not importable ({exc})")
        return 0.0, [("4. CSV replay, rows/s", "not available", f">= {REPLAY_TARGET:,}", "FAIL")]
    configure_logging("INFO", "json", stream=sys.stderr)  # as a production run: no debug
    # Best of 2, as Nautilus below: single runs vary by 10-20% on a shared machine.
    rate = max(_time_replay(csv_path, minutes, config) for _ in range(2))
    # One quote character anywhere and the file is not "plain": the csv module reads it.
    quoted = csv_path.with_name("quoted.csv")
    with csv_path.open("rb") as source, quoted.open("wb") as target:
        header, first = source.readline(), source.readline()
        target.write(header + first.replace(b",MES,", b',"MES",', 1))
        shutil.copyfileobj(source, target)
    quoted_rate = _time_replay(quoted, minutes, config)
    quoted.unlink()
    reading = _time_reading(csv_path, minutes, columnar=True)
    return rate, [
        ("4. CSV replay (replay_csv: parse, engine, decide, jsonl), rows/s", f"{rate:,.0f}",
         f">= {REPLAY_TARGET:,}", verdict(rate >= REPLAY_TARGET)),
        ("   reading alone (pyarrow parse, typed cells to Python lists), rows/s",
         f"{reading:,.0f}", "(info)", ""),
        ("   the same replay of a file with a quote in it (csv module reader), rows/s",
         f"{quoted_rate:,.0f}", "(info)", ""),
    ]  # fmt: skip


def bench_nautilus(csv_path: Path, replay_rate: float) -> list[Row]:
    if not NAUTILUS_PYTHON.exists():
        print("nautilus: skipped: nautilus venv not found")
        return [("5. NautilusTrader", "skipped: nautilus venv not found", "", "")]
    script = HERE / "nautilus_bars.py"
    rates = []
    for _ in range(2):  # best of 2, as the replay above
        done = subprocess.run(  # noqa: S603 -- our own script, with our venv's python
            [str(NAUTILUS_PYTHON), str(script), str(csv_path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            print(done.stderr[-2000:])
            return [("5. NautilusTrader", f"failed (exit {done.returncode})", "", "FAIL")]
        rates.append(json.loads(done.stdout.strip().splitlines()[-1])["bars_per_s"])
    rate = max(rates)
    ratio = replay_rate / rate
    return [
        ("5. NautilusTrader BacktestEngine 1m->5/15/30m + EMA21, bars/s (run() only)",
         f"{rate:,.0f}", "", ""),
        ("   CSV replay / Nautilus", f"{ratio:.1f}x", f">= {NAUTILUS_RATIO_TARGET:.0f}x",
         verdict(ratio >= NAUTILUS_RATIO_TARGET)),
    ]  # fmt: skip


def bench_memory(minutes: int) -> list[Row]:
    # The dedup memory fills over each day (1,440 minutes) then rotates: compare two
    # points at the same minute of the day, about a tenth of the way and at the end.
    small = minutes - (minutes - minutes // 10) // 1440 * 1440
    marks = engine_memory(iter_bars(minutes, seed=2), {small, minutes})
    (cur_small, peak_small), (cur_big, peak_big) = marks[small], marks[minutes]
    growth = cur_big / cur_small
    return [
        (f"6. engine memory after {small:,} bars: current / peak",
         f"{cur_small / 1024:,.0f} / {peak_small / 1024:,.0f} KiB", "", ""),
        (f"   after {minutes:,} bars: current / peak",
         f"{cur_big / 1024:,.0f} / {peak_big / 1024:,.0f} KiB", "", ""),
        ("   growth, current", f"{growth:.2f}x", f"<= {MEMORY_GROWTH_LIMIT}x (bounded)",
         verdict(growth <= MEMORY_GROWTH_LIMIT)),
    ]  # fmt: skip


def print_table(rows: list[Row]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header: Row = ("what", "figure", "target", "result")
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=1_000_000)
    parser.add_argument("--pull-minutes", type=int, default=6_000,
                        help="minutes the slow pull recompute is measured on")  # fmt: skip
    parser.add_argument("--tv-check", action="store_true", help="accepted; does nothing more")
    args = parser.parse_args()
    if args.tv_check:
        print("--tv-check: nothing more to run here (skipped)")
    config, decision = EngineConfig(), DecisionConfig()
    print(f"building {args.minutes:,} synthetic minutes ...", flush=True)
    bars = make_bars(max(args.minutes, args.pull_minutes + 600))[: args.minutes]
    engine_rate, rows = bench_engine(bars, config, decision)
    print("pull recompute ...", flush=True)
    rows += bench_pull(make_bars(args.pull_minutes + 600), args.pull_minutes, engine_rate)
    print("numpy batch ...", flush=True)
    rows += bench_vectorized(bars, config, engine_rate)
    limit_rate, limit_rows = bench_limit(bars, config, engine_rate)
    rows += limit_rows
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "mes_1m.csv"
        write_csv(csv_path, bars)
        del bars
        print("CSV replay ...", flush=True)
        replay_rate, replay_rows = bench_replay(csv_path, args.minutes, config)
        rows += replay_rows
        rows.append(("   CSV replay / vectorized limit", f"{replay_rate / limit_rate:.3f}x",
                     "(info)", ""))  # fmt: skip
        print("NautilusTrader (subprocess) ...", flush=True)
        rows += bench_nautilus(csv_path, replay_rate)
    print("memory (tracemalloc) ...", flush=True)
    rows += bench_memory(args.minutes)
    print(
        f"\nPython {sys.version.split()[0]}, {args.minutes:,} in-order minutes, hot path "
        f"{build_name()} (tools/build_native.py)\n"
    )
    print_table(rows)


if __name__ == "__main__":
    main()
