"""Live timing end to end (real worker, fake Supabase on the real Postgres): the watermark
keeps its word after a feed stops inside a bucket, and a row dated 2030 costs only itself."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from engine.timefmt import iso, parse_iso
from tests.e2e.livekit import (
    ROOT,
    Inserter,
    WorkerProcess,
    insert_now,
    read_jsonl,
    recent_rows,
)
from tests.e2e.test_live_faults import _cut, _states
from tests.e2e.test_live_supabase import _env
from tests.e2e.test_worker_lease import stamp
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.realtime_server import FakeRealtime

GRACE = 30.0  # short enough for a test; today's bug doubled it (a re-read restarted it)


def _bucket_end(row: dict[str, Any], minutes: int = 5) -> int:
    """Close of the `minutes` bucket holding the bar a row's receipt ts points at."""
    bar_open = int(parse_iso(row["ts"])) // 60 * 60 - 60
    return bar_open - bar_open % (minutes * 60) + minutes * 60


async def test_a_bucket_whose_last_minute_never_comes_closes_a_grace_after_the_last_new_row(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    rows = recent_rows(400, seed=4)
    insert_now(pg_dsn, rows[:300])
    worker = WorkerProcess(_env(fake_realtime, fake_postgrest, tmp_path, GRACE_SECONDS="30"))
    await worker.start()
    try:
        await worker.wait_for(lambda: _states(worker, "READY") == 1, 60, "subscription")
        cut = _cut(rows, 330, (5, 2))  # the third minute of a 5m bucket: the feed stops there
        async with Inserter(pg_dsn) as ins:
            await ins.insert(rows[300 : cut + 1])
        last_new_row = time.time()
        closes_at = iso(_bucket_end(rows[cut]))

        def closed() -> list[dict[str, Any]]:
            return [e for e in worker.named("market_state") if e["at"] == closes_at]

        await worker.wait_for(lambda: bool(closed()), GRACE + 60, "the watermark's close")
    finally:
        assert await worker.stop() == 0
    elapsed = stamp(closed()[0]) - last_new_row
    assert GRACE - 1 <= elapsed <= GRACE + 20, elapsed  # today: 2 x GRACE (a re-read restarted it)
    checks = [stamp(e) for e in worker.named("backfill_done") if e["why"] == "gap_check"]
    assert [e for e in worker.named("backfill_done") if e["why"] == "gap_check" and e["rows"]]
    assert any(0 <= stamp(closed()[0]) - t <= 2.0 for t in checks), checks  # asked right before


async def _replay_table(rest_url: str, since: str, out: Path, symbol: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE")}
    env |= {"SUPABASE_URL": rest_url, "SUPABASE_KEY": API_KEY}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker", "replay", "--source", "supabase", "--symbol", symbol,
        "--since", since, "--out", str(out), "--no-progress", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-2000:]
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


async def test_a_live_2030_row_costs_only_itself_and_live_still_equals_replay(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    rows = recent_rows(3000, seed=6)
    insert_now(pg_dsn, rows[:2400])
    bad = rows[2700] | {"ts": "2030-01-01T00:00:30+00:00"}
    worker = WorkerProcess(_env(fake_realtime, fake_postgrest, tmp_path / "live", SYMBOLS="mes"))
    await worker.start()
    try:
        await worker.wait_for(lambda: _states(worker, "READY") == 1, 60, "subscription")
        async with Inserter(pg_dsn) as ins:
            await ins.insert(rows[2400:2700])
            await ins.insert([bad])
            await ins.insert(rows[2700:])
        last = rows[-1]["ts"][:16]
        await worker.wait_for(
            lambda: any(e["at"][:16] == last for e in worker.named("action_plan")),
            60, "the last decision",
        )  # fmt: skip
    finally:
        assert await worker.stop() == 0
    counts = worker.named("worker_stopped")[0]["counts"]
    assert counts["rejected.future_timestamp"] == 1
    assert counts.get("late", 0) == 0
    rejected = [e for e in worker.named("row_rejected") if e["reason"] == "future_timestamp"]
    assert len(rejected) == 1 and "2030-01-01T00:00:30" in json.dumps(rejected[0])
    assert not [e for e in worker.named("action_plan") if e["at"].startswith("2030")]
    # The table read back in ts order puts the 2030 row last: the replay rejects it too.
    summary = await _replay_table(fake_postgrest.url, rows[0]["ts"], tmp_path / "replay", "mes")
    assert summary["rejected_by_reason"].get("time_jump") == 1 and summary["late"] == 0
    live_bars = read_jsonl(tmp_path / "live" / "bars.jsonl")
    assert live_bars and live_bars == read_jsonl(tmp_path / "replay" / "bars.jsonl")
    live = read_jsonl(tmp_path / "live" / "decisions.jsonl")
    replay = read_jsonl(tmp_path / "replay" / "decisions.jsonl")
    assert live and live == replay[len(replay) - len(live) :]
