"""`make bench` keeps working: the throughput bench on a few thousand minutes.

Speed verdicts at this size mean nothing (fixed costs dominate) and are not checked; the
rows whose verdict is about correctness are: the EMA gaps to the engine and the memory
bound.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_throughput_bench_runs_and_its_correctness_rows_pass() -> None:
    done = subprocess.run(
        [sys.executable, "bench/replay_throughput.py", "--days", "3", "--minutes", "12000",
         "--pull-minutes", "300", "--no-nautilus"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {re.split(r"\s{2,}", line.strip())[0]: line for line in done.stdout.splitlines()}
    for label in (
        "max relative EMA gap, numpy batch vs engine",
        "max relative EMA gap, vectorized limit vs engine",
        "growth, current",
    ):
        assert rows[label].rstrip().endswith("PASS"), rows[label]
    labels = " | ".join(rows)
    for start in (
        "1. a year of quirky rows", "3. engine alone", "engine / lean loop",
        "engine / pull recompute", "vectorized limit", "accepted / rejected",
    ):  # fmt: skip
        assert start in labels, labels


def test_the_live_latency_bench_runs_and_sees_every_decision() -> None:
    """The bench instruments the running worker (it wraps its pipeline and trader); 300
    live rows close 60 five-minute buckets."""
    done = subprocess.run(
        [sys.executable, "bench/live_latency.py", "--rows", "300", "--burst-rows", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    paced = next(line for line in done.stdout.splitlines() if line.startswith("paced (gap"))
    rows, _sent, _received, _worker, decisions, *_ = paced.split(")", 1)[1].split()
    assert (rows, decisions) == ("300", "60"), paced


def test_the_close_to_order_bench_runs_and_sees_every_order() -> None:
    """Two accounts, three decisions: every decision's orders are seen, with the hub in
    sync two requests per account (the positions read and the order)."""
    done = subprocess.run(
        [sys.executable, "bench/close_to_order.py", "--accounts", "2", "--decisions", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    row = next(line.split() for line in lines if line.split()[:1] == ["2"])
    assert row[:2] == ["2", "3"], lines  # accounts, complete decisions
    assert "without every order" not in done.stdout
    assert any(line.strip().startswith("2 account(s): 2.00 (") for line in lines), lines
