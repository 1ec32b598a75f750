"""Decision-to-order latency with notifications on, against a notification service that
works, hangs, answers 500 or refuses connections — and without notifications.

    .venv/bin/python bench/notify_latency.py [--decisions N]

Acceptance point of issue 14: a notification service in trouble changes nothing for
orders (decision-to-order latency unchanged within noise). Printed, not asserted.

In this process: the fake ProjectX gateway (tests/fakes, real HTTP on loopback), the
worker's own ProjectX broker wiring (worker/app.py: client, contexts, executor with
its durable intents) and `Trader`, JSON logs to a temp file with the notifier's tap
installed as the worker does (adapters/logs.py). Each decision is a fresh instant whose
frames all trend up, so it is a BUY and its order goes out (the gateway leaves market
orders working, so no position blocks the next). Latency per decision = the
`order_placed` line's stamp - the `action_plan` line's stamp (a processor stamps each
line with time.perf_counter_ns() as it is logged); `on_state` = the whole decision
(context reads, decide, order call). Every run logs each decision's notes: with
NOTIFY_DRY_RUN-style signals off, an order is one note (`order_placed`).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from adapters.files.jsonl import NullRecorder  # noqa: E402
from adapters.logs import configure_logging  # noqa: E402
from adapters.notify import Notes, Notifier, SendPolicy  # noqa: E402
from engine.decide import HoldFirstDecider  # noqa: E402
from engine.model import ClosedBar, MarketState  # noqa: E402
from tests.fakes.notify_receiver import NotifyReceiver  # noqa: E402
from tests.fakes.ports import ReservedPort  # noqa: E402
from tests.fakes.projectx_gateway import FakeProjectX  # noqa: E402
from worker.app import projectx_broker  # noqa: E402
from worker.settings import Settings  # noqa: E402
from worker.trader import Trader  # noqa: E402

KEY = "bench-key"
MODES = ("off", "ok", "hang", "error", "refused")


class Stamps:
    """structlog processor: perf_counter_ns of each action_plan / order_placed line."""

    def __init__(self) -> None:
        self.plans: list[int] = []
        self.orders: list[int] = []

    def __call__(
        self, _logger: object, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        name = event.get("event")
        if name == "action_plan":
            self.plans.append(time.perf_counter_ns())
        elif name == "order_placed":
            self.orders.append(time.perf_counter_ns())
        return event


def state(at: int) -> MarketState:
    frames = tuple(
        ClosedBar("MES", tf, at - tf * 60, at, 5000.0, 5001.0, 4999.0, 5000.5, 10.0, tf,
                  5000.0, 0.001, "trend_up", 100)
        for tf in (5, 15, 30)
    )  # fmt: skip
    return MarketState("MES", at, frames, frames)


async def run_mode(mode: str, decisions: int, state_dir: Path) -> dict[str, Any]:
    async with FakeProjectX(username="bench", api_key=KEY, fill_market_orders=False) as gateway:
        settings = Settings(
            broker="projectx", trading_enabled=True, supabase_url="http://127.0.0.1:9",
            supabase_key="k", projectx_base_url=gateway.url, projectx_username="bench",
            projectx_api_key=KEY, account_ids={"main": 1001}, trade_accounts="main",
            override_contract_id="CON.F.US.MES.Z25", state_dir=state_dir,
            projectx_user_hub_url="http://127.0.0.1:9/hubs/user",
        )  # type: ignore[arg-type]  # fmt: skip
        with (
            NotifyReceiver(
                "error" if mode == "error" else "hang" if mode == "hang" else "ok"
            ) as rx,
            ReservedPort() as dead,
        ):
            url = f"json://127.0.0.1:{dead.port}/n" if mode == "refused" else rx.url()
            return await _measure(mode, url, settings, decisions)


async def _measure(mode: str, url: str, settings: Settings, decisions: int) -> dict[str, Any]:
    stamps = Stamps()
    notifier = None
    if mode != "off":
        policy = SendPolicy(timeout_s=1.0, retries=2, backoff_initial_s=0.2, backoff_cap_s=1.0)
        notifier = Notifier.build([url], Notes(), policy, settings.secrets())
    log = io.StringIO()
    configure_logging(
        "INFO", "json", settings.secrets(), stream=log, event_counts=Counter(),
        taps=[stamps, *([notifier.tap] if notifier else [])],
    )  # fmt: skip
    broker = projectx_broker(settings, None)
    for phase in broker.startup:
        if phase.name != "user_hub":
            await phase.run()
    trader = Trader(
        decider=HoldFirstDecider(settings.decision_config()),
        accounts=broker.accounts, contexts=broker.contexts, executor=broker.executor,
        recorder=NullRecorder(),
        contracts=broker.contracts,
    )  # fmt: skip
    if notifier is not None:
        notifier.start()
    # Instants on the minute, far from the get-flat window: now's minute, going back.
    base = int(time.time()) // 60 * 60
    on_state = []
    for i in range(decisions):
        started = time.perf_counter_ns()
        await trader.on_state(state(base - 60 * (decisions - i)))  # a fresh tag each
        on_state.append((time.perf_counter_ns() - started) / 1e6)
    if len(stamps.orders) != len(stamps.plans):
        odd = [x for x in log.getvalue().splitlines() if '"order_' in x and "order_placed" not in x]
        raise SystemExit(
            f"{mode}: {len(stamps.orders)} orders for {dict(trader.counts)}: {odd[:2]}"
        )
    latencies = [(o - p) / 1e6 for p, o in zip(stamps.plans, stamps.orders, strict=True)]
    if notifier is not None:
        notifier.close(1.0)  # what is still queued after the run: abandoned, counted
    counts = notifier.counts if notifier is not None else {}
    for hook in reversed(broker.shutdown):
        await hook()
    configure_logging("INFO", "json", stream=io.StringIO())  # a hanging send logs later: not here
    return {"latencies": latencies, "on_state": on_state, "counts": counts}


def flat_window_is_far() -> bool:
    """The default get-flat window (15:07-17:00 CT) must not hold the bench's instants."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    hour = datetime.now(ZoneInfo("America/Chicago")).hour
    return not 14 <= hour <= 17


async def main_async(decisions: int, rounds: int) -> None:
    """The modes interleaved, `rounds` times (the machine's noise spreads over all)."""
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode in MODES:
            with tempfile.TemporaryDirectory() as tmp:
                runs[mode].append(await run_mode(mode, decisions, Path(tmp)))
    print(f"decision -> order latency: {rounds} rounds x {decisions} BUY decisions per mode, "
          "fake ProjectX on loopback, modes interleaved")  # fmt: skip
    print(f"{'notify target':<14} {'orders':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
          f"{'on_state p50':>12} {'sent':>5} {'failed':>6} {'dropped':>7}")  # fmt: skip
    for mode, results in runs.items():
        lat = sorted(x for r in results for x in r["latencies"])
        whole = [x for r in results for x in r["on_state"]]
        counts: Counter[str] = Counter()
        for r in results:
            counts.update(r["counts"])
        p95 = lat[int(0.95 * (len(lat) - 1))]
        print(f"{mode:<14} {len(lat):>6} {statistics.median(lat):>8.2f} {p95:>8.2f} "
              f"{lat[-1]:>8.2f} {statistics.median(whole):>12.2f} {counts['sent']:>5} "
              f"{counts['failed']:>6} {counts['dropped']:>7}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # ProjectX allows 200 requests a minute (the client's local budget refuses beyond it)
    # and a decision costs about five (context reads and the order): 30 stay well inside.
    parser.add_argument("--decisions", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not flat_window_is_far():
        print("note: near the get-flat window (15:07-17:00 CT): decisions may HOLD")
    asyncio.run(main_async(args.decisions, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
