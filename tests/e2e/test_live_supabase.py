"""End to end over the real protocols: Postgres INSERT -> fake Supabase Realtime ->
`python -m worker run` (real realtime-py and httpx clients) -> bars and decisions equal
to the replay of the same table."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.livekit import (
    Inserter,
    WorkerProcess,
    insert_now,
    read_jsonl,
    recent_rows,
    replay_table,
)
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.realtime_server import FakeRealtime

WARM = 2400  # minutes of history before start: > 60 thirty-minute bars
LIVE = 600


def _env(rt: FakeRealtime, rest: FakePostgrest, out: Path, **extra: str) -> dict[str, str]:
    return {
        "SUPABASE_URL": rest.url, "SUPABASE_REALTIME_URL": rt.url, "SUPABASE_KEY": API_KEY,
        "OUT_DIR": str(out), "RECONNECT_INITIAL_SECONDS": "0.2", "RECONNECT_CAP_SECONDS": "2",
        "BROKER": "none",
        **extra,
    }  # fmt: skip


def _first_live_index(live: list[str], replay: list[str]) -> int:
    assert live, "the live run made no decision"
    return replay.index(live[0])


async def test_inserted_rows_reach_the_running_worker_and_match_replay(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    rows = recent_rows(WARM + LIVE)
    insert_now(pg_dsn, rows[:WARM])
    worker = WorkerProcess(_env(fake_realtime, fake_postgrest, tmp_path / "live"))
    await worker.start()
    try:
        await worker.wait_for(lambda: bool(worker.named("warmup_done")), 60, "warm-up")
        await worker.wait_for(
            lambda: any(e.get("state") == "READY" for e in worker.named("source_state")),
            30, "subscription",
        )  # fmt: skip
        async with Inserter(pg_dsn) as inserter:
            await inserter.insert(rows[WARM:])
        last_close = "%sZ" % rows[-1]["ts"][:16].replace("+00:00", "")  # noqa: UP031
        await worker.wait_for(
            lambda: any(e["at"][:16] == last_close[:16] for e in worker.named("action_plan")),
            60, "the last decision",
        )  # fmt: skip
    finally:
        assert await worker.stop() == 0
    assert worker.named("warmup_done")[0]["rows"] >= WARM - 20
    assert worker.named("market_state") and worker.named("action_plan")
    await replay_table(fake_postgrest.url, API_KEY, rows[0]["ts"], tmp_path / "replay")
    live_bars = read_jsonl(tmp_path / "live" / "bars.jsonl")
    replay_bars = read_jsonl(tmp_path / "replay" / "bars.jsonl")
    assert live_bars == replay_bars
    live = read_jsonl(tmp_path / "live" / "decisions.jsonl")
    replay = read_jsonl(tmp_path / "replay" / "decisions.jsonl")
    start = _first_live_index(live, replay)
    assert live == replay[start:]
    assert len(live) >= LIVE // 5 - 2
    counts = worker.named("worker_stopped")[0]["counts"]
    assert counts.get("late", 0) == 0
