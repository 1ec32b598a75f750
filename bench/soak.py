"""Soak: 30 simulated trading days through the running worker; memory must stay flat.

    .venv/bin/python bench/soak.py [--days 30] [--warm-days 3] [--speed 100000]
                                   [--broker paper|none] [--max-growth-mb 5] [--keep FILE]

A synthetic `tv_datafeed` CSV (CME sessions: Sun-Thu 17:00 CT opens, 1,380 minutes each;
the daily halt and the weekends empty; a random walk with drifting trends, so there are
BUY/SELL decisions and the paper broker trades) streams through `python -m worker run`
as its sample feed, every row "live" (SAMPLE_LIVE_ROWS = all rows), paced by the rows'
own receipt times at SAMPLE_SPEED x real time (the accelerated clock: the watermark,
flat window and risk day follow the rows' times). HEALTH_PORT=0, LOG_LEVEL=WARNING.

Progress: each simulated day ends with one invalid row (high below low, as real alert
data sometimes has), which the worker rejects with a `row_rejected` warning, the only
line it prints per day. Two idle tail rows (the sample feed sleeps at most 5 s before
each) keep the worker alive after the last day, so the end figures are taken while it
still holds everything it built up.

Measured from /proc/<pid>: VmRSS when day `--warm-days` is done (the start) and when
the last day is done (the end); CPU (utime + stime) between those points divided by
the rows between them. Prints the figures and PASS/FAIL against `--max-growth-mb`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SESSION_MIN = 1380  # 17:00 -> 16:00 CT
FIRST_OPEN = 1_750_024_800  # 2025-06-15 22:00 UTC: Sunday 17:00 CDT
DAY_S = 86_400
CLK_TCK = os.sysconf("SC_CLK_TCK")


def session_opens(days: int) -> list[int]:
    """Epoch seconds of the first `days` session opens (Sun-Thu, 17:00 CDT)."""
    opens, t = [], FIRST_OPEN
    while len(opens) < days:
        if datetime.fromtimestamp(t, UTC).weekday() in (6, 0, 1, 2, 3):  # Sun..Thu
            opens.append(t)
        t += DAY_S
    return opens


def write_feed(path: Path, days: int, speed: float, seed: int = 17) -> int:
    """The CSV; returns the number of rows before the idle tail (markers included)."""
    rng = random.Random(seed)
    price, drift, ident = 6000.0, 0.0, 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "ts", "symbol", "timeframe", "o", "h", "l", "c", "v"])

        def emit(t: float, o: float, h: float, low: float, c: float, v: int) -> None:
            nonlocal ident
            ident += 1
            out.writerow([ident, datetime.fromtimestamp(t, UTC).isoformat(), "MES", 1,
                          o, h, low, c, v])  # fmt: skip

        for day, start in enumerate(session_opens(days), 1):
            for i in range(SESSION_MIN):
                if i % 240 == 0:
                    drift = rng.choice((-0.6, -0.3, 0.0, 0.3, 0.6))
                o = price
                price = max(1000.0, round((price + drift + rng.gauss(0, 1.2)) * 4) / 4)
                h = max(o, price) + 0.25 * rng.randint(0, 3)
                low = min(o, price) - 0.25 * rng.randint(0, 3)
                emit(start + 60 * i + 60 + rng.uniform(0.5, 6.0), o, h, low, price,
                     rng.randint(1, 900))  # fmt: skip
            # The day's marker: invalid (high below low), rejected with a warning.
            emit(start + 60 * SESSION_MIN + 7.0, price, price - 1, price, price, day)
        rows = ident
        last = session_opens(days)[-1] + SESSION_MIN * 60
        gap = max(60 * DAY_S, 6 * speed)  # idle tail: the feed sleeps min(gap / speed, 5 s)
        for k in (1, 2):
            emit(last + k * gap, price, price, price, price, 1)
    return rows


# ----- /proc readings of the child


def rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    if match is None:
        raise RuntimeError("no VmRSS")
    return int(match.group(1))


def cpu_s(pid: int) -> float:
    """utime + stime of the process, seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


class Lines:
    """The child's stdout lines, read on a thread, each with its arrival time."""

    def __init__(self, stream: object) -> None:
        self.lines: list[tuple[float, str]] = []
        self._stream = stream
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for raw in self._stream:  # type: ignore[attr-defined]
            self.lines.append((time.perf_counter(), raw.decode(errors="replace")))

    def join(self) -> None:
        self._thread.join(5)

    def days_done(self) -> int:
        """Markers seen: the day number the worker has just finished."""
        done = 0
        for _, line in list(self.lines):
            if '"row_rejected"' in line:
                event = json.loads(line)
                done = max(done, int(float(event["row"]["v"])))
        return done


# ----- the run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--warm-days", type=int, default=3)
    parser.add_argument("--speed", type=float, default=100_000.0, help="SAMPLE_SPEED")
    parser.add_argument("--broker", choices=["paper", "none"], default="paper")
    parser.add_argument("--max-growth-mb", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=170.0, help="seconds for the run")
    parser.add_argument("--keep", type=Path, help="also keep the generated CSV here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        feed = args.keep or Path(tmp) / "soak.csv"
        made = time.perf_counter()
        rows = write_feed(feed, args.days, args.speed)
        print(f"feed: {args.days} trading days, {rows:,} rows incl. {args.days} invalid "
              f"markers, SAMPLE_SPEED={args.speed:g} "
              f"({time.perf_counter() - made:.1f} s to generate)", flush=True)  # fmt: skip
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("SUPABASE", "PROJECTX", "ACCOUNT_", "TRADING", "LEASE",
                                 "WEBHOOK", "BROKER", "OUT_DIR", "PORT", "SAMPLE"))
        }  # fmt: skip
        env |= {
            "SAMPLE_FEED": str(feed), "SAMPLE_LIVE_ROWS": str(rows + 2),
            "SAMPLE_SPEED": repr(args.speed), "BROKER": args.broker, "HEALTH_PORT": "0",
            "HEALTH_HOST": "127.0.0.1", "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
            "STATE_DIR": str(Path(tmp) / "state"), "PYTHONUNBUFFERED": "1",
        }  # fmt: skip
        err_path = Path(tmp) / "stderr"
        with err_path.open("wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "worker", "run"], cwd=tmp, env=env,
                stdout=subprocess.PIPE, stderr=err,
            )  # fmt: skip
            lines = Lines(proc.stdout)
            try:
                result = follow(proc, lines, args, started)
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                try:
                    code = proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    code = proc.wait()
                lines.join()
        wall = time.perf_counter() - started
        stderr = err_path.read_text(errors="replace").strip()
    events = [json.loads(line) for _, line in lines.lines if line.startswith("{")]
    others = sorted({e.get("event", "?") for e in events} - {"row_rejected"})
    if result is None:
        print(f"FAIL: the run did not complete (exit {code}, days done "
              f"{lines.days_done()}); stderr: {stderr[-1500:]}")  # fmt: skip
        return 1
    (w_rows, w_rss, w_cpu), (e_rows, e_rss, e_cpu), peak, trail, (_, d1_cpu) = result
    growth_mb = (e_rss - w_rss) / 1024
    per_row_us = (e_cpu - w_cpu) / (e_rows - w_rows) * 1e6
    all_us = e_cpu / e_rows * 1e6
    print(f"worker: exit {code}, wall {wall:.1f} s, {len(events)} log lines "
          f"(other than the markers: {others or 'none'}), stderr "
          f"{'empty' if not stderr else repr(stderr[-300:])}")  # fmt: skip
    print("RSS by simulated day: " + ", ".join(f"d{d}={kib / 1024:.1f}" for d, kib in trail)
          + " MiB")  # fmt: skip
    print(f"RSS start (after day {args.warm_days}, {w_rows:,} rows): {w_rss / 1024:.1f} MiB")
    print(f"RSS end   (after day {args.days}, {e_rows:,} rows): {e_rss / 1024:.1f} MiB")
    print(f"RSS peak {peak / 1024:.1f} MiB; growth start->end {growth_mb:+.2f} MiB")
    print(f"CPU per row: {per_row_us:.1f} us start->end ({e_rows - w_rows:,} rows, "
          f"{e_cpu - w_cpu:.2f} s); {all_us:.1f} us over the whole run ({e_cpu:.2f} s, "
          f"{d1_cpu:.2f} s of it by the end of day 1: start-up, CSV load, day 1)")  # fmt: skip
    ok = growth_mb <= args.max_growth_mb and code == 0
    verdict = "PASS" if ok else "FAIL"
    print(f"{verdict}: RSS growth {growth_mb:+.2f} MiB over {args.days - args.warm_days} "
          f"simulated days (limit {args.max_growth_mb} MB), exit {code}")  # fmt: skip
    return 0 if ok else 1


Sample = tuple[int, int, float]  # rows streamed, RSS KiB, CPU s


def follow(
    proc: subprocess.Popen[bytes], lines: Lines, args: argparse.Namespace, started: float
) -> tuple[Sample, Sample, int, list[tuple[int, int]], tuple[int, float]] | None:
    """Sample the child as the day markers come; None when it died or timed out."""
    pid = proc.pid
    per_day = SESSION_MIN + 1
    warm: Sample | None = None
    first: tuple[int, float] | None = None
    peak, trail, seen = 0, [], 0
    while time.perf_counter() - started < args.timeout:
        if proc.poll() is not None:
            return None
        done = lines.days_done()
        if done > seen:
            rss, cpu = rss_kib(pid), cpu_s(pid)  # in the halt after the marker: idle
            first = first or (done * per_day, cpu)  # day 1
            peak = max(peak, rss)
            if done in (1, args.warm_days, args.days) or done % 5 == 0:
                trail.append((done, rss))
            if warm is None and done >= args.warm_days:
                warm = (done * per_day, rss, cpu)
            seen = done
            if done >= args.days:
                assert warm is not None
                assert first is not None
                return warm, (done * per_day, rss, cpu), peak, trail, first
        time.sleep(0.005)
    return None


if __name__ == "__main__":
    sys.exit(main())
