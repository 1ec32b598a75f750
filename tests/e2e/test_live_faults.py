"""Faults on the live path: drops (mid-bucket, at a bucket boundary), a heartbeat
stall, rows inserted while disconnected, a kill and restart. Afterwards the live run's
bars and decisions are identical to the replay of the same table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.livekit import (
    Inserter,
    WorkerProcess,
    insert_now,
    read_jsonl,
    recent_rows,
    replay_table,
)
from tests.e2e.test_live_supabase import _env
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.realtime_server import FakeRealtime


def _minute(row: dict[str, Any]) -> int:
    return int(row["ts"][14:16]) - 1  # the bar's minute of the hour (ts = close + seconds)


def _cut(rows: list[dict[str, Any]], start: int, minute_mod: tuple[int, int]) -> int:
    """First index >= start whose bar minute satisfies minute % m == r."""
    m, r = minute_mod
    return next(i for i in range(start, len(rows)) if _minute(rows[i]) % m == r)


def _states(worker: WorkerProcess, state: str) -> int:
    return sum(1 for e in worker.named("source_state") if e.get("state") == state)


async def test_drops_stall_and_outage_rows_leave_no_trace(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    rows = recent_rows(4200, seed=5)
    rt = fake_realtime
    worker = WorkerProcess(_env(rt, fake_postgrest, tmp_path / "live", GRACE_SECONDS="4"))
    await worker.start()
    try:
        await worker.wait_for(lambda: _states(worker, "READY") == 1, 30, "subscription")
        mid = _cut(rows, 900, (5, 2))  # inside a 5m bucket
        edge = _cut(rows, 1900, (30, 29))  # the final minute of a 30m bucket
        stall_at = _cut(rows, 2900, (15, 7))
        async with Inserter(pg_dsn) as ins:
            await ins.insert(rows[:mid])
            await rt.drop_all()  # 1: mid-bucket, with rows inserted while disconnected
            await ins.insert(rows[mid : mid + 25])
            await worker.wait_for(lambda: _states(worker, "READY") == 2, 30, "resubscribe 1")
            await ins.insert(rows[mid + 25 : edge])
            await rt.drop_all()  # 2: right before a bucket's final minute
            await ins.insert(rows[edge : edge + 3])
            await worker.wait_for(lambda: _states(worker, "READY") == 3, 30, "resubscribe 2")
            await ins.insert(rows[edge + 3 : stall_at])
            rt.stall(True)  # 3: the socket stays open, nothing comes through
            await ins.insert(rows[stall_at : stall_at + 40], pause_s=0.02)
            await worker.wait_for(lambda: _states(worker, "stale") >= 1, 30, "stale detection")
            rt.stall(False)
            await worker.wait_for(lambda: _states(worker, "READY") == 4, 30, "resubscribe 3")
            third = _cut(rows, stall_at + 200, (5, 0))
            await ins.insert(rows[stall_at + 40 : third])
            await rt.drop_all()  # 4: at a bucket's first minute
            await ins.insert(rows[third:])
        last = rows[-1]["ts"][:16]
        await worker.wait_for(
            lambda: any(e["at"][:16] == last for e in worker.named("action_plan")),
            90, "the last decision",
        )  # fmt: skip
    finally:
        assert await worker.stop() == 0
    assert rt.lost > 0  # the stall really swallowed rows
    await replay_table(fake_postgrest.url, API_KEY, rows[0]["ts"], tmp_path / "replay")
    for name in ("bars.jsonl", "decisions.jsonl"):
        live, replay = read_jsonl(tmp_path / "live" / name), read_jsonl(tmp_path / "replay" / name)
        assert len(live) == len(replay), name
        assert live == replay, name
    counts = worker.named("worker_stopped")[0]["counts"]
    summary = json.loads((tmp_path / "replay" / "summary.json").read_text())
    assert counts.get("late", 0) == summary["late"] == 0
    assert counts.get("conflict", 0) == summary["conflicts"] > 0
    assert counts["accepted"] == summary["rows_accepted"]  # backfill overlaps: no-ops


async def test_restart_mid_stream_first_decision_equals_uninterrupted_run(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    rows = recent_rows(3300, seed=9)
    insert_now(pg_dsn, rows[:2400])
    first = WorkerProcess(_env(fake_realtime, fake_postgrest, tmp_path / "a"))
    await first.start()
    async with Inserter(pg_dsn) as ins:
        await first.wait_for(lambda: _states(first, "READY") == 1, 60, "first subscription")
        await ins.insert(rows[2400:2650])
        await first.stop(kill=True)  # no goodbye: SIGKILL mid-stream
        await ins.insert(rows[2650:2720])  # while no worker runs
        second = WorkerProcess(_env(fake_realtime, fake_postgrest, tmp_path / "b"))
        await second.start()
        try:
            await second.wait_for(lambda: _states(second, "READY") == 1, 60, "restart")
            await ins.insert(rows[2720:])
            last = rows[-1]["ts"][:16]
            await second.wait_for(
                lambda: any(e["at"][:16] == last for e in second.named("action_plan")),
                60, "the last decision",
            )  # fmt: skip
        finally:
            assert await second.stop() == 0
    await replay_table(fake_postgrest.url, API_KEY, rows[0]["ts"], tmp_path / "replay")
    replay = read_jsonl(tmp_path / "replay" / "decisions.jsonl")
    after = read_jsonl(tmp_path / "b" / "decisions.jsonl")
    assert after, "no decision after the restart"
    assert after == replay[replay.index(after[0]) :]
    # ...and that first decision is the first instant after the restart's warm-up data.
    warm_end = rows[2719]["ts"][:16]
    expected = next(line for line in replay if json.loads(line)["at"][:16] > warm_end)
    assert after[0] == expected
