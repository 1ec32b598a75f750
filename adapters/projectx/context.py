"""Position context and risk gates per account, read from the gateway before a decision."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from adapters.projectx.client import ProjectXClient
from adapters.projectx.parsing import active_contract, fill_of
from engine.calendar import trading_day_start
from engine.model import PositionContext
from engine.risk import RiskLimits, context_from, day_metrics


class ContractResolver:
    """Root (MES) -> active contract id, cached and refreshed daily (rollover)."""

    def __init__(
        self,
        client: ProjectXClient,
        override: str | None = None,
        refresh_s: float = 86_400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.override, self.refresh_s, self.clock = client, override, refresh_s, clock
        self._cache: dict[str, tuple[str, float]] = {}

    async def resolve(self, root: str) -> str:
        if self.override:
            return self.override
        cached = self._cache.get(root)
        if cached is not None and self.clock() - cached[1] < self.refresh_s:
            return cached[0]
        contract = active_contract(await self.client.contracts(root), root)
        if contract is None:
            raise LookupError(f"no active contract for {root}")
        if cached is None or cached[0] != contract:
            structlog.get_logger("projectx").info("contract_resolved", root=root, contract=contract)
        self._cache[root] = (contract, self.clock())
        return contract


class ProjectXContexts:
    """`context(account, symbol)`: open position on the contract + day metrics + canTrade.

    Any failure raises; the trader turns it into HOLD `no_position_context`."""

    def __init__(
        self,
        client: ProjectXClient,
        account_ids: dict[str, int],
        contracts: ContractResolver,
        limits: RiskLimits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.account_ids, self.contracts = client, account_ids, contracts
        self.limits, self.clock = limits, clock

    async def context(self, account: str, symbol: str) -> PositionContext | None:
        account_id = self.account_ids[account]
        contract = await self.contracts.resolve(symbol)
        positions = await self.client.open_positions(account_id)
        position_open = any(
            p.get("contractId") == contract and int(p.get("size") or 0) != 0 for p in positions
        )
        now = self.clock()
        day_start = trading_day_start(now)
        start = datetime.fromtimestamp(day_start, UTC).isoformat()
        raw = await self.client.trades(account_id, start)
        fills = [f for f in (fill_of(t, account) for t in raw) if f is not None]
        if len(fills) != len(raw):
            raise ValueError(f"{len(raw) - len(fills)} unreadable trades in Trade/search")
        can_trade = await self._can_trade(account_id)
        return context_from(account, position_open, day_metrics(fills, day_start), self.limits,
                            can_trade)  # fmt: skip

    async def _can_trade(self, account_id: int) -> bool:
        for item in await self.client.accounts():
            if item.get("id") == account_id:
                return bool(item.get("canTrade"))
        raise LookupError(f"account {account_id} not among active accounts")
