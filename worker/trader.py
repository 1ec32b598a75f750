"""Decision stage: per closed instant, for every account at once: context -> decide -> log
-> execute."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from adapters import events
from engine.execution import entry_for
from engine.model import Action, ActionPlan, MarketState, PositionContext
from engine.ports import ContextProvider, ContractSource, Decider, Executor, Recorder


class StaticContracts:
    """Contract ids known in advance (the paper broker, signals only, a replay)."""

    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        self.mapping = mapping or {}

    def current(self, symbol: str) -> str:
        return self.mapping.get(symbol, symbol)


class Trader:
    """Decides (and executes) for every account at each closed instant.

    One instant at a time: a manual trigger and a bar close never interleave their
    context reads and orders. Within an instant the accounts go concurrently, each from
    its context to its order on its own: a slow or failing gateway call of one account
    never delays another's order. Any failure to get an account's context (the provider
    bounds it with its own timeout) is a HOLD `no_position_context` for that account
    only; a failing order is logged and never stops another account."""

    def __init__(
        self,
        *,
        decider: Decider,
        accounts: Sequence[str],
        contexts: ContextProvider,
        executor: Executor,
        recorder: Recorder,
        contracts: ContractSource,
        trade_size: int = 1,
        log_states: bool = True,
    ) -> None:
        self.decider = decider
        self.accounts = tuple(accounts)
        self.contexts = contexts
        self.executor = executor
        self.recorder = recorder
        self.contracts = contracts
        self.trade_size = trade_size
        self.log_states = log_states  # a replay writes its decisions to files, not logs
        self.counts: Counter[str] = Counter()  # "HOLD.range": decisions by action.reason
        self.serial = asyncio.Lock()

    async def on_state(self, state: MarketState) -> list[ActionPlan]:
        """The plans for every account at `state.at`, in account order."""
        async with self.serial:
            if self.log_states:
                events.market_state(state)
            plans = [self._account(i, a, state) for i, a in enumerate(self.accounts)]
            if len(plans) == 1:  # one account (a replay): no task to schedule, ~1.3 s a year
                return [await plans[0]]
            return list(await asyncio.gather(*plans))

    async def _account(self, index: int, account: str, state: MarketState) -> ActionPlan:
        context = await self._context(account, state)
        plan = self.decider.decide(state, context)
        self._record(index, account, state, plan)
        if plan.action is not Action.HOLD:
            await self._execute(plan, state, account)
        return plan

    def _record(self, index: int, account: str, state: MarketState, plan: ActionPlan) -> None:
        """Count and log the plan; the first account's is the instant's decision line."""
        self.counts[f"{plan.action}.{plan.reason_code}"] += 1
        if index == 0:
            self.recorder.decision(state, plan)
        if self.log_states:
            events.action_plan(account, state, plan)

    async def _context(self, account: str, state: MarketState) -> PositionContext | None:
        try:  # a network provider bounds its own reads (engine/ports.py, ContextProvider)
            return await self.contexts.context(account, state.symbol)
        except Exception as exc:  # noqa: BLE001 -- fail safe: no context means HOLD
            events.context_failed(
                account=account,
                symbol=state.symbol,
                at=state.at,
                error=f"{type(exc).__name__}: {exc}",
            )
            return None

    async def _execute(self, plan: ActionPlan, state: MarketState, account: str) -> None:
        """One account's entry; its failure is logged and never blocks another account."""
        entry = None
        try:
            contract = self.contracts.current(state.symbol)
            entry = entry_for(plan, state, account, contract, self.trade_size)
            if entry is not None:
                await self.executor.submit(entry, state)
        except Exception as exc:  # noqa: BLE001 -- isolate accounts; the log says why
            events.order_failed(
                account=account,
                symbol=state.symbol,
                at=state.at,
                reason="execution_error",
                sent=False,
                entry=entry,
                error=f"{type(exc).__name__}: {exc}",
            )
