"""Old news is not a signal: an Executor wrapper that sends an entry only while fresh.

Live, a backfill after an outage replays closes that happened minutes ago; their
decisions are recorded exactly as replay records them (live = replay), but acting on
them now would enter at a price the decision never saw. The age is measured from the
bar's close (`MarketState.at`) to the wall clock at send time.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters import events
from engine.execution import PlaceEntry
from engine.model import MarketState
from engine.ports import Executor


class FreshnessGate:
    """Forwards an entry whose bar closed at most `max_age_s` before `clock()` (epoch s);
    an older one is logged as `order_skipped` (reason "stale_signal", with its age) and
    never sent. Outermost in the executor chain, so a dry run and a standby log it too."""

    reason = "stale_signal"

    def __init__(self, executor: Executor, clock: Callable[[], float], max_age_s: float) -> None:
        self.executor = executor
        self.clock = clock
        self.max_age_s = max_age_s
        self.skipped = 0

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        age = self.clock() - state.at
        if age <= self.max_age_s:
            await self.executor.submit(entry, state)
            return
        self.skipped += 1
        events.order_skipped(
            entry,
            reason=self.reason,
            message=f"stale signal: its bar closed {round(age)} s ago, order not sent",
            warn=True,
            age_s=age,
            max_age_s=self.max_age_s,
        )
