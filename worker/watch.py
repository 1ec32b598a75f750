"""What the worker watches for the trader while it runs: the feed's health turning
(`feed_stale` / `feed_recovered`, by the `/healthz` rule) and the trading day's end
(`daily_summary` per account after 17:00 CT, with notifications configured)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from adapters import events
from adapters.notify import Notifier
from worker.health import HealthFn

WATCH_S = 2.0  # how often the feed's health and the day are looked at


class FeedWatch:
    """Logs the turns of `health` (the /healthz rule) once the worker has started."""

    def __init__(self, source: str, health: HealthFn, clock: Callable[[], float] = time.time):
        self.source = source
        self.health = health
        self.clock = clock
        self.stale_since: float | None = None

    def check(self) -> None:
        ok, details = self.health()
        now = self.clock()
        if not ok and self.stale_since is None:
            self.stale_since = now
            events.feed_stale(source=self.source, reason=str(details.get("reason")))
        elif ok and self.stale_since is not None:
            events.feed_recovered(source=self.source, stale_s=now - self.stale_since)
            self.stale_since = None


async def watch(feed: FeedWatch, started: Callable[[], bool], notifier: Notifier | None) -> None:
    """Until cancelled: every WATCH_S, the day's end and (once started) the feed."""
    while True:
        await asyncio.sleep(WATCH_S)
        if notifier is not None:
            for summary in notifier.notes.roll():
                events.daily_summary(**summary)
        if started():
            feed.check()
