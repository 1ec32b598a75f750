"""Signals-only execution and context: nothing is ever sent anywhere."""

from __future__ import annotations

from adapters import events
from engine.execution import PlaceEntry
from engine.model import MarketState, PositionContext
from engine.ports import Executor


class DisabledExecutor:
    """TRADING_ENABLED=false: logs the complete intent as `order_skipped`, sends nothing."""

    def __init__(self, reason: str = "trading disabled", forward: Executor | None = None) -> None:
        self.reason = reason
        self.forward = forward  # e.g. the paper broker, which simulates what was not sent
        self.skipped: list[PlaceEntry] = []

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        self.skipped.append(entry)
        if len(self.skipped) > 1000:  # bounded: keep only recent intents for inspection
            del self.skipped[:500]
        events.order_skipped(entry, reason=self.reason, message="trading disabled, order not sent")
        if self.forward is not None:
            await self.forward.submit(entry, state)


class FlatBookContexts:
    """Every account flat and allowed to trade: replay and signals-only context."""

    async def context(self, account: str, symbol: str) -> PositionContext | None:
        return PositionContext(account)


class SignalsOnlyExecutor:
    """Replay and BROKER=none: entries are counted, never sent and not logged one by one."""

    def __init__(self) -> None:
        self.entries = 0

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        self.entries += 1
