"""The far side of bench/close_to_order.py, in its own process: the ProjectX gateway fake
and, unless --no-hub, the user hub fake (tests.fakes), so neither runs on the worker's
interpreter (its GIL) or event loop.

    python -m bench._gateway_server --accounts 2001,2002 [--no-hub]

(run from the repository root). Prints one JSON line {"url": .., "hub": .. or null}, then
answers JSON commands, one a line, on stdin with one JSON line each:

    {"cmd": "latency", "s": 0.05}   every request from now on takes that round trip longer
    {"cmd": "requests", "since": i} requests i.. as [path, accountId, customTag, arrived_ns]
                                    (arrived_ns: time.perf_counter_ns(), CLOCK_MONOTONIC on
                                    Linux, the same clock in every process)
    {"cmd": "quit"}

Market orders stay working (no fill, no position): every decision of a rising market
enters.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

from tests.fakes.projectx_gateway import FakeProjectX
from tests.fakes.projectx_wire import ACCOUNT_DEFAULTS
from tests.fakes.signalr_hub import FakeUserHub

USERNAME, API_KEY = "bench", "bench-px"


def reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def answer(gw: FakeProjectX, command: dict[str, Any]) -> dict[str, Any]:
    if command["cmd"] == "latency":
        gw.set_latency(float(command["s"]))
        return {"ok": True}
    rows = []
    for r in gw.requests[int(command["since"]) :]:
        body = r.body if isinstance(r.body, dict) else {}
        rows.append([r.path, body.get("accountId"), body.get("customTag"), r.arrived_ns])
    return {"requests": rows}


async def serve(args: argparse.Namespace) -> None:
    ids = [int(x) for x in args.accounts.split(",")]
    accounts = [{**ACCOUNT_DEFAULTS, "id": i, "name": f"BENCH-{i}"} for i in ids]
    gw = FakeProjectX(
        username=USERNAME, api_key=API_KEY, accounts=accounts, fill_market_orders=False
    )
    async with gw, contextlib.AsyncExitStack() as stack:
        hub = None
        if not args.no_hub:
            hub = await stack.enter_async_context(FakeUserHub(gw.token_valid, ping_interval_s=5.0))
        reply({"url": gw.url, "hub": hub.url if hub is not None else None})
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return  # the bench went away
            command = json.loads(line)
            if command["cmd"] == "quit":
                return
            reply(answer(gw, command))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", required=True, help="account ids, comma-separated")
    parser.add_argument("--no-hub", action="store_true")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
