"""TradingView root (MES, ES) -> the active ProjectX contract id, once per trading day.

ProjectX symbols are not always TradingView roots: ES is F.US.EP (ids CON.F.US.EP.<month>),
NQ is F.US.ENQ. The table below covers the common CME E-mini and micro roots; the
CONTRACT_SYMBOLS setting overrides or extends it, and a root in neither is tried as
F.US.<ROOT>. Sources of the table (checked while writing it, not at run time):
  [docs]  the ProjectX Gateway API docs' Contract/available and Contract/search examples
          (September 2025), which show the symbolId of each contract;
  [code]  public client code trading through the live gateway with these contract ids
          (e.g. lseng/topstep-bot-5.0, src/services/topstepx/types.ts); not in the docs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from adapters import events
from adapters.projectx.client import ProjectXClient
from adapters.projectx.errors import ContractNotFound
from adapters.projectx.parsing import active_contract
from adapters.tasks import cancel_and_wait
from engine.calendar import trading_day_start

SYMBOL_IDS: dict[str, str] = {
    "MES": "F.US.MES",  # [docs] Micro E-mini S&P 500
    "ES": "F.US.EP",  # [docs] E-mini S&P 500
    "MNQ": "F.US.MNQ",  # [docs] Micro E-mini Nasdaq-100
    "NQ": "F.US.ENQ",  # [docs] E-mini Nasdaq-100
    "M2K": "F.US.M2K",  # [docs] Micro E-mini Russell 2000
    "RTY": "F.US.RTY",  # [docs] E-mini Russell 2000
    "MYM": "F.US.MYM",  # [code] Micro E-mini Dow: unverified against the docs
    "YM": "F.US.YM",  # [code] E-mini Dow ($5): unverified against the docs
    "MGC": "F.US.MGC",  # [code] Micro Gold: unverified against the docs
    "GC": "F.US.GCE",  # [code] Gold: unverified against the docs
    "MCL": "F.US.MCLE",  # [code] Micro WTI Crude Oil: unverified against the docs
    "CL": "F.US.CLE",  # [code] WTI Crude Oil: unverified against the docs
}


def symbol_id(root: str, overrides: dict[str, str] | None = None) -> str:
    """The ProjectX symbol id of a TradingView root: override, table, else F.US.<ROOT>."""
    key = root.upper()
    return (overrides or {}).get(key) or SYMBOL_IDS.get(key) or f"F.US.{key}"


@dataclass(slots=True)
class _Resolved:
    contract: str
    day: float  # trading_day_start of the resolution (epoch s)


class ContractResolver:
    """Root -> active contract id, resolved once per trading day (17:00 America/Chicago).

    A new trading day resolves again (a rollover switches the active month at a day's
    start); when that refresh fails, the previous contract stays (logged) and the refresh
    is tried again `retry_s` later. `override` (OVERRIDE_CONTRACT_ID) wins for every root.

    The decision path only ever calls `current` (no request): `start` resolves every
    configured root, then a task looks every `check_s` whether a new trading day began and
    resolves again when it did, so the day's first decision finds the new contract."""

    def __init__(
        self,
        client: ProjectXClient,
        override: str | None = None,
        symbols: Iterable[str] = (),
        symbol_ids: dict[str, str] | None = None,
        retry_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        check_s: float = 60.0,
    ) -> None:
        self.client, self.override, self.clock = client, override, clock
        self.symbols = tuple(symbols)  # configured roots, for resolve_all
        self.symbol_ids = {k.upper(): v.upper() for k, v in (symbol_ids or {}).items()}
        self.retry_s = retry_s
        self.check_s = check_s  # how often the daily refresh looks at the clock
        self._resolved: dict[str, _Resolved] = {}
        self._retry_at: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start-up: `resolve_all`, then the daily refresh in the background (once)."""
        await self.resolve_all()
        if self._task is None:
            self._task = asyncio.create_task(self._refresh_daily(), name="contract-refresh")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _refresh_daily(self) -> None:
        """Forever: `resolve` every root (a request only on a new trading day, or for a
        refresh that failed and is due again)."""
        while True:
            await asyncio.sleep(self.check_s)
            for root in self.symbols:
                with contextlib.suppress(Exception):  # resolve logged it; tried again later
                    await self.resolve(root)

    def current(self, root: str) -> str:
        """The contract known for `root` now, without a request: the decision path's.
        Raises LookupError before the root was ever resolved."""
        if self.override:
            return self.override
        known = self._resolved.get(root)
        if known is None:
            raise LookupError(f"no contract resolved for {root} yet")
        return known.contract

    async def resolve_all(self) -> dict[str, str]:
        """Start-up: every configured root. Raises ContractNotFound for one that has no
        active contract (a permanent error) and transport/gateway errors as they come."""
        return {root: await self.resolve(root) for root in self.symbols}

    async def resolve(self, root: str) -> str:
        if self.override:
            return self.override
        now = self.clock()
        day = trading_day_start(now)
        known = self._resolved.get(root)
        if known is not None and (known.day == day or now < self._retry_at.get(root, 0.0)):
            return known.contract
        try:
            contract = await self._lookup(root)
        except Exception as exc:  # any failure (raised when nothing is known yet)
            if known is None:
                raise
            self._retry_at[root] = now + self.retry_s
            events.contract_refresh_failed(
                symbol=root,
                contract=known.contract,
                retry_in_s=self.retry_s,
                error=f"{type(exc).__name__}: {exc}",
            )
            return known.contract
        self._resolved[root] = _Resolved(contract, day)
        self._retry_at.pop(root, None)
        events.contract_resolved(
            symbol=root,
            symbol_id=symbol_id(root, self.symbol_ids),
            contract=contract,
            previous=known.contract if known and known.contract != contract else None,
        )
        return contract

    async def _lookup(self, root: str) -> str:
        """Search by the root (as the docs do: "NQ" finds CON.F.US.ENQ), then by the
        ProjectX code (EP) when that differs; the answer is capped at 20 contracts."""
        wanted = symbol_id(root, self.symbol_ids)
        code = wanted.rsplit(".", 1)[-1]
        for text in dict.fromkeys((root.upper(), code)):
            contract = active_contract(await self.client.contracts(text), wanted)
            if contract is not None:
                return contract
        raise ContractNotFound(root)
