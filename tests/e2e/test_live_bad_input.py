"""Bad input over the wire is logged and counted, and the worker keeps running."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.livekit import Inserter, WorkerProcess, recent_rows
from tests.e2e.test_live_supabase import _env
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.realtime_server import FakeRealtime


async def test_bad_frames_and_records_are_counted_and_survived(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    rows = recent_rows(400, seed=3)
    worker = WorkerProcess(_env(fake_realtime, fake_postgrest, tmp_path / "live"))
    await worker.start()
    try:
        await worker.wait_for(
            lambda: any(e.get("state") == "READY" for e in worker.named("source_state")),
            30, "subscription",
        )  # fmt: skip
        async with Inserter(pg_dsn) as ins:
            await ins.insert(rows[:200])
            await fake_realtime.send_raw("this is not json")
            await fake_realtime.send_raw('{"event":"no_such_event","topic":"x","payload":{}}')
            good = dict(rows[200])
            await fake_realtime.send_change({"symbol": "MES", "timeframe": "1"})  # no columns
            await fake_realtime.send_change(good | {"c": "abc"})  # wrong type
            await fake_realtime.send_change(good | {"o": [1, 2], "h": {"x": 1}})  # wrong types
            await fake_realtime.send_change(good, errors="Error 413: Payload Too Large")
            await ins.insert(rows[200:])  # numbers arrive as JSON numbers, strings below
            await fake_realtime.send_change(
                {**good, "ts": good["ts"], "o": str(good["o"]), "h": str(good["h"])}
            )
        last = rows[-1]["ts"][:16]
        await worker.wait_for(
            lambda: any(e["at"][:16] == last for e in worker.named("action_plan")),
            60, "decisions after the bad input",
        )  # fmt: skip
    finally:
        assert await worker.stop() == 0
    stopped = worker.named("worker_stopped")[0]
    source, counts = stopped["source"], stopped["counts"]
    assert source["bad_frame.unrecognized_frame"] >= 1
    assert source["bad_event.missing_field"] == 1
    assert source["bad_event.server_error"] == 1
    assert counts["rejected.unparsable_field"] == 2
    assert counts["duplicate"] >= 1  # the string-number copy of a row seen before
    names = {e["event"] for e in worker.events}
    assert {"source_bad_frame", "source_bad_event", "row_rejected"} <= names
