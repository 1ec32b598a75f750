"""Ports (roles) the worker wires adapters into. Adapters satisfy them structurally."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from engine.model import ActionPlan, MarketState, PositionContext


class Decider(Protocol):
    """Turns a market snapshot and an account's context into a plan. Must be pure."""

    def decide(self, state: MarketState | None, context: PositionContext | None) -> ActionPlan: ...


class Clock(Protocol):
    """Where time comes from: the wall clock live, the rows' receipt times in replay."""

    def now(self) -> float:
        """Epoch seconds UTC."""
        ...


class BarSource(Protocol):
    """Raw `tv_datafeed` rows: warm-up history first, then live events in order.

    `events()` yields ("row", row, arrival), ("tick", None, now) and ("resume", None,
    now) after rows were received in bulk (warm-up, backfill); arrival is epoch
    seconds UTC, None for "the row's own receipt ts", or -inf for a backfilled row that
    must not advance the clock.
    """

    name: str
    is_live_feed: bool  # the table's live inserts on the wall clock: the only source orders follow

    def warm_up_rows(self) -> AsyncIterator[dict[str, object]]: ...

    def events(self) -> AsyncIterator[tuple[str, object, float | None]]: ...


class ContextProvider(Protocol):
    """Position/risk context of one account, or None when it cannot be obtained."""

    async def context(self, account: str, symbol: str) -> PositionContext | None: ...
