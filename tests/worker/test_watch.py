"""The feed watch logs each turn of the /healthz rule once: `feed_stale` with its
reason when it goes unhealthy, `feed_recovered` with how long when it is healthy again."""

from __future__ import annotations

from typing import Any

from structlog.testing import capture_logs

from worker.watch import FeedWatch


def test_feed_stale_and_recovered_once_per_turn() -> None:
    now = [1000.0]
    answer: list[tuple[bool, dict[str, Any]]] = [(True, {})]
    watch = FeedWatch("supabase", lambda: answer[0], clock=lambda: now[0])
    with capture_logs() as logs:
        watch.check()
        answer[0] = (False, {"reason": "last row 200 s old inside the session"})
        watch.check()
        now[0] += 30
        watch.check()
        now[0] += 30
        answer[0] = (True, {})
        watch.check()
        watch.check()
    assert [(e["event"], e.get("reason"), e.get("stale_s")) for e in logs] == [
        ("feed_stale", "last row 200 s old inside the session", None),
        ("feed_recovered", None, 60),
    ]
