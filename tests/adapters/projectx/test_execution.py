"""Order/place fault matrix against the fake gateway: one order per entry, never two."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adapters.projectx.client import ProjectXClient, ProjectXConfig
from adapters.projectx.execution import ProjectXExecutor
from adapters.projectx.intents import IntentStore
from engine.execution import PlaceEntry
from engine.model import MarketState, Side
from tests.fakes.projectx_gateway import FakeProjectX

ACCOUNT, ACCOUNT_ID, CONTRACT = "main", 1001, "CON.F.US.MES.Z25"


def entry(minute: int = 0) -> PlaceEntry:
    at = int(time.time()) // 60 * 60 - minute * 60
    return PlaceEntry(ACCOUNT, "MES", CONTRACT, Side.BUY, 1, f"rt-main-MES-t{at}", at)


STATE = MarketState("MES", 0, (), ())


@pytest.fixture
async def gateway() -> AsyncIterator[FakeProjectX]:
    async with FakeProjectX(hang_seconds=5.0) as gw:
        yield gw


def executor(gw: FakeProjectX, db: Path) -> tuple[ProjectXExecutor, ProjectXClient]:
    client = ProjectXClient(
        ProjectXConfig(gw.url, "user", "key", timeout_s=2.0, order_timeout_s=0.5)
    )
    store = IntentStore(db)
    return ProjectXExecutor(client, store, {ACCOUNT: ACCOUNT_ID}, (0.05, 0.1, 0.2)), client


def tagged(gw: FakeProjectX, tag: str) -> list[dict]:
    return [o for o in gw.orders(ACCOUNT_ID) if o.get("customTag") == tag]


@pytest.mark.parametrize(
    ("fault", "orders", "events"),
    [
        (None, 1, ["order_placed"]),
        ("500_before", 1, ["order_ambiguous", "order_resend", "order_placed"]),
        ("500_after", 1, ["order_ambiguous", "order_placed"]),
        ("hang_after", 1, ["order_ambiguous", "order_placed"]),
        ("reset_after", 1, ["order_ambiguous", "order_placed"]),
        ("success_false", 0, ["order_failed"]),
        ("429", 1, ["order_ambiguous", "order_resend", "order_placed"]),
        ("expired_token", 1, ["order_placed"]),
    ],
)
async def test_place_fault_matrix(
    gateway: FakeProjectX, tmp_path: Path, fault: str | None, orders: int, events: list[str]
) -> None:
    ex, client = executor(gateway, tmp_path / "intents.db")
    await client.token()
    if fault == "429":
        gateway.rate_limit_next(1, retry_after=1, path="Order/place")
    elif fault == "expired_token":
        gateway.expire_token()
    elif fault is not None:
        gateway.fail_next_place(fault)
    the = entry()
    with capture_logs() as logs:
        await ex.submit(the, STATE)
        await ex.submit(the, STATE)  # the same decision again: never a second order
    await client.aclose()
    assert len(tagged(gateway, the.tag)) == orders
    names = [e["event"] for e in logs if e["event"].startswith("order_")]
    assert names == [*events, "order_skipped"]
    assert logs[-1]["reason"] == "duplicate_decision"
    known = ex.store.get(the.tag)
    assert known is not None
    assert known.state == ("placed" if orders else "refused")
    placed = [o for o in gateway.calls("Order/place") if o.body]
    assert all(
        set(call.body) == {"accountId", "contractId", "type", "side", "size", "customTag"}
        for call in placed
    )  # market entry only: no stop, target or bracket fields, ever
    assert all(call.body["type"] == 2 for call in placed)


async def test_killed_between_sending_and_answer_is_reconciled_at_restart(
    gateway: FakeProjectX, tmp_path: Path
) -> None:
    db = tmp_path / "intents.db"
    first, client = executor(gateway, db)
    await client.token()
    gateway.fail_next_place("hang_after")
    the = entry()
    task = asyncio.create_task(first.submit(the, STATE))
    await asyncio.sleep(0.2)  # the order is booked, the answer never comes
    task.cancel()  # the worker dies here
    with pytest.raises(asyncio.CancelledError):
        await task
    await client.aclose()
    first.store.close()
    second, client2 = executor(gateway, db)  # restart: same durable store
    assert [i.entry.tag for i in second.store.unresolved()] == [the.tag]
    with capture_logs() as logs:
        assert await second.reconcile() == 1
        await second.submit(the, STATE)
    await client2.aclose()
    assert len(tagged(gateway, the.tag)) == 1
    assert second.store.get(the.tag).state == "placed"
    names = [e["event"] for e in logs if e["event"].startswith("order_")]
    assert names[:2] == ["order_unresolved_at_start", "order_placed"]
    assert names[-1] == "order_skipped"


async def test_absent_and_stale_intent_is_abandoned_not_sent(
    gateway: FakeProjectX, tmp_path: Path
) -> None:
    db = tmp_path / "intents.db"
    ex, client = executor(gateway, db)
    old = entry(minute=30)  # a decision from half an hour ago
    assert ex.store.begin(old, ACCOUNT_ID)  # died before the request left
    with capture_logs() as logs:
        await ex.reconcile()
    await client.aclose()
    assert tagged(gateway, old.tag) == []
    assert ex.store.get(old.tag).state == "abandoned"
    assert any(e.get("reason") == "absent_and_stale" for e in logs)


async def test_local_budget_fails_an_order_unsent(gateway: FakeProjectX, tmp_path: Path) -> None:
    ex, client = executor(gateway, tmp_path / "intents.db")
    await client.token()
    while client.all_budget.try_acquire():
        pass
    the = entry()
    with capture_logs() as logs:
        await ex.submit(the, STATE)
    await client.aclose()
    assert gateway.place_calls == 0
    assert ex.store.get(the.tag).state == "unsent"
    assert logs[-1]["reason"] == "local_rate_budget" and logs[-1]["sent"] is False
