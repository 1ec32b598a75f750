"""FakeRealtime: a local Supabase Realtime server for realtime-py, fed by PostgreSQL.

    async with FakeRealtime(dsn, api_key="test-key") as rt:
        client = AsyncRealtimeClient(f"{rt.url}/realtime/v1", "test-key")

Speaks the Phoenix V1 JSON protocol on /realtime/v1/websocket: join with
`postgres_changes` bindings, heartbeats, leave, access_token. Rows inserted into a
published table reach it through the test-only notify trigger of tests.fakes.pg and
go out as `postgres_changes` pushes to every channel whose bindings match. Fault
injection: drop_all, close_all, close_channels, stall, drop_next, set_delay,
duplicate_next, reorder_next, set_subscribe_delay, reject_joins, refuse_connections,
send_raw, send_change.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import psycopg
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from tests.fakes import realtime_protocol as proto
from tests.fakes.pg import NOTIFY_CHANNEL
from tests.fakes.realtime_pipeline import ChangePipeline
from tests.fakes.realtime_protocol import Change
from tests.fakes.realtime_session import JoinRecord, Session

PATH = "/realtime/v1/websocket"


class FakeRealtime:
    def __init__(self, dsn: str, api_key: str = "test-key", *, host: str = "127.0.0.1") -> None:
        self.dsn, self.api_key, self.host = dsn, api_key, host
        self.port = 0
        # What arrived, for assertions.
        self.received: list[Any] = []  # every frame that parsed as JSON
        self.joins: list[JoinRecord] = []
        self.leaves: list[str] = []
        self.access_tokens: list[str | None] = []
        self.heartbeats = 0
        self.connection_attempts = 0  # upgrade requests, refused ones included
        self.connections = 0  # accepted websocket connections
        self.delivered = 0  # postgres_changes frames sent
        # Faults.
        self._pipeline = ChangePipeline()
        self.join_error: str | None = None  # see reject_joins
        self.subscribe_delay_s = 0.0  # see set_subscribe_delay
        self._refuse = False
        self._sessions: set[Session] = set()
        self._pending: set[asyncio.Task[None]] = set()
        self._query_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._server: Server | None = None
        self._listen_conn: psycopg.AsyncConnection[Any] | None = None
        self._query_conn: psycopg.AsyncConnection[Any] | None = None

    @property
    def url(self) -> str:
        """The SUPABASE_URL-style base; realtime-py takes f"{url}/realtime/v1"."""
        return f"http://{self.host}:{self.port}"

    @property
    def connected(self) -> int:
        """Open websocket connections now."""
        return len(self._sessions)

    @property
    def changes(self) -> list[Change]:
        """Every row change PostgreSQL reported, delivered or not."""
        return self._pipeline.changes

    @property
    def lost(self) -> int:
        """Changes never delivered: committed during a stall, or lost by drop_next."""
        return self._pipeline.lost

    def live_topics(self) -> list[str]:
        """Topics, over all connections, whose postgres_changes bindings are live."""
        return [t for s in self._sessions for t, bindings in s.channels.items() if bindings]

    # ----- lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self.stop()

    async def start(self) -> None:
        self._listen_conn = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, connect_timeout=2
        )
        await self._listen_conn.execute(f"listen {NOTIFY_CHANNEL}")
        self._query_conn = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, connect_timeout=2
        )
        # Phoenix sends no websocket pings (it relies on the heartbeat), nor do we.
        self._server = await serve(
            self._handle, self.host, 0, process_request=self._process_request,
            ping_interval=None,
        )  # fmt: skip
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        self._tasks = [
            asyncio.create_task(self._listen_postgres(), name="fake-realtime-listen"),
            asyncio.create_task(self._dispatch(), name="fake-realtime-dispatch"),
        ]

    async def stop(self) -> None:
        if self._server is not None:
            for session in self._sessions:  # a paused socket would stall the close handshake
                session.ws.transport.resume_reading()
            self._server.close()
            await self._server.wait_closed()
        tasks = [*self._tasks, *self._pending]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conn in (self._listen_conn, self._query_conn):
            if conn is not None:
                await conn.close()

    # ----- fault injection

    async def drop_all(self) -> None:
        """Abort every connection without a close frame: the client sees 1006
        (ConnectionClosedError), as when the server or the network dies."""
        sessions = list(self._sessions)
        for session in sessions:
            session.ws.transport.abort()
        await asyncio.gather(*(s.ws.wait_closed() for s in sessions))

    async def close_all(self, code: int = 1000, reason: str = "") -> None:
        """Close every connection cleanly with `code` (1000/1001 -> ConnectionClosedOK)."""
        await asyncio.gather(*(s.ws.close(code, reason) for s in list(self._sessions)))

    def stall(self, stalled: bool = True, *, pongs: bool = True) -> None:
        """Play dead with the sockets open: no heartbeat or join replies, no events;
        rows committed meanwhile are lost. With pongs=False the open connections also
        stop reading, so websocket pings go unanswered too."""
        self._pipeline.stalled = stalled
        for session in self._sessions:
            if stalled and not pongs:
                session.ws.transport.pause_reading()
            elif not stalled:
                session.ws.transport.resume_reading()

    def drop_next(self, n: int = 1) -> None:
        """Lose the next n changes with everything else healthy, as when the project's
        database-event rate limit trips."""
        self._pipeline.drop = n

    async def close_channels(self, reason: str = "Token has expired 0 seconds ago") -> int:
        """Shut every joined channel down as the server does on an expired token or a
        rate limit: a `system` error, then `phx_close`. realtime-py reports
        CHANNEL_ERROR, then CLOSED, and never rejoins. Returns the number closed."""
        closed = 0
        for session in list(self._sessions):
            closed += await session.close_channels(reason)
        return closed

    def set_delay(self, seconds: float) -> None:
        """Deliver each change this long after its commit (order kept)."""
        self._pipeline.delay_s = seconds

    def duplicate_next(self, n: int = 1) -> None:
        """Send each of the next n changes twice."""
        self._pipeline.duplicate = n

    def reorder_next(self, n: int) -> None:
        """Hold the next n changes, then deliver them newest first."""
        self._pipeline.reorder = n

    def set_subscribe_delay(self, seconds: float) -> None:
        """Go live this long after the join reply, as the real server does once its
        database subscription is in place: realtime-py reports SUBSCRIBED on the reply,
        so rows committed in between are never delivered. The system message "Subscribed
        to PostgreSQL" marks the end of the gap. Default 0: live before the reply."""
        self.subscribe_delay_s = seconds

    def reject_joins(self, reason: str | None = "Unknown Error on Channel") -> None:
        """Answer joins with an error reply carrying `reason`; None accepts again."""
        self.join_error = reason

    def refuse_connections(self, refuse: bool = True) -> None:
        """Answer websocket upgrades with HTTP 503."""
        self._refuse = refuse

    async def send_raw(self, text: str | bytes) -> int:
        """Send one frame as is to every open connection; returns how many got it."""
        sessions = list(self._sessions)
        for session in sessions:
            await session.send(text)
        return len(sessions)

    async def send_change(
        self, record: dict[str, Any] | str, *, table: str = "tv_datafeed",
        schema: str = "public", columns: list[dict[str, str]] | None = None,
        commit_timestamp: str = "2024-05-01T12:01:00.456Z", errors: Any = None,
    ) -> int:  # fmt: skip
        """Push a made-up change (a record dict, or raw JSON text for invalid values)
        to every channel with an INSERT binding on schema.table, filters ignored.
        Returns the number of frames sent."""
        record_json = record if isinstance(record, str) else json.dumps(record)
        change = Change(schema, table, "INSERT", commit_timestamp, columns or [], record_json)
        sent = 0
        for session, topic, ids in self._targets(change, use_filters=False):
            await session.send(proto.changes_frame(topic, ids, change, errors))
            sent += 1
        return sent

    # ----- shared with the sessions

    @property
    def stalled(self) -> bool:
        return self._pipeline.stalled

    def run_later(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a session's background step; stop() cancels what is left."""
        task = asyncio.create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def query(self, query: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        assert self._query_conn is not None
        async with self._query_lock:
            cur = await self._query_conn.execute(query.encode(), params)
            return await cur.fetchone()

    # ----- websocket side

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.connection_attempts += 1
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        if self._refuse:
            return _json_response(connection, 503, {"message": "Service Unavailable"})
        if url.path != PATH:
            return _json_response(connection, 404, {"message": "Not Found"})
        if query.get("apikey", [None])[0] != self.api_key:
            return _json_response(connection, 401, {"message": "Invalid API key"})
        if query.get("vsn", ["1.0.0"])[0] != "1.0.0":
            return _json_response(connection, 400, {"message": "Unsupported vsn"})
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        session = Session(self, self.connections, ws)
        self._sessions.add(session)
        try:
            await session.run()
        finally:
            self._sessions.discard(session)

    # ----- PostgreSQL side

    async def _listen_postgres(self) -> None:
        assert self._listen_conn is not None
        async for notify in self._listen_conn.notifies():
            self._pipeline.push(proto.parse_notification(notify.payload))

    async def _dispatch(self) -> None:
        while True:
            change = await self._pipeline.next()
            for session, topic, ids in self._targets(change, use_filters=True):
                await session.send(proto.changes_frame(topic, ids, change))
                self.delivered += 1

    def _targets(
        self, change: Change, *, use_filters: bool
    ) -> list[tuple[Session, str, list[int]]]:
        targets = []
        for session in list(self._sessions):
            for topic, bindings in session.channels.items():
                ids = [
                    b["id"] for b in bindings
                    if proto.binding_matches(b if use_filters else {**b, "filter": None}, change)
                ]  # fmt: skip
                if ids:
                    targets.append((session, topic, ids))
        return targets


def _json_response(connection: ServerConnection, status: int, body: dict[str, Any]) -> Response:
    response = connection.respond(status, json.dumps(body))
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response
