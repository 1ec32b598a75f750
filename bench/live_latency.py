"""Live latency: a row's arrival on the worker's socket -> its `action_plan` log line.

    .venv/bin/python bench/live_latency.py [--rows N] [--burst-rows M] [--gap-us G]
                                           [--via send_change|insert] [--profile]

Acceptance point of issue 3 (PLANS.md): p99 <= 2 ms on loopback over >= 10,000 rows.

Setup: a scratch PostgreSQL database (tests.fakes.pg) with `WARM` minutes of history;
FakePostgrest + FakeRealtime (tests.fakes) in a separate process
(bench/_latency_server.py), so the server's work never runs on the worker's event loop.
The worker is the real one, in this process: `build(load_settings(...))` and
`worker.run.run(app)`, realtime-py and httpx clients against the fakes, JSON logs.
Only the log stream differs: lines go to a temp file through a wrapper that stamps
each `action_plan` line after it is written.

Measurement, per row that closes a 5-minute bucket (one decision = one action_plan):
the websocket connection realtime-py opens is instrumented (this bench only): its
`data_received` stamps when the event loop read the bytes off the socket, its
`process_event` ties each text frame to that stamp. Latency = action_plan line written
- that frame's socket read, both time.perf_counter_ns() in this process. Intermediate
stamps (realtime-py's callback, Pipeline.ingest, Trader.on_state) give a breakdown. A
second clock: the server stamps each record with time.time_ns() just before sending it
(`sent_ns`, a column the worker ignores): send -> action_plan covers loopback too.

Phases: a paced stream (`--gap-us`, default 1500 us between rows; asyncio's sleep
rounds to the millisecond, so about 2 ms) for the latency target; then, unless
`--burst-rows 0`, an unpaced stream for throughput (latencies there include queueing).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import math
import os
import pstats
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key"
SEED = 1
WARM = 2400  # minutes of history: 80 thirty-minute bars >= WARMUP_BARS (60)
TARGET_P99_MS = 2.0
_perf = time.perf_counter_ns
_wall = time.time_ns


# ----- probes ---------------------------------------------------------------------------


@dataclass
class Probe:
    """Stamps taken inside the worker; everything is decoded after the run."""

    # Only atoms (ints, str, bytes) are kept: holding the parsed payloads would grow the
    # heap the garbage collector walks, and lengthen the worker's own gen-2 pauses.
    rx: list[tuple[int, int, bytes]] = field(default_factory=list)  # perf, wall, frame
    callback: list[tuple[int, str]] = field(default_factory=list)  # realtime-py -> feed, ts
    ingest: list[tuple[int, str]] = field(default_factory=list)  # Pipeline.ingest (live), ts
    state: list[tuple[int, float]] = field(default_factory=list)  # Trader.on_state(at)
    plans: list[tuple[int, int, str]] = field(default_factory=list)  # perf, wall, line
    gc_pauses: list[tuple[int, int, int]] = field(default_factory=list)  # gen, start, ns
    chunk: tuple[int, int] = (0, 0)
    _gc_start: int = 0

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = _perf()
        else:
            now = _perf()
            self.gc_pauses.append((info["generation"], now, now - self._gc_start))


class LogSink:
    """The worker's log stream: lines go to `fd`; action_plan lines are stamped once
    written. structlog's PrintLogger does print(line, file=..., flush=True)."""

    def __init__(self, fd: int, probe: Probe) -> None:
        self._fd = fd
        self._probe = probe
        self._parts: list[str] = []
        self.lines = 0

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        if not self._parts:
            return
        data = "".join(self._parts)
        self._parts.clear()
        os.write(self._fd, data.encode())
        self.lines += 1
        if '"action_plan"' in data:
            self._probe.plans.append((_perf(), _wall(), data))

    def isatty(self) -> bool:
        return False


def instrument_realtime(probe: Probe) -> None:
    """Stamp frames as the event loop reads them off realtime-py's websocket, and the
    feed's callback. Patches realtime-py's module global and one method, in this
    process only."""
    import realtime._async.client as rt_client
    from websockets.frames import Opcode

    from adapters.supabase.realtime import RealtimeFeed

    original_connect = rt_client.connect

    async def connect(*args: Any, **kwargs: Any) -> Any:
        ws = await original_connect(*args, **kwargs)
        data_received, process_event = ws.data_received, ws.process_event

        def on_data(data: bytes) -> None:
            probe.chunk = (_perf(), _wall())
            data_received(data)

        def on_event(event: Any) -> None:
            if event.opcode is Opcode.TEXT:
                probe.rx.append((*probe.chunk, bytes(event.data)))
            process_event(event)

        ws.data_received, ws.process_event = on_data, on_event
        return ws

    rt_client.connect = connect  # type: ignore[assignment]
    on_change = RealtimeFeed._on_change

    def stamped(self: RealtimeFeed, payload: Any) -> None:
        stamp = _perf()
        with contextlib.suppress(Exception):
            probe.callback.append((stamp, payload["data"]["record"]["ts"]))
        on_change(self, payload)

    RealtimeFeed._on_change = stamped  # type: ignore[method-assign]


def instrument_app(app: Any, probe: Probe) -> None:
    """Stamp each live row as the pipeline takes it and each state as the trader does
    (the stream loop looks both methods up on the instances)."""
    from engine.ports import RowReceived

    handle, on_state = app.pipeline.handle, app.trader.on_state

    def probe_handle(event: Any) -> Any:
        if isinstance(event, RowReceived) and event.arrival is not None:  # live rows only
            probe.ingest.append((_perf(), event.row.get("ts")))
        return handle(event)

    async def probe_on_state(state: Any) -> Any:
        probe.state.append((_perf(), state.at))
        return await on_state(state)

    app.pipeline.handle = probe_handle
    app.trader.on_state = probe_on_state


# ----- the far side ---------------------------------------------------------------------


class ServerProcess:
    def __init__(self, dsn: str, base: int, warm: int = WARM, *extra: str) -> None:
        self.dsn, self.base, self.warm, self.extra = dsn, base, warm, extra
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> dict[str, Any]:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench._latency_server",
            "--dsn",
            self.dsn,
            "--key",
            KEY,
            "--seed",
            str(SEED),
            "--base",
            str(self.base),
            "--warm",
            str(self.warm),
            *self.extra,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return await self._reply(60)

    async def request(self, command: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()
        return await self._reply(timeout_s)

    async def _reply(self, timeout_s: float) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
        if not line:
            raise RuntimeError(f"latency server exited ({await self.proc.wait()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            assert proc.stdin is not None
            proc.stdin.write(b'{"cmd": "quit"}\n')
            await proc.stdin.drain()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# ----- the run --------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    start: int  # index of its first minute in the walk
    count: int
    gap_us: int
    sent: dict[str, Any] = field(default_factory=dict)
    profile: pstats.Stats | None = None


async def wait_until(what: str, done: Any, task: asyncio.Task[int], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if task.done():
            task.result()
            raise RuntimeError(f"the worker stopped while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def run_bench(args: argparse.Namespace, dsn: str, base: int, log_fd: int) -> Any:
    from adapters.logs import configure_logging
    from worker.app import build
    from worker.run import run
    from worker.settings import load_settings

    phases = [Phase("paced", WARM, args.rows, args.gap_us)]
    if args.burst_rows:
        phases.append(Phase("unpaced", WARM + args.rows, args.burst_rows, 0))
    minutes = WARM + args.rows + args.burst_rows
    server = ServerProcess(dsn, base)
    probe = Probe()
    sink = LogSink(log_fd, probe)
    try:
        urls = await server.start()
        settings = load_settings(
            supabase_url=urls["rest"],
            supabase_realtime_url=urls["realtime"],
            supabase_key=KEY,
            symbols="MES",
            trading_enabled=False,
            trade_accounts="",
            warmup_days=math.ceil(minutes * 60 / 86_400) + 2,
            log_format="json",
            log_level="INFO",
            out_dir=None,
        )
        instrument_realtime(probe)
        app = build(settings, configure_logs=False)
        configure_logging(settings.log_level, settings.log_format, settings.secrets(), sink)
        instrument_app(app, probe)
        started = time.perf_counter()
        worker = asyncio.create_task(run(app))
        await wait_until("the subscription", lambda: app.source.live, worker, 60)
        ready_s = time.perf_counter() - started
        gc.callbacks.append(probe.on_gc)
        try:
            for phase in phases:
                before = len(probe.ingest)
                profiler = cProfile.Profile() if args.profile and phase.gap_us else None
                if profiler is not None:
                    profiler.enable()
                command = {
                    "cmd": "stream",
                    "via": args.via,
                    "start": phase.start,
                    "count": phase.count,
                    "gap_us": phase.gap_us,
                }
                streaming = asyncio.create_task(server.request(command, timeout_s=300))
                await asyncio.wait({streaming, worker}, return_when=asyncio.FIRST_COMPLETED)
                if not streaming.done():  # the worker stopped first
                    streaming.cancel()
                    worker.result()
                    raise RuntimeError(f"the worker stopped during the {phase.name} phase")
                phase.sent = streaming.result()
                await wait_until(
                    f"{phase.name}: {phase.count} rows",
                    lambda b=before, n=phase.count: len(probe.ingest) - b >= n,
                    worker,
                    60,
                )
                await asyncio.sleep(0.05)  # the last decision is logged after its ingest
                if profiler is not None:
                    profiler.disable()
                    phase.profile = pstats.Stats(profiler)
        finally:
            with contextlib.suppress(ValueError):
                gc.callbacks.remove(probe.on_gc)
            if not worker.done():
                if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
                    signal.raise_signal(signal.SIGTERM)  # run()'s handler: a clean stop
                else:  # no handler yet: a SIGTERM would kill this process
                    worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                code = await asyncio.wait_for(worker, 30)
                if code != 0:
                    raise RuntimeError(f"worker exited {code}")
            with contextlib.suppress(Exception):
                await app.source.history_client.aclose()
    finally:
        await server.stop()
    return phases, probe, sink, ready_s, app


# ----- analysis -------------------------------------------------------------------------


def close_of(ts: str) -> int:
    """Bar close (epoch s) of a row received at `ts` (ts = close + a few seconds)."""
    return int(datetime.fromisoformat(ts).timestamp()) // 60 * 60


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    return values[max(0, math.ceil(q * len(values)) - 1)]


@dataclass
class Result:
    phase: Phase
    latency_ms: list[float]
    wall_ms: list[float]
    stages_us: dict[str, list[float]]
    rx_rate: float
    worker_rate: float
    reasons: Counter[str]
    gc: Counter[int]
    gc_max_ms: float


def analyse(phases: list[Phase], probe: Probe, base: int) -> list[Result]:
    rx: dict[int, tuple[int, int, int]] = {}  # close -> perf, wall, sent_ns
    for perf_ns, wall_ns, data in probe.rx:
        if b'"postgres_changes"' not in data:
            continue
        frame = json.loads(data)
        if frame.get("event") != "postgres_changes":  # the join reply names it too
            continue
        record = frame["payload"]["data"]["record"]
        rx.setdefault(close_of(record["ts"]), (perf_ns, wall_ns, record.get("sent_ns") or 0))
    callback = {}
    for perf_ns, ts in probe.callback:
        callback.setdefault(close_of(ts), perf_ns)
    ingest = {}
    for perf_ns, ts in probe.ingest:
        ingest.setdefault(close_of(ts), perf_ns)
    state = {}
    for perf_ns, at in probe.state:
        state.setdefault(int(at), perf_ns)
    plans = []
    for perf_ns, wall_ns, line in probe.plans:
        event = json.loads(line)
        at = int(datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp())
        plans.append((at, perf_ns, wall_ns, f"{event['action']}.{event['reason_code']}"))
    results = []
    for phase in phases:
        lo, hi = base + 60 * (phase.start + 1), base + 60 * (phase.start + phase.count)
        latency, wall = [], []
        stages: dict[str, list[float]] = {
            "socket read -> realtime-py callback": [],
            "callback -> Pipeline.ingest": [],
            "ingest -> Trader.on_state": [],
            "on_state -> action_plan written": [],
        }
        reasons: Counter[str] = Counter()
        for at, perf_ns, wall_ns, reason in plans:
            if not lo <= at <= hi or at not in rx:
                continue
            rx_perf, _rx_wall, sent_ns = rx[at]
            latency.append((perf_ns - rx_perf) / 1e6)
            if sent_ns:
                wall.append((wall_ns - sent_ns) / 1e6)
            reasons[reason] += 1
            marks = [rx_perf, callback.get(at), ingest.get(at), state.get(at), perf_ns]
            if None not in marks:
                for name, a, b in zip(stages, marks, marks[1:], strict=False):
                    stages[name].append((b - a) / 1e3)  # type: ignore[operator]
        first_rx = min((v[0] for k, v in rx.items() if lo <= k <= hi), default=0)
        last_rx = max((v[0] for k, v in rx.items() if lo <= k <= hi), default=0)
        last_ingest = max((v for k, v in ingest.items() if lo <= k <= hi), default=0)
        rx_rate = (phase.count - 1) / ((last_rx - first_rx) / 1e9) if last_rx > first_rx else 0
        span = (last_ingest - first_rx) / 1e9
        worker_rate = phase.count / span if span > 0 else 0.0
        gc_counts: Counter[int] = Counter()
        gc_max = 0.0
        for generation, end_ns, pause_ns in probe.gc_pauses:
            if first_rx <= end_ns <= last_ingest:
                gc_counts[generation] += 1
                gc_max = max(gc_max, pause_ns / 1e6)
        results.append(
            Result(
                phase,
                sorted(latency),
                sorted(wall),
                {k: sorted(v) for k, v in stages.items()},
                rx_rate,
                worker_rate,
                reasons,
                gc_counts,
                gc_max,
            )
        )
    return results


def report(
    args: argparse.Namespace, results: list[Result], sink: LogSink, ready_s: float, app: Any
) -> None:
    print(
        f"\nlive latency: row frame read off the worker's socket -> action_plan line written"
        f" (loopback, {args.via}, JSON logs, dry run)"
    )
    header = (
        f"{'phase':<24}{'rows':>7}{'sent/s':>9}{'rx/s':>9}{'worker/s':>10}"
        f"{'decisions':>11}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}  target p99 <= 2 ms"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        p = r.phase
        sent = p.sent
        span = (sent["last_ns"] - sent["first_ns"]) / 1e9
        sent_rate = (sent["sent"] - 1) / span if span > 0 else 0.0
        lat = r.latency_ms
        name = f"{p.name} (gap {p.gap_us} us)" if p.gap_us else f"{p.name} (no gap)"
        cells = (
            "".join(f"{v:10.3f}" for v in (pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99), lat[-1]))
            if lat
            else f"{'-':>40}"
        )
        if p.gap_us and lat:
            verdict = "PASS" if pct(lat, 0.99) <= TARGET_P99_MS else "FAIL"
        else:
            verdict = "(throughput run; includes queueing)" if lat else "no decisions"
        print(
            f"{name:<24}{p.count:>7}{sent_rate:>9,.0f}{r.rx_rate:>9,.0f}{r.worker_rate:>10,.0f}"
            f"{len(lat):>11}{cells}  {verdict}"
        )
    print(
        "(latencies in ms; sent/s at the server, rx/s at the worker's socket, worker/s ="
        " rows / (last row ingested - first frame read))\n"
        "method: per row closing a 5m bucket (one decision each), perf_counter_ns when the"
        " action_plan line's write returned\n  minus perf_counter_ns when the worker's event"
        " loop read that frame off realtime-py's websocket\n  (websockets data_received, wrapped"
        " in this process); worker = build(load_settings(...)) + run(app) here, fakes in"
        " another process"
    )
    for r in results:
        if r.wall_ms:
            w = r.wall_ms
            print(
                f"{r.phase.name}: server stamp (time.time_ns before send) -> action_plan:"
                f" p50 {pct(w, 0.5):.3f}  p99 {pct(w, 0.99):.3f}  max {w[-1]:.3f} ms"
            )
    paced = results[0]
    print("\nbreakdown, paced phase (us):")
    for stage, values in paced.stages_us.items():
        if values:
            print(
                f"  {stage:<38} p50 {pct(values, 0.5):8.1f}  p99 {pct(values, 0.99):8.1f}"
                f"  max {values[-1]:8.1f}"
            )
    for r in results:
        gcs = ", ".join(f"gen{g}: {n}" for g, n in sorted(r.gc.items())) or "none"
        print(f"gc during {r.phase.name}: {gcs}; longest pause {r.gc_max_ms:.2f} ms")
    reasons = Counter[str]()
    for r in results:
        reasons.update(r.reasons)
    print(f"decisions by reason: {dict(reasons.most_common())}")
    print(
        f"worker: subscribed and caught up {ready_s:.2f} s after start; warm-up {WARM} rows"
        f" (WARMUP_BARS={app.settings.warmup_bars}); {sink.lines} log lines;"
        f" pipeline counts {dict(app.pipeline.counts)}"
    )
    for r in results:
        if r.phase.profile is not None:
            print(
                f"\ncProfile of the {r.phase.name} phase (latencies above are inflated by"
                " the profiler), top 25 by internal time:"
            )
            r.phase.profile.sort_stats("tottime").print_stats(25)


# ----- main -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="paced rows (default 10000)")
    parser.add_argument(
        "--burst-rows",
        type=int,
        default=10_000,
        help="unpaced rows after the paced ones, 0 = none (default 10000)",
    )
    parser.add_argument(
        "--gap-us", type=int, default=1500, help="pause between paced rows, us (default 1500)"
    )
    parser.add_argument(
        "--via",
        choices=("send_change", "insert"),
        default="send_change",
        help="send_change: the fake pushes each record itself (default);"
        " insert: INSERT into Postgres, NOTIFY, fake, socket",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the paced phase")
    args = parser.parse_args(argv)
    if args.rows < 10 or args.burst_rows < 0 or args.gap_us <= 0:
        parser.error("--rows >= 10, --burst-rows >= 0, --gap-us > 0")
    if (WARM + args.rows + args.burst_rows) * 60 > 58 * 86_400:
        parser.error("too many rows for the 60-day warm-up window")

    sys.path.insert(0, str(ROOT))  # tests.fakes
    from tests.fakes import pg

    minutes = WARM + args.rows + args.burst_rows
    base = int(time.time()) // 1800 * 1800 - minutes * 60 - 3600  # last row an hour ago
    dsn = pg.create_database()
    log_fd, log_path = tempfile.mkstemp(prefix="live_latency_", suffix=".jsonl")
    try:
        pg.prepare_supabase_shape(dsn)
        with pg.connect(dsn) as conn:  # the send stamp; the worker ignores extra columns
            conn.execute("alter table public.tv_datafeed add column sent_ns bigint")
        method = (
            "send_change: FakeRealtime pushes each record itself (no INSERT)"
            if args.via == "send_change"
            else "insert: one autocommit INSERT per row -> NOTIFY -> FakeRealtime"
        )
        print(
            f"rows: {WARM} warm-up in the table, then {args.rows} paced + {args.burst_rows}"
            f" unpaced live rows, MES 1m, ts = close + 2 s; delivery: {method}"
        )
        phases, probe, sink, ready_s, app = asyncio.run(run_bench(args, dsn, base, log_fd))
        results = analyse(phases, probe, base)
        report(args, results, sink, ready_s, app)
    finally:
        os.close(log_fd)
        with contextlib.suppress(OSError):
            os.unlink(log_path)
        pg.drop_database(dsn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
