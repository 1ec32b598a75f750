"""Ports (roles) the worker wires adapters into. Adapters satisfy them structurally."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from engine.model import ActionPlan, MarketState, PositionContext


class Decider(Protocol):
    """Turns a market snapshot and an account's context into a plan. Must be pure."""

    def decide(
        self, state: MarketState | None, context: PositionContext | None
    ) -> ActionPlan: ...


class Clock(Protocol):
    """Where time comes from: the wall clock live, the rows' receipt times in replay."""

    def now(self) -> float:
        """Epoch seconds UTC."""
        ...


class RawRow(Protocol):
    def get(self, key: str, default: object = None, /) -> object: ...


class BarSource(Protocol):
    """Yields raw `tv_datafeed` rows with their arrival instant (epoch seconds UTC)."""

    def rows(self) -> AsyncIterator[tuple[dict[str, object], float]]: ...


class ContextProvider(Protocol):
    """Position/risk context of one account, or None when it cannot be obtained."""

    async def context(self, account: str, symbol: str) -> PositionContext | None: ...
