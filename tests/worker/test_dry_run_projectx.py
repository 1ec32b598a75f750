"""TRADING_ENABLED=false with the ProjectX broker: contexts come from the gateway, every
BUY/SELL intent is logged, and not one Order/place request reaches the gateway."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.fakes.projectx_gateway import FakeProjectX

ROOT = Path(__file__).resolve().parents[2]


async def test_dry_run_sends_no_order_across_a_whole_run() -> None:
    async with FakeProjectX(username="trader", api_key="dry-run-key") as gateway:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE", "ACCOUNT_"))}
        env |= {
            "LOG_FORMAT": "json", "SAMPLE_SPEED": "10000000", "BROKER": "projectx",
            "PROJECTX_BASE_URL": gateway.url, "PROJECTX_USERNAME": "trader",
            "PROJECTX_API_KEY": "dry-run-key", "ACCOUNT_MAIN": "1001", "TRADE_ACCOUNTS": "main",
            "TRADING_ENABLED": "false", "SAMPLE_LIVE_ROWS": "300",  # 3 reads a decision: 200/min
        }  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", "run", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, err.decode()[-2000:]
    events = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    plans = [e for e in events if e["event"] == "action_plan"]
    entries = [p for p in plans if p["action"] in ("BUY", "SELL")]
    skipped = [e for e in events if e["event"] == "order_skipped"]
    assert entries, "the sample's last session has BUY/SELL decisions"
    assert len(skipped) == len(entries)
    assert all(s["contract"] == "CON.F.US.MES.Z25" and s["reason"] == "trading disabled"
               for s in skipped)  # fmt: skip
    assert gateway.place_calls == 0
    assert len(gateway.calls("Position/searchOpen")) >= len(plans)  # real contexts, each time
    assert "dry-run-key" not in out.decode() + err.decode()
