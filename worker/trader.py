"""Decision stage: per closed instant, per account: context -> decide -> log -> execute."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Final, Protocol

import structlog

from adapters.files.records import decision_record, frames_record
from adapters.files.timefmt import iso
from engine.execution import PlaceEntry, entry_for
from engine.model import Action, ActionPlan, MarketState, PositionContext
from engine.ports import ContextProvider, Decider
from worker.pipeline import Recorder

# Module constants: an enum member load (`Action.HOLD`) is a descriptor call on CPython
# 3.11 (~0.17 µs), compiled or not, and this runs per account per decision.
_HOLD: Final = Action.HOLD


class ContractSource(Protocol):
    """TradingView root (MES) -> the broker's contract id."""

    async def resolve(self, symbol: str) -> str: ...


class StaticContracts:
    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        self.mapping = mapping or {}

    async def resolve(self, symbol: str) -> str:
        return self.resolve_now(symbol)

    def resolve_now(self, symbol: str) -> str:
        return self.mapping.get(symbol, symbol)


class Executor(Protocol):
    """Carries out an entry (or logs why not). Never raises for an order outcome."""

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None: ...


class Trader:
    def __init__(
        self,
        decider: Decider,
        accounts: Sequence[str],
        contexts: ContextProvider,
        executor: Executor,
        recorder: Recorder,
        contracts: ContractSource,
        trade_size: int = 1,
        context_timeout_s: float = 10.0,
        log_states: bool = True,
    ) -> None:
        self.decider = decider
        self.accounts = tuple(accounts)
        self.contexts = contexts
        self.executor = executor
        self.recorder = recorder
        self.contracts = contracts
        self.trade_size = trade_size
        self.context_timeout_s = context_timeout_s
        self.counts: Counter[str] = Counter()
        # Plan -> its counter key ("HOLD.range"): plans are mostly shared constants, and
        # formatting a StrEnum costs more than the decision. Keyed by id, the plan kept
        # alongside so that the id cannot be reused while cached; bounded.
        self._count_keys: dict[int, tuple[ActionPlan, str]] = {}
        self._log = structlog.get_logger("trader")
        # Replays of millions of rows write decisions to files; per-close log lines are opt-in.
        self._quiet = not log_states
        # In-memory providers (flat book, paper) need no network timeout per decision.
        self._local = bool(getattr(contexts, "local", False))
        self._serial = asyncio.Lock()
        # All in memory (flat book or paper broker, signals-only or paper executor, static
        # contracts): nothing in a decision can wait, so it runs inline — no lock, no
        # coroutine per step — through the same `_plan` and `entry_for` as the async path.
        self._context_now: Callable[[str, str], PositionContext | None] | None = None
        self._submit_now: Callable[[PlaceEntry, MarketState], None] | None = None
        self._resolve_now: Callable[[str], str] | None = None
        if self._local:
            self._context_now = getattr(contexts, "context_now", None)
            self._submit_now = getattr(executor, "submit_now", None)
            self._resolve_now = getattr(contracts, "resolve_now", None)
        self._in_memory = None not in (self._context_now, self._submit_now, self._resolve_now)

    async def on_state(self, state: MarketState) -> list[ActionPlan]:
        """Decide (and execute) for every account. Serialized: a manual trigger and a
        bar close never interleave their context reads and orders."""
        if self._in_memory:
            return self.on_state_now(state)
        await self._serial.acquire()  # not `async with`: a third of the cost, same lock
        try:
            return await self._on_state(state)
        finally:
            self._serial.release()

    async def _on_state(self, state: MarketState) -> list[ActionPlan]:
        self._log_state(state)
        plans = []
        for index, account in enumerate(self.accounts):
            context = await self._context(account, state)
            plan = self._plan(index, account, state, context)
            plans.append(plan)
            if plan.action is not _HOLD:
                await self._execute(plan, state, account)
        return plans

    @property
    def in_memory(self) -> bool:
        """Contexts, executor and contracts all in memory: `on_state_now` may be used."""
        return self._in_memory

    def on_state_now(self, state: MarketState) -> list[ActionPlan]:
        """`on_state` for in-memory providers (see __init__): the same steps, inline."""
        assert self._context_now is not None
        assert self._submit_now is not None
        assert self._resolve_now is not None
        self._log_state(state)
        plans = []
        for index, account in enumerate(self.accounts):
            try:
                context = self._context_now(account, state.symbol)
            except Exception as exc:  # noqa: BLE001 -- fail safe: no context means HOLD
                context = self._context_failed(account, state, exc)
            plan = self._plan(index, account, state, context)
            plans.append(plan)
            if plan.action is not _HOLD:
                try:
                    entry = entry_for(
                        plan, state, account, self._resolve_now(state.symbol), self.trade_size
                    )
                    if entry is not None:
                        self._submit_now(entry, state)
                except Exception as exc:  # noqa: BLE001 -- isolate accounts; the log says why
                    self._order_failed(account, state, exc)
        return plans

    def _log_state(self, state: MarketState) -> None:
        if not self._quiet:
            self._log.info(
                "market_state", symbol=state.symbol, at=iso(state.at),
                closed=[f"{b.timeframe}m" for b in state.closed], frames=frames_record(state),
            )  # fmt: skip

    def _plan(
        self, index: int, account: str, state: MarketState, context: PositionContext | None
    ) -> ActionPlan:
        """Decide for one account; count, record (first account) and log the plan."""
        plan = self.decider.decide(state, context)
        cached = self._count_keys.get(id(plan))
        if cached is None or cached[0] is not plan:
            cached = (plan, f"{plan.action}.{plan.reason_code}")
            if len(self._count_keys) >= 256:
                self._count_keys.clear()
            self._count_keys[id(plan)] = cached
        self.counts[cached[1]] += 1
        if index == 0:
            self.recorder.decision(state, plan)
        if not self._quiet:
            self._log.info("action_plan", account=account, **decision_record(state, plan))
        return plan

    async def _execute(self, plan: ActionPlan, state: MarketState, account: str) -> None:
        """One account's entry; its failure is logged and never blocks another account."""
        try:
            contract = await self.contracts.resolve(state.symbol)
            entry = entry_for(plan, state, account, contract, self.trade_size)
            if entry is not None:
                await self.executor.submit(entry, state)
        except Exception as exc:  # noqa: BLE001 -- isolate accounts; the log says why
            self._order_failed(account, state, exc)

    def _order_failed(self, account: str, state: MarketState, exc: Exception) -> None:
        self._log.error(
            "order_failed", account=account, symbol=state.symbol, at=iso(state.at),
            reason="execution_error", error=f"{type(exc).__name__}: {exc}", sent=False,
        )  # fmt: skip

    def _context_failed(
        self, account: str, state: MarketState, exc: Exception
    ) -> PositionContext | None:
        self._log.warning(
            "context_failed", account=account, symbol=state.symbol, at=iso(state.at),
            error=f"{type(exc).__name__}: {exc}",
        )  # fmt: skip
        return None

    async def _context(self, account: str, state: MarketState) -> PositionContext | None:
        try:
            if self._local:
                return await self.contexts.context(account, state.symbol)
            async with asyncio.timeout(self.context_timeout_s):
                return await self.contexts.context(account, state.symbol)
        except Exception as exc:  # noqa: BLE001 -- fail safe: no context means HOLD
            return self._context_failed(account, state, exc)
