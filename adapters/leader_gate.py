"""Only the lease holder trades: an Executor wrapper that checks leadership per order."""

from __future__ import annotations

from adapters import events
from engine.execution import PlaceEntry
from engine.model import MarketState
from engine.ports import Executor, Lease


class LeaderGate:
    """Forwards an entry only if `lease.is_leader` at submit time; a standby logs the
    complete intent as `order_skipped` (reason "standby"), as DisabledExecutor does."""

    reason = "standby"

    def __init__(self, executor: Executor, lease: Lease) -> None:
        self.executor = executor
        self.lease = lease
        self.skipped = 0

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        if self.lease.is_leader:
            await self.executor.submit(entry, state)
            return
        self.skipped += 1
        events.order_skipped(
            entry,
            reason=self.reason,
            message="standby: another instance holds the trading lease, order not sent",
        )
