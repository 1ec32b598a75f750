"""The trader: plans, counts, records and orders per account at each instant, and the
fail-safe behaviour when a context or an order fails, with its log lines."""

from __future__ import annotations

from collections.abc import Callable

from structlog.testing import capture_logs

from adapters.dryrun import FlatBookContexts, SignalsOnlyExecutor
from engine.config import DecisionConfig
from engine.decide import HoldFirstDecider
from engine.execution import PlaceEntry
from engine.model import ActionPlan, ClosedBar, MarketState, PositionContext
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


def _trader() -> tuple[Trader, Recording, SignalsOnlyExecutor]:
    recorder, contexts, executor = Recording(), FlatBookContexts(), SignalsOnlyExecutor()
    trader = Trader(
        decider=HoldFirstDecider(DecisionConfig()), accounts=("a", "b"), contexts=contexts,
        executor=executor, recorder=recorder, contracts=StaticContracts(), log_states=False,
    )  # fmt: skip
    return trader, recorder, executor


async def test_plans_counts_records_and_entries_for_every_account() -> None:
    trader, recorder, executor = _trader()
    plans = [await trader.on_state(state) for state in STATES]
    assert [[p.action for p in pair] for pair in plans] == [
        ["BUY", "BUY"], ["HOLD", "HOLD"], ["SELL", "SELL"], ["BUY", "BUY"], ["HOLD", "HOLD"],
        ["SELL", "SELL"],
    ]  # fmt: skip
    assert trader.counts["BUY.aligned_uptrend"] == 2 * 2  # two states, two accounts
    assert [at for at, _ in recorder.decisions] == [s.at for s in STATES]  # the first account's
    assert executor.entries == 4 * 2  # BUY/SELL x accounts


class Failing:
    def __init__(self, fail: Callable[[str], bool]) -> None:
        self.fail = fail

    async def context(self, account: str, symbol: str) -> PositionContext | None:
        if self.fail(account):
            raise RuntimeError("book unreadable")
        return PositionContext(account)


async def test_a_failing_context_holds_that_account_only() -> None:
    trader = Trader(
        decider=HoldFirstDecider(DecisionConfig()), accounts=("a", "b"),
        contexts=Failing(lambda account: account == "a"), executor=SignalsOnlyExecutor(),
        recorder=Recording(), contracts=StaticContracts(), log_states=False,
    )  # fmt: skip
    with capture_logs() as logs:
        plans = await trader.on_state(STATES[0])
    assert [(p.action, p.reason_code) for p in plans] == [
        ("HOLD", "no_position_context"), ("BUY", "aligned_uptrend")
    ]  # fmt: skip
    failed = [line for line in logs if line["event"] == "context_failed"]
    assert [(f["account"], f["error"]) for f in failed] == [("a", "RuntimeError: book unreadable")]


class RefusingExecutor:
    def __init__(self) -> None:
        self.entries: list[str] = []

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        if entry.account == "a":
            raise ValueError("refused")
        self.entries.append(entry.account)


async def test_a_failing_order_is_logged_and_the_next_account_still_trades() -> None:
    refusing = RefusingExecutor()
    trader = Trader(
        decider=HoldFirstDecider(DecisionConfig()), accounts=("a", "b"),
        contexts=FlatBookContexts(), executor=refusing, recorder=Recording(),
        contracts=StaticContracts(), log_states=False,
    )  # fmt: skip
    with capture_logs() as logs:
        plans = await trader.on_state(STATES[0])
    assert [p.action for p in plans] == ["BUY", "BUY"]
    assert refusing.entries == ["b"]
    failed = [line for line in logs if line["event"] == "order_failed"]
    assert [(f["account"], f["error"], f["sent"]) for f in failed] == [
        ("a", "ValueError: refused", False)
    ]  # fmt: skip
