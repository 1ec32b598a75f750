"""The trader's two paths: async (network providers, serialized) and inline (every
provider in memory, as in replay). Same plans, counts, records and orders; the same
fail-safe behaviour when a context or an order fails, with the same log lines."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from adapters.dryrun import FlatBookContexts, SignalsOnlyExecutor
from engine.config import DecisionConfig
from engine.decide import HoldFirstDecider
from engine.execution import PlaceEntry
from engine.model import Action, ActionPlan, ClosedBar, MarketState, PositionContext
from worker.trader import StaticContracts, Trader

AT = 1_750_096_800  # 2025-06-16T18:00:00Z, Monday 13:00 CT: outside the flat window


def _state(regime: str, at: int = AT) -> MarketState:
    bars = tuple(
        ClosedBar(
            "MES",
            tf,
            at - tf * 60,
            at,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            tf,
            1.0,
            1e-3 if regime == "trend_up" else -1e-3 if regime == "trend_down" else 0.0,
            regime,
            99,
        )
        for tf in (5, 15, 30)
    )
    return MarketState("MES", at, bars, bars[:1])


STATES = [_state(r, AT + 300 * i) for i, r in enumerate(
    ["trend_up", "range", "trend_down", "trend_up", "insufficient", "trend_down"]
)]  # fmt: skip


class Recording:
    def __init__(self) -> None:
        self.decisions: list[tuple[int, ActionPlan]] = []

    def bar(self, bar: ClosedBar) -> None:
        pass

    def decision(self, state: MarketState, plan: ActionPlan) -> None:
        self.decisions.append((state.at, plan))

    def close(self) -> None:
        pass


class AsyncOnly:
    """The same in-memory providers seen only through their async ports."""

    local = True

    def __init__(self, inner: FlatBookContexts | SignalsOnlyExecutor) -> None:
        self.inner = inner

    async def context(self, account: str, symbol: str) -> PositionContext | None:
        assert isinstance(self.inner, FlatBookContexts)
        return await self.inner.context(account, symbol)

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        assert isinstance(self.inner, SignalsOnlyExecutor)
        await self.inner.submit(entry, state)


def _trader(inline: bool) -> tuple[Trader, Recording, SignalsOnlyExecutor]:
    recorder, contexts, executor = Recording(), FlatBookContexts(), SignalsOnlyExecutor()
    trader = Trader(
        HoldFirstDecider(DecisionConfig()), ("a", "b"),
        contexts if inline else AsyncOnly(contexts),
        executor if inline else AsyncOnly(executor),
        recorder, contracts=StaticContracts(), log_states=False,
    )  # fmt: skip
    return trader, recorder, executor


async def test_inline_and_async_paths_agree() -> None:
    inline, inline_rec, inline_exec = _trader(inline=True)
    awaited, awaited_rec, awaited_exec = _trader(inline=False)
    assert inline.in_memory and not awaited.in_memory
    for state in STATES:
        assert await inline.on_state(state) == await awaited.on_state(state)
    assert inline.counts == awaited.counts
    assert inline.counts["BUY.aligned_uptrend"] == 2 * 2  # two states, two accounts
    assert inline_rec.decisions == awaited_rec.decisions
    assert inline_exec.entries == awaited_exec.entries == 4 * 2  # BUY/SELL x accounts


class Failing:
    local = True

    def __init__(self, fail: Callable[[str], bool]) -> None:
        self.fail = fail

    def context_now(self, account: str, symbol: str) -> PositionContext | None:
        if self.fail(account):
            raise RuntimeError("book unreadable")
        return PositionContext(account)

    async def context(self, account: str, symbol: str) -> PositionContext | None:
        return self.context_now(account, symbol)


@pytest.mark.parametrize("inline", [True, False])
async def test_a_failing_context_holds_that_account_only(inline: bool) -> None:
    failing = Failing(lambda account: account == "a")
    trader = Trader(
        HoldFirstDecider(DecisionConfig()), ("a", "b"),
        failing if inline else _AsyncFailing(failing),
        SignalsOnlyExecutor(), Recording(), contracts=StaticContracts(), log_states=False,
    )  # fmt: skip
    assert trader.in_memory is inline
    with capture_logs() as logs:
        plans = await trader.on_state(STATES[0])
    assert [(p.action, p.reason_code) for p in plans] == [
        ("HOLD", "no_position_context"), ("BUY", "aligned_uptrend")
    ]  # fmt: skip
    failed = [line for line in logs if line["event"] == "context_failed"]
    assert [(f["account"], f["error"]) for f in failed] == [("a", "RuntimeError: book unreadable")]


class _AsyncFailing:
    local = True

    def __init__(self, inner: Failing) -> None:
        self.inner = inner

    async def context(self, account: str, symbol: str) -> PositionContext | None:
        return self.inner.context_now(account, symbol)


class RefusingExecutor:
    def __init__(self) -> None:
        self.entries: list[str] = []

    def submit_now(self, entry: PlaceEntry, state: MarketState) -> None:
        if entry.account == "a":
            raise ValueError("refused")
        self.entries.append(entry.account)

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        self.submit_now(entry, state)


class _AsyncRefusing:
    def __init__(self, inner: RefusingExecutor) -> None:
        self.inner = inner

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        await self.inner.submit(entry, state)


@pytest.mark.parametrize("inline", [True, False])
async def test_a_failing_order_is_logged_and_the_next_account_still_trades(inline: bool) -> None:
    refusing = RefusingExecutor()
    trader = Trader(
        HoldFirstDecider(DecisionConfig()), ("a", "b"), FlatBookContexts(),
        refusing if inline else _AsyncRefusing(refusing),  # type: ignore[arg-type]
        Recording(), contracts=StaticContracts(), log_states=False,
    )  # fmt: skip
    assert trader.in_memory is inline
    with capture_logs() as logs:
        plans = await trader.on_state(STATES[0])
    assert [p.action for p in plans] == ["BUY", "BUY"]
    assert refusing.entries == ["b"]
    failed = [line for line in logs if line["event"] == "order_failed"]
    assert [(f["account"], f["error"], f["sent"]) for f in failed] == [
        ("a", "ValueError: refused", False)
    ]  # fmt: skip


class FreshPlans:
    """A decider that returns a new plan object every time (as the account gate does),
    cycling through more distinct plans than the trader keeps counter keys for."""

    def __init__(self) -> None:
        self.calls = 0

    def decide(self, state: MarketState | None, context: PositionContext | None) -> ActionPlan:
        self.calls += 1
        return ActionPlan(Action.HOLD, f"reason_{self.calls % 300}", {"n": self.calls})


def test_counts_are_exact_whatever_plan_objects_the_decider_returns() -> None:
    trader = Trader(
        FreshPlans(), ("a",), FlatBookContexts(), SignalsOnlyExecutor(), Recording(),
        contracts=StaticContracts(), log_states=False,
    )  # fmt: skip
    for i in range(900):
        trader.on_state_now(_state("range", AT + 300 * i))
    assert sum(trader.counts.values()) == 900
    assert trader.counts == {f"HOLD.reason_{r}": 3 for r in range(300)}
    shared = Trader(
        HoldFirstDecider(DecisionConfig()), ("a",), FlatBookContexts(), SignalsOnlyExecutor(),
        Recording(), contracts=StaticContracts(), log_states=False,
    )  # fmt: skip
    for state in STATES * 50:
        shared.on_state_now(state)
    assert shared.counts == {
        "BUY.aligned_uptrend": 100, "HOLD.range": 50, "SELL.aligned_downtrend": 100,
        "HOLD.insufficient_data": 50,
    }  # fmt: skip
