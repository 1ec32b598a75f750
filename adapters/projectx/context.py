"""Position context and risk gates per account, read from the gateway before a decision."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from adapters.projectx.client import ProjectXClient
from adapters.projectx.contracts import ContractResolver
from adapters.projectx.errors import UnknownAccount
from adapters.projectx.parsing import fill_of
from engine.calendar import trading_day_start
from engine.model import PositionContext
from engine.risk import RiskLimits, context_from, day_metrics


def position_open(positions: list[dict[str, Any]], contract: str) -> bool:
    """A non-zero position in any month of `contract`'s product: in a rollover week the
    account can still hold the old month (CON.F.US.MES.Z25 while MES.H26 is active)."""
    product = contract.rsplit(".", 1)[0] + "."  # CON.F.US.MES.
    return any(
        str(p.get("contractId", "")).startswith(product) and int(p.get("size") or 0) != 0
        for p in positions
    )


class ProjectXContexts:
    """`context(account, symbol)`: open position on the product + day metrics + canTrade.

    Any failure raises — and so does a context not read within `timeout_s` (its reads
    together, retries included): the trader turns it into HOLD `no_position_context`."""

    def __init__(
        self,
        client: ProjectXClient,
        account_ids: dict[str, int],
        contracts: ContractResolver,
        limits: RiskLimits,
        clock: Callable[[], float] = time.time,
        timeout_s: float = 10.0,
    ) -> None:
        self.client, self.account_ids, self.contracts = client, account_ids, contracts
        self.limits, self.clock, self.timeout_s = limits, clock, timeout_s

    async def check_accounts(self) -> None:
        """Start-up: every configured account id must be an active account of this user;
        raises UnknownAccount (a permanent error) for the first that is not."""
        active = {item.get("id") for item in await self.client.accounts()}
        for account_id in self.account_ids.values():
            if account_id not in active:
                raise UnknownAccount(account_id)

    async def context(self, account: str, symbol: str) -> PositionContext | None:
        async with asyncio.timeout(self.timeout_s):
            return await self._read(account, symbol)

    async def _read(self, account: str, symbol: str) -> PositionContext:
        account_id = self.account_ids[account]
        contract = await self.contracts.resolve(symbol)
        is_open = position_open(await self.client.open_positions(account_id), contract)
        now = self.clock()
        day_start = trading_day_start(now)
        start = datetime.fromtimestamp(day_start, UTC).isoformat()
        raw = await self.client.trades(account_id, start)
        fills = [f for f in (fill_of(t, account) for t in raw) if f is not None]
        if len(fills) != len(raw):
            raise ValueError(f"{len(raw) - len(fills)} unreadable trades in Trade/search")
        can_trade = await self._can_trade(account_id)
        return context_from(account, is_open, day_metrics(fills, day_start), self.limits, can_trade)

    async def _can_trade(self, account_id: int) -> bool:
        for item in await self.client.accounts():
            if item.get("id") == account_id:
                return bool(item.get("canTrade"))
        raise UnknownAccount(account_id)
