"""The real realtime-py client wired to a FakeRealtime, recording what it sees."""

from __future__ import annotations

from typing import Any

from realtime import AsyncRealtimeClient, RealtimeSubscribeStates
from realtime.message import SuccessSystemPayload
from realtime.types import PostgresChangesPayload, RealtimePostgresChangesListenEvent

from tests.fakes.realtime_server import FakeRealtime


class Listener:
    """Plain-function callbacks: realtime-py never awaits `async def` callbacks, and an
    exception raised in one kills its listen task, so these only append."""

    def __init__(self) -> None:
        self.states: list[RealtimeSubscribeStates] = []
        self.errors: list[Exception | None] = []
        self.payloads: list[PostgresChangesPayload] = []
        self.system: list[str] = []  # "ok" system messages, e.g. "Subscribed to PostgreSQL"

    @property
    def records(self) -> list[dict[str, Any]]:
        return [p["data"].get("record") or {} for p in self.payloads]

    def on_state(self, state: RealtimeSubscribeStates, error: Exception | None) -> None:
        self.states.append(state)
        self.errors.append(error)

    def on_change(self, payload: PostgresChangesPayload) -> None:
        self.payloads.append(payload)

    def on_system(self, payload: SuccessSystemPayload) -> None:
        self.system.append(payload.message)


async def subscribe(
    rt: FakeRealtime, listener: Listener, *, key: str, topic: str = "tv",
    table: str = "tv_datafeed", filter: str | None = "symbol=eq.MES", **client_kwargs: Any,
) -> AsyncRealtimeClient:  # fmt: skip
    """Connect, join one channel with one INSERT binding, and wait for the join reply."""
    client = AsyncRealtimeClient(f"{rt.url}/realtime/v1", key, **client_kwargs)
    channel = client.channel(topic)
    channel.on_postgres_changes(
        RealtimePostgresChangesListenEvent.Insert,
        schema="public",
        table=table,
        filter=filter,
        callback=listener.on_change,
    )
    channel.on_system(listener.on_system)
    await channel.subscribe(listener.on_state)
    return client
