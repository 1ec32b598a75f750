"""Position context and risk gates per account, read before a decision.

Where each field comes from (PLANS.md, issue 15, says why it is safe):
- the open position: always `Position/searchOpen`, read after the bar closed;
- `canTrade` and the day's fills (P&L, loss streak): the user hub's state when the hub is
  in sync (subscribed, reconciled over REST after the subscribe, nothing unread since),
  else `Account/search` and `Trade/search`, read together with the positions;
- the contract: the resolver's current one (no request).
"""

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
from engine.account_state import AccountState
from engine.calendar import trading_day_start
from engine.model import PositionContext
from engine.risk import DayMetrics, RiskLimits, context_from, day_metrics

HubState = Callable[[int], AccountState | None]
"""Account id -> its state kept by the user hub when that may stand in for REST, else None."""


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

    The reads an account needs go at once (one round trip). Any failure raises — and so
    does a context not read within `timeout_s` (its reads together, retries included):
    the trader turns it into HOLD `no_position_context` for that account."""

    def __init__(
        self,
        client: ProjectXClient,
        account_ids: dict[str, int],
        contracts: ContractResolver,
        limits: RiskLimits,
        clock: Callable[[], float] = time.time,
        timeout_s: float = 10.0,
        hub: HubState | None = None,
    ) -> None:
        self.client, self.account_ids, self.contracts = client, account_ids, contracts
        self.limits, self.clock, self.timeout_s = limits, clock, timeout_s
        self.hub = hub

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
        contract = self.contracts.current(symbol)
        day_start = trading_day_start(self.clock())
        warm = self.hub(account_id) if self.hub is not None else None
        if warm is not None:
            positions = await self.client.open_positions(account_id)
            metrics, can_trade = day_metrics(warm.fills.values(), day_start), warm.can_trade
        else:
            try:
                async with asyncio.TaskGroup() as reads:
                    positions_read = reads.create_task(self.client.open_positions(account_id))
                    metrics_read = reads.create_task(self._metrics(account, account_id, day_start))
                    can_trade_read = reads.create_task(self._can_trade(account_id))
            except ExceptionGroup as failed:  # the first failure; the other reads cancelled
                raise failed.exceptions[0] from None
            positions = positions_read.result()
            metrics, can_trade = metrics_read.result(), can_trade_read.result()
        is_open = position_open(positions, contract)
        return context_from(account, is_open, metrics, self.limits, can_trade)

    async def _metrics(self, account: str, account_id: int, day_start: float) -> DayMetrics:
        start = datetime.fromtimestamp(day_start, UTC).isoformat()
        raw = await self.client.trades(account_id, start)
        fills = [f for f in (fill_of(t, account) for t in raw) if f is not None]
        if len(fills) != len(raw):
            raise ValueError(f"{len(raw) - len(fills)} unreadable trades in Trade/search")
        return day_metrics(fills, day_start)

    async def _can_trade(self, account_id: int) -> bool:
        for item in await self.client.accounts():
            if item.get("id") == account_id:
                return bool(item.get("canTrade"))
        raise UnknownAccount(account_id)
