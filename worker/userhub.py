"""Wiring of the user hub (issue 5): listener -> account tracker -> results outbox.

Built only with BROKER=projectx. Results go to Supabase `trade_results` through a durable
outbox when SUPABASE_URL/KEY are set; otherwise they are logged (`trade_result`) only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from adapters import events
from adapters.projectx.client import ProjectXClient
from adapters.projectx.hub.factory import adapter_factory
from adapters.projectx.hub.listener import ListenerConfig, UserHubListener
from adapters.supabase.outbox import Outbox, OutboxDelivery
from adapters.supabase.results import TRIGGER_DECISION, PostgrestWriter, ResultsConfig
from engine.model import ActionPlan, ClosedBar, MarketState
from engine.ports import Recorder
from engine.records import decision_record
from worker.accounts import AccountTracker
from worker.settings import Settings
from worker.startup import Phase

Hook = Callable[[], Awaitable[object]]
# Shutdown: time given to deliver pending results. Short (the whole stop fits in 2 s):
# the outbox is durable, what is left is delivered at the next start.
FLUSH_S = 0.3


@dataclass
class UserHub:
    tracker: AccountTracker
    listener: UserHubListener
    delivery: OutboxDelivery | None
    startup: list[Phase] = field(default_factory=list)
    shutdown: list[Hook] = field(default_factory=list)


def build_user_hub(
    settings: Settings,
    client: ProjectXClient,
    ids: dict[str, int],
    delivery: OutboxDelivery | None,
) -> UserHub:
    tracker = AccountTracker(client, ids, delivery)
    listener = UserHubListener(
        ListenerConfig(
            settings.projectx_user_hub_url,
            tuple(ids.values()),
            backoff_initial_s=settings.reconnect_initial_seconds,
            backoff_cap_s=settings.reconnect_cap_seconds,
        ),
        adapter_factory(settings.hub_client),
        hub_token(client),
        tracker.on_hub_event,
        on_subscribed=tracker.reconcile,  # events missed while disconnected: from REST
    )
    hub = UserHub(tracker, listener, delivery)
    hub.startup.append(Phase("user_hub", listener.start))
    hub.shutdown.append(listener.stop)
    return hub


def hub_token(client: ProjectXClient) -> Callable[[], Awaitable[str]]:
    """The newest token for a hub (re)connect: one cheap REST read first, so a token the
    gateway stopped accepting (401) is renewed before the hub would refuse it."""

    async def provide() -> str:
        await client.accounts()
        return await client.token()

    return provide


def delivery_hooks(delivery: OutboxDelivery) -> tuple[Hook, Hook]:
    """Start the delivery loop; at shutdown give pending rows `FLUSH_S`, then close."""
    tasks: list[asyncio.Task[None]] = []

    async def start_delivery() -> None:
        tasks.append(asyncio.create_task(delivery.run(), name="results-outbox"))

    async def stop_delivery() -> None:
        delivered = await delivery.flush(FLUSH_S)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pending = delivery.outbox.pending_count()
        events.outbox_stopped(all_delivered=delivered, pending=pending)
        delivery.outbox.close()
        await delivery.writer.aclose()  # type: ignore[attr-defined]

    return start_delivery, stop_delivery


def results_delivery(settings: Settings) -> OutboxDelivery | None:
    """The durable outbox to Supabase (trade results, decisions), when Supabase is set."""
    if not (settings.supabase_url and settings.supabase_key):
        return None
    writer = PostgrestWriter(
        ResultsConfig(settings.supabase_url, settings.supabase_key.get_secret_value(),
                      settings.supabase_schema)
    )  # fmt: skip
    return OutboxDelivery(Outbox(settings.state_dir / "outbox.sqlite3"), writer)


class DecisionRecorder:
    """RECORD_DECISIONS: every decision also goes to `trigger_decisions` via the outbox."""

    def __init__(self, inner: Recorder, delivery: OutboxDelivery) -> None:
        self.inner, self.delivery = inner, delivery

    def bar(self, bar: ClosedBar) -> None:
        self.inner.bar(bar)

    def decision(self, state: MarketState, plan: ActionPlan) -> None:
        self.inner.decision(state, plan)
        row = decision_record(state, plan)
        key = f"{state.symbol}:{row['at']}"
        self.delivery.submit(TRIGGER_DECISION, key, {
            "decision_key": key, "symbol": state.symbol, "at": row["at"],
            "action": row["action"], "reason_code": row["reason_code"],
            "regimes": row["regimes"], "slopes": row["slopes"],
        })  # fmt: skip

    def close(self) -> None:
        self.inner.close()
