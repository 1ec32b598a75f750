"""Close to order: the frame carrying a bar's last minute read off the worker's socket ->
each account's `Order/place` reaching the ProjectX gateway.

    .venv/bin/python bench/close_to_order.py [--accounts 1,3,5] [--decisions 40]
                                             [--latency-ms 50] [--no-hub]

Acceptance figure of issue 15 (PLANS.md): p99 for the LAST account's order <= 2 x the
injected round trip + 10 ms, for 1, 3 and 5 accounts. Requests per decision per account
are counted at the gateway, for the rate budget (200 requests / 60 s).

Setup, per account count: a scratch PostgreSQL database (tests.fakes.pg) with an hour of
history; FakePostgrest + FakeRealtime in another process (bench/_latency_server.py, a
steady rise: every decision is a BUY); the ProjectX gateway fake and, unless `--no-hub`,
the user hub fake in a third (bench/_gateway_server.py), the gateway with `set_latency`:
every request takes the round trip longer, half on its way in (where its arrival is
stamped), half on the answer's way back; market orders stay working (no fill, so no
position: every decision enters). The worker is the real one, in this process:
`build(load_settings(...))` + `worker.run.run`, BROKER=projectx, TRADING_ENABLED=true,
TIMEFRAMES=1,2 (a decision on every row).

Measurement: realtime-py's websocket is instrumented as in bench/live_latency.py (the
event loop's read of each frame, time.perf_counter_ns); the fake stamps each request's
arrival with the same clock (CLOCK_MONOTONIC: one clock for every process on Linux).
One row at a time: the next row is sent once the previous decision is over (no
queueing). The client's local rate budget is lifted for the run (the bench decides far
more often than once per 5 minutes); the requests it counts show what a decision costs
against the real budget.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
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
sys.path.insert(0, str(ROOT))  # bench.*, tests.fakes

from bench.live_latency import KEY, Probe, ServerProcess, instrument_realtime  # noqa: E402

WARM = 60  # minutes of history: the 1m/2m EMA(5) is defined long before the live rows
LEAD_IN = 3  # live rows before the measured ones (the first decisions after the warm-up)
BASE_ACCOUNT = 2001
SYMBOL = "MES"
BUDGET = (200, 60.0)  # the gateway's: requests per window (s)
DECISION_EVERY_S = 300.0  # one decision per 5 minutes (TIMEFRAMES=5,15,30 in production)


@dataclass
class Run:
    accounts: int
    latency_ms: float
    per_decision: list[dict[str, float]] = field(default_factory=list)  # account -> ms
    # the last account's order: frame read -> its Position/searchOpen arrives, and from
    # there -> its Order/place arrives (ms)
    to_read: list[float] = field(default_factory=list)
    read_to_place: list[float] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)  # path -> count, measured rows
    decisions: int = 0
    missing: int = 0  # measured rows without an order for every account


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values`."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def close_of(ts: str) -> int:
    """Bar close (epoch s) of a row received at `ts` (ts = close + 2 s)."""
    return int(datetime.fromisoformat(ts).timestamp()) // 60 * 60


def frame_reads(probe: Probe) -> dict[int, int]:
    """Bar close -> perf_counter_ns when the worker's loop read the frame carrying it."""
    out: dict[int, int] = {}
    for perf_ns, _wall_ns, data in probe.rx:
        if b'"postgres_changes"' not in data:
            continue
        frame = json.loads(data)
        if frame.get("event") == "postgres_changes":
            out.setdefault(close_of(frame["payload"]["data"]["record"]["ts"]), perf_ns)
    return out


async def wait_until(what: str, done: Any, worker: asyncio.Task[int], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done():
        if worker.done():
            worker.result()
            raise RuntimeError(f"the worker stopped while waiting for {what}")
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


class GatewayProcess(ServerProcess):
    """bench/_gateway_server.py: the gateway fake (and the hub fake) in another process."""

    def __init__(self, account_ids: list[int], hub: bool) -> None:
        super().__init__("", 0)
        self.args = ["--accounts", ",".join(map(str, account_ids)), *(() if hub else ("--no-hub",))]
        self.seen = 0  # requests fetched so far

    async def start(self) -> dict[str, Any]:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench._gateway_server",
            *self.args,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return await self._reply(30)

    async def new_requests(self) -> list[tuple[str, int | None, str | None, int]]:
        """Requests that reached the fake since the last call: path, accountId,
        customTag, arrival (perf_counter_ns)."""
        rows = (await self.request({"cmd": "requests", "since": self.seen}, 10))["requests"]
        self.seen += len(rows)
        return [(path.removeprefix("/api/"), account, tag, ns) for path, account, tag, ns in rows]


def worker_settings(
    args: argparse.Namespace, urls: dict[str, Any], gateway: dict[str, Any], ids: dict[str, int]
) -> Any:
    from tests.e2e.livekit import NO_HUB, far_flat_window
    from worker.settings import load_settings

    return load_settings(
        supabase_url=urls["rest"],
        supabase_realtime_url=urls["realtime"],
        supabase_key=KEY,
        symbols=SYMBOL,
        broker="projectx",
        projectx_base_url=gateway["url"],
        projectx_username="bench",
        projectx_api_key="bench-px",
        projectx_user_hub_url=gateway["hub"] or NO_HUB,
        account_ids=ids,
        trade_accounts=",".join(ids),
        trading_enabled=True,
        state_dir=Path(tempfile.mkdtemp(prefix="close_to_order_")),
        health_port=0,
        timeframes="1,2",
        ema_period=5,
        slope_window=3,
        warmup_bars=0,
        warmup_days=1,
        max_signal_age_seconds=86_400,
        log_format="json",
        log_level="INFO",
        out_dir=None,
        **{k.lower(): v for k, v in far_flat_window().items()},
    )


async def run_one(args: argparse.Namespace, n: int, probe: Probe, log: Any) -> Run:
    from tests.fakes import pg

    minutes = WARM + LEAD_IN + args.decisions
    base = int(time.time()) // 60 * 60 - minutes * 60 - 60  # the last row: a minute ago
    ids = {f"a{i + 1}": BASE_ACCOUNT + i for i in range(n)}
    dsn = pg.create_database()
    server = ServerProcess(dsn, base, WARM, "--trend")
    gateway = GatewayProcess(list(ids.values()), hub=not args.no_hub)
    try:
        pg.prepare_supabase_shape(dsn)
        with pg.connect(dsn) as conn:
            conn.execute("alter table public.tv_datafeed add column sent_ns bigint")
        urls = await server.start()
        settings = worker_settings(args, urls, await gateway.start(), ids)
        return await measure(args, settings, (server, gateway), base, probe, log)
    finally:
        await gateway.stop()
        await server.stop()
        pg.drop_database(dsn)


async def measure(
    args: argparse.Namespace,
    settings: Any,
    far: tuple[ServerProcess, GatewayProcess],
    base: int,
    probe: Probe,
    log: Any,
) -> Run:
    """Start the worker, stream the rows one decision at a time, stop it."""
    from adapters.logs import configure_logging
    from adapters.projectx.budget import RateBudget
    from worker.app import build
    from worker.run import run

    gateway = far[1]
    app = build(settings, configure_logs=False)
    configure_logging(settings.log_level, settings.log_format, settings.secrets(), log)
    contexts = app.trader.contexts  # ProjectXContexts, inside the pause switch (issue 14)
    client = getattr(contexts, "inner", contexts).client
    client.all_budget = RateBudget(10**9, BUDGET[1])  # measured, not enforced, here
    worker = asyncio.create_task(run(app))
    try:
        if not await wait_until("the subscription", lambda: app.source.live, worker, 60):
            raise RuntimeError("the worker did not subscribe within 60 s")
        if not args.no_hub:  # the hub's reconcile after subscribing reads Order/search last
            seen: list[str] = []
            while "Order/search" not in seen:
                seen += [path for path, *_ in await gateway.new_requests()]
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        await gateway.new_requests()
        await gateway.request({"cmd": "latency", "s": args.latency_ms / 1000}, 10)
        result = Run(len(settings.accounts), args.latency_ms)
        for k in range(LEAD_IN + args.decisions):
            await one_decision(app, worker, far, base, WARM + k, probe, result, k >= LEAD_IN)
        return result
    finally:
        await gateway.request({"cmd": "latency", "s": 0}, 10)
        if not worker.done():
            signal.raise_signal(signal.SIGTERM)  # run()'s handler: a clean stop
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(worker, 30)
        with contextlib.suppress(Exception):
            await app.source.history_client.aclose()  # type: ignore[attr-defined]


async def one_decision(
    app: Any,
    worker: asyncio.Task[int],
    far: tuple[ServerProcess, GatewayProcess],
    base: int,
    index: int,
    probe: Probe,
    result: Run,
    measured: bool,
) -> None:
    """Send row `index`, wait until its decision is over, note what it cost."""
    from engine.execution import entry_tag

    server, gateway = far
    names = app.trader.accounts
    ids = app.settings.account_ids
    at = base + 60 * (index + 1)
    tags = {entry_tag(name, SYMBOL, at): name for name in names}
    decided = sum(app.trader.counts.values())
    command = {"cmd": "stream", "via": "send_change", "start": index, "count": 1, "gap_us": 0}
    await server.request(command, timeout_s=30)
    await wait_until(
        f"the decision at {at}",
        lambda: (
            sum(app.trader.counts.values()) >= decided + len(names)
            and not app.trader.serial.locked()
        ),
        worker,
        30,
    )
    new = await gateway.new_requests()
    if not measured:
        return
    rx = frame_reads(probe).get(at)
    places = {tags[tag]: ns for path, _, tag, ns in new if path == "Order/place" and tag in tags}
    result.decisions += 1
    result.requests.update(path for path, *_ in new)
    if rx is None or len(places) != len(names):
        result.missing += 1
        return
    result.per_decision.append({name: (ns - rx) / 1e6 for name, ns in places.items()})
    last = max(places, key=lambda name: places[name])
    reads = [
        ns for path, account, _, ns in new if path == "Position/searchOpen" and account == ids[last]
    ]
    if reads:
        result.to_read.append((reads[0] - rx) / 1e6)
        result.read_to_place.append((places[last] - reads[0]) / 1e6)
    await asyncio.sleep(0.02)


def report(args: argparse.Namespace, runs: list[Run]) -> None:
    rtt = args.latency_ms
    target = 2 * rtt + 10
    hub = "user hub fake connected" if not args.no_hub else "no user hub (REST gates)"
    print(
        f"\nclose to order: frame with the bar's last minute read off the worker's socket ->"
        f" Order/place reaching the gateway fake\n(injected round trip {rtt:g} ms per request,"
        f" TRADING_ENABLED=true, {hub}, one decision at a time; ms)"
    )
    header = (
        f"{'accounts':>8}{'decisions':>10}{'p50 last':>10}{'p90 last':>10}{'p99 last':>10}"
        f"{'max last':>10}"
        f"{'p50 first':>10}{'p99 all':>9}  target p99 last <= {target:g} ms"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        last = [max(d.values()) for d in r.per_decision]
        first = [min(d.values()) for d in r.per_decision]
        every = [v for d in r.per_decision for v in d.values()]
        if not last:
            print(f"{r.accounts:>8}{r.decisions:>10}  no complete decision ({r.missing} missing)")
            continue
        verdict = "PASS" if pct(last, 0.99) <= target else "FAIL"
        print(
            f"{r.accounts:>8}{len(last):>10}{pct(last, 0.5):>10.1f}{pct(last, 0.9):>10.1f}"
            f"{pct(last, 0.99):>10.1f}"
            f"{max(last):>10.1f}{pct(first, 0.5):>10.1f}{pct(every, 0.99):>9.1f}  {verdict}"
            + (f" ({r.missing} decisions without every order)" if r.missing else "")
        )
    print(
        f"\nthe last account's order in two legs (ms; the injected latency alone: "
        f"{rtt / 2:g} + {rtt:g}):"
    )
    for r in runs:
        legs = [("frame read -> Position/searchOpen arrives", r.to_read)]
        legs.append(("Position/searchOpen -> Order/place arrives", r.read_to_place))
        for name, values in legs:
            if values:
                print(
                    f"  {r.accounts} account(s): {name:<44} p50 {pct(values, 0.5):6.1f}"
                    f"  p99 {pct(values, 0.99):6.1f}"
                )
    print("\nrequests per decision per account (at the gateway, measured rows):")
    for r in runs:
        per = r.decisions * r.accounts
        if not per:
            continue
        parts = ", ".join(f"{path} {count / per:.2f}" for path, count in sorted(r.requests.items()))
        total = sum(r.requests.values()) / per
        per_window = total * r.accounts * BUDGET[1] / DECISION_EVERY_S
        print(
            f"  {r.accounts} account(s): {total:.2f} ({parts});"
            f" at one decision / {DECISION_EVERY_S / 60:g} min: {per_window:.2f} requests /"
            f" {BUDGET[1]:g} s of the budget's {BUDGET[0]} (a 15m/30m close at the same"
            f" instant is the same decision)"
        )


async def main_async(args: argparse.Namespace) -> list[Run]:
    probe = Probe()
    instrument_realtime(probe)
    runs = []
    log_fd, log_path = tempfile.mkstemp(prefix="close_to_order_", suffix=".jsonl")
    try:
        with os.fdopen(log_fd, "w") as log:
            for n in args.accounts:
                runs.append(await run_one(args, n, probe, log))
                probe.rx.clear()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(log_path)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--accounts",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[1, 3, 5],
        help="account counts, comma-separated (default 1,3,5)",
    )
    parser.add_argument("--decisions", type=int, default=40, help="measured per count")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="round trip per request")
    parser.add_argument("--no-hub", action="store_true", help="no user hub: gates from REST")
    args = parser.parse_args(argv)
    if args.decisions < 1 or min(args.accounts) < 1 or args.latency_ms < 0:
        parser.error("--decisions >= 1, --accounts >= 1, --latency-ms >= 0")
    runs = asyncio.run(main_async(args))
    report(args, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
