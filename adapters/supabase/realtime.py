"""One realtime-py client and channel: INSERTs on the table -> an asyncio queue.

realtime-py traps (supabase-realtime.md): an exception in a callback kills its listen
task silently, `async def` callbacks are never awaited, and after 5 failed reconnects
it gives up without telling anyone. So callbacks are plain functions that only
`put_nowait` onto a queue, the client's own reconnect is off, and the owner
(`SupabaseSource`) rebuilds the client on any error with its own backoff, forever.
SUBSCRIBED is reported on the join reply, before the server streams; the server's
"Subscribed to PostgreSQL" system message is the real start, reported as READY.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from realtime import AsyncRealtimeClient, RealtimeSubscribeStates
from realtime.types import RealtimePostgresChangesListenEvent

from adapters import events

READY = "READY"  # the server started streaming the subscription


@dataclass(frozen=True, slots=True)
class Inserted:
    """A change event of an INSERT, as realtime-py delivered it, and when (wall clock)."""

    payload: Any
    arrival: float


@dataclass(frozen=True, slots=True)
class ChannelState:
    """The channel's state (SUBSCRIBED, READY, CHANNEL_ERROR, ...) and its error, if any."""

    name: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame realtime-py could not read and dropped (it logs it; we count it)."""

    reason: str
    detail: str


FeedEvent = Inserted | ChannelState | BadFrame


@dataclass(frozen=True, slots=True)
class RealtimeConfig:
    url: str  # https://<project>.supabase.co (the client appends /realtime/v1)
    key: str
    table: str = "tv_datafeed"
    schema: str = "public"
    symbols: tuple[str, ...] = ()  # server-side filter; empty = every row
    join_timeout_s: float = 10.0


def symbol_filter(symbols: tuple[str, ...]) -> str | None:
    if not symbols:
        return None
    if len(symbols) == 1:
        return f"symbol=eq.{symbols[0]}"
    return f"symbol=in.({','.join(symbols)})"


class RealtimeFeed:
    """Events on `queue`: `Inserted` rows and `ChannelState`s."""

    def __init__(self, config: RealtimeConfig, queue: asyncio.Queue[FeedEvent]):
        self.config = config
        self.queue = queue
        self.state = "new"
        # Self-hosted Realtime versions that never send the system message: set True.
        self.ready_without_system = False
        self._client: AsyncRealtimeClient | None = None

    async def open(self) -> None:
        config = self.config
        client = AsyncRealtimeClient(
            f"{config.url.rstrip('/')}/realtime/v1",
            config.key,
            auto_reconnect=False,
            max_retries=1,
            timeout=int(config.join_timeout_s),
        )
        self._client = client
        channel = client.channel(f"{config.table}-inserts")
        channel.on_postgres_changes(
            RealtimePostgresChangesListenEvent.Insert,
            self._on_change,
            table=config.table,
            schema=config.schema,
            filter=symbol_filter(config.symbols),
        )
        channel.on_system(self._on_system)
        await asyncio.wait_for(channel.subscribe(self._on_state), config.join_timeout_s + 5)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await asyncio.wait_for(client.close(), 5)
            except Exception as exc:  # noqa: BLE001 -- closing a broken client may fail
                events.close_failed(error=repr(exc))

    def dead(self) -> bool:
        """The client gave up (its reconnects ran out) or the server closed the channel."""
        client = self._client
        return (
            client is None
            or self.state == "CLOSED"
            or (not client.is_connected and self.state in ("CHANNEL_ERROR", "TIMED_OUT"))
        )

    def _on_change(self, payload: Any) -> None:
        try:
            self.queue.put_nowait(Inserted(payload, time.time()))
        except Exception:  # noqa: BLE001 -- never raise into realtime-py's listen task
            events.enqueue_failed()

    def _on_system(self, payload: Any) -> None:
        with contextlib.suppress(Exception):  # never raise into realtime-py's listen task
            message = str(getattr(payload, "message", ""))
            if getattr(payload, "extension", "") == "postgres_changes" and "ubscribed" in message:
                self.queue.put_nowait(ChannelState(READY))

    def _on_state(self, state: RealtimeSubscribeStates, error: Exception | None) -> None:
        self.state = state.value
        self.queue.put_nowait(ChannelState(state.value, repr(error) if error else None))


class BadFrameCounter(logging.Handler):
    """realtime-py logs frames it cannot parse and drops them; count and re-log them."""

    def __init__(self, queue: asyncio.Queue[FeedEvent]) -> None:
        super().__init__(level=logging.ERROR)
        self.queue = queue

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Unrecognized message format"):
            with contextlib.suppress(Exception):  # a log handler must never raise
                self.queue.put_nowait(BadFrame("unrecognized_frame", message[:200]))
