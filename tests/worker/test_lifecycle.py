"""SIGTERM while an order call is in flight: it completes, the worker exits 0 in time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from tests.fakes.projectx_gateway import FakeProjectX

ROOT = Path(__file__).resolve().parents[2]


async def test_sigterm_during_order_placement(tmp_path: Path) -> None:
    async with FakeProjectX(username="trader", api_key="lifecycle-key") as gateway:
        gateway.delay("Order/place", 3.0, n=None)  # every placement takes 3 s to answer
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE", "ACCOUNT_"))}
        env |= {
            "LOG_FORMAT": "json", "SAMPLE_SPEED": "3000", "SAMPLE_LIVE_ROWS": "300",
            "BROKER": "projectx", "PROJECTX_BASE_URL": gateway.url,
            "PROJECTX_USERNAME": "trader", "PROJECTX_API_KEY": "lifecycle-key",
            "ACCOUNT_MAIN": "1001", "TRADE_ACCOUNTS": "main", "TRADING_ENABLED": "true",
            "STATE_DIR": str(tmp_path / "state"),
        }  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", "run", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while gateway.place_calls == 0:
            assert time.monotonic() < deadline, "no order was placed"
            assert proc.returncode is None, (await proc.stderr.read()).decode()[-2000:]
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the request is at the gateway, its answer 3 s away
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        out, err = await asyncio.wait_for(proc.communicate(), 15)
        took = time.monotonic() - signalled
        orders = [o for o in gateway.orders(1001) if o.get("customTag")]
    assert proc.returncode == 0, err.decode()[-2000:]
    assert took < 10.0
    events = [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
    names = [e["event"] for e in events]
    assert "worker_stopping" in names and names[-1] == "worker_stopped"
    stopping = next(e for e in events if e["event"] == "worker_stopping")
    assert stopping["order_in_flight"] is True
    placed = [e for e in events if e["event"] == "order_placed"]
    assert len(orders) == 1 == len(placed)
    assert placed[0]["tag"] == orders[0]["customTag"]
