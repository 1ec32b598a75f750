"""FakeUserHub: the ProjectX user hub (SignalR, JSON protocol) on a real local websocket
server, for the signalrcore and pysignalr clients alike.

    async with FakeUserHub({"tok-1"}, ping_interval_s=0.2) as hub:
        url = f"{hub.url}?access_token=tok-1"   # http://127.0.0.1:<port>/hubs/user

The upgrade on /hubs/user needs a valid `?access_token=` (else HTTP 401; an unknown path
is 404). `POST /hubs/user/negotiate` is answered too, for a client that insists on
negotiating (counted in `negotiations`). Handshake `{"protocol":"json","version":0|1}`
-> `{}`. Every client invocation is recorded and answered with a Completion (an unknown
method gets a Completion with an error). Routing: a known user-hub event goes to the
connections that subscribed to it (SubscribeAccounts; SubscribeOrders/Positions/Trades
for the payload's accountId); any other target goes to every connection.

Faults: drop_all, close_all, rotate_token, stall, send_raw, `handshake_error`,
`hang_upgrades`; with
`client_timeout_s` a connection whose client sent nothing for that long is closed, as
ASP.NET Core does; stop() then a new hub on the same `port` is a server restart.
By default the server sends no RFC 6455 ping frames (websockets ping_interval=None):
signalrcore mishandles them; `ws_ping_interval_s` turns them on for the case that shows it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from tests.fakes import signalr_wire as wire
from tests.fakes.signalr_http import MUTED, NegotiatingConnection, path_and_token
from tests.fakes.signalr_session import Invocation, Session

TokenCheck = Callable[[str], bool]
_log = logging.getLogger("tests.fakes.signalr_hub")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP request to the hub: an upgrade (status 101 when accepted) or a negotiate."""

    path: str
    token: str | None
    status: int
    negotiate: bool = False


class FakeUserHub:
    def __init__(
        self,
        valid_tokens: set[str] | TokenCheck,
        *,
        ping_interval_s: float | None = 15.0,
        client_timeout_s: float | None = None,
        handshake_timeout_s: float = 5.0,
        ws_ping_interval_s: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._valid = valid_tokens
        self.ping_interval_s = ping_interval_s  # SignalR pings (type 6); None = never
        self.client_timeout_s = client_timeout_s
        self.handshake_timeout_s = handshake_timeout_s
        # RFC 6455 ping frames (random 4-byte payloads, pong expected within the same
        # interval), as websockets sends them. Off by default: signalrcore cannot take them.
        self.ws_ping_interval_s = ws_ping_interval_s
        self.host, self.port = host, port  # port 0: an ephemeral one; give it to restart
        self.attempts: list[Attempt] = []
        self.sessions: list[Session] = []  # every accepted connection, open or closed
        self.client_garbage: list[str] = []  # client records that were not understood
        self.client_timeouts = 0
        self.stalled = False
        self.handshake_error: str | None = None  # answer every handshake with this error
        self.hang_upgrades = False  # accept TCP, never answer the HTTP upgrade (status 0)
        self.lost = 0  # pushes not sent because the hub was stalled
        self._numbers = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._transports: list[Any] = []  # every TCP connection, refused upgrades included
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{wire.PATH}"

    @property
    def open_sessions(self) -> list[Session]:
        return [s for s in self.sessions if s.open]

    @property
    def invocations(self) -> list[Invocation]:
        """Every invocation from every connection, in arrival order per connection."""
        return [i for s in self.sessions for i in s.invocations]

    @property
    def negotiations(self) -> int:
        return sum(1 for a in self.attempts if a.negotiate)

    @property
    def rejected(self) -> list[Attempt]:
        return [a for a in self.attempts if a.status == HTTPStatus.UNAUTHORIZED]

    def valid(self, token: str | None) -> bool:
        if token is None:
            return False
        return self._valid(token) if callable(self._valid) else token in self._valid

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
        self._server = await serve(
            self._handle, self.host, self.port, process_request=self._process_request,
            ping_interval=self.ws_ping_interval_s, ping_timeout=self.ws_ping_interval_s,
            create_connection=self._connection, logger=_log,
        )  # fmt: skip
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        """Stop serving: open connections are aborted and the port refuses connections."""
        if self._server is not None:
            for transport in self._transports:  # a refused client may never hang up
                transport.abort()
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ----- pushes and faults

    async def emit(self, target: str, payload: Any) -> int:
        """Push `{"type":1,"target":target,"arguments":[payload]}`; returns the number of
        connections it went to (0 while stalled: the push is lost)."""
        return await self.emit_batch([(target, payload)])

    async def emit_batch(self, events: list[tuple[str, Any]]) -> int:
        """Several pushes in one websocket frame, routed per connection."""
        if self.stalled:
            self.lost += len(events)
            return 0
        sent = 0
        for session in self.open_sessions:
            text = "".join(wire.record(wire.invocation(t, p)) for t, p in events if
                           session.wants(t, p))  # fmt: skip
            if text and await session.send(text):
                sent += 1
        return sent

    async def send_raw(self, text: str | bytes) -> int:
        """Send a frame as given (malformed records are the point) to every connection."""
        results = [await s.send(text) for s in self.open_sessions]
        return sum(results)

    async def drop_all(self) -> None:
        """Abort every connection: no close message, no close frame."""
        sessions = self.open_sessions
        for session in sessions:
            session.ws.transport.abort()
        await asyncio.gather(*(s.ws.wait_closed() for s in sessions))

    async def close_all(
        self, error: str | None = None, allow_reconnect: bool = True, *, message: bool = True
    ) -> None:
        """Send a Close message (type 7), then close the websocket, as the server does;
        message=False: only the websocket close frame (1001), as a proxy going away does."""
        if message:
            await self._close(self.open_sessions, error, allow_reconnect)
        else:
            await asyncio.gather(*(s.ws.close(1001, "going away") for s in self.open_sessions))

    async def rotate_token(self, new: str) -> None:
        """From now on only `new` is accepted; connections made with another token get a
        Close message and are closed."""
        self._valid = {new}
        stale = [s for s in self.open_sessions if s.token != new]
        await self._close(stale, "Unauthorized: the access token expired.", False)

    def stall(self, stalled: bool = True) -> None:
        """Play dead with the sockets open: no pings, no pushes, no completions."""
        self.stalled = stalled

    async def _close(self, sessions: list[Session], error: str | None, again: bool) -> None:
        for session in sessions:
            await session.send(wire.record(wire.close(error, again)))
        await asyncio.gather(*(s.ws.close() for s in sessions))

    # ----- HTTP

    def _connection(self, *args: Any, **kwargs: Any) -> ServerConnection:
        return NegotiatingConnection(self, *args, **kwargs)

    def track(self, transport: Any) -> None:
        self._transports = [t for t in self._transports if not t.is_closing()]
        self._transports.append(transport)

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        path, token = path_and_token(request.path, request.headers.get("Authorization"))
        if self.hang_upgrades:
            self.attempts.append(Attempt(path, token, 0))
            await connection.wait_closed()  # until the client gives up or the hub stops
            connection.logger = MUTED  # websockets would log the abandoned handshake
        if path != wire.PATH:
            status, response = HTTPStatus.NOT_FOUND, connection.respond(404, "Not Found\n")
        elif not self.valid(token):
            status = HTTPStatus.UNAUTHORIZED
            response = connection.respond(status, "invalid or expired token\n")
        else:
            status, response = HTTPStatus.SWITCHING_PROTOCOLS, None
        self.attempts.append(Attempt(path, token, status))
        return response

    def negotiate(self, target: str, authorization: str | None) -> tuple[int, bytes]:
        path, token = path_and_token(target, authorization)
        if path != wire.NEGOTIATE_PATH:
            status, body = HTTPStatus.NOT_FOUND, b""
        elif not self.valid(token):
            status, body = HTTPStatus.UNAUTHORIZED, b""
        else:
            status, body = HTTPStatus.OK, wire.negotiate_body(f"conn-{len(self.attempts) + 1}")
        self.attempts.append(Attempt(path, token, status, negotiate=True))
        return status, body

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        _, token = path_and_token(ws.request.path, ws.request.headers.get("Authorization"))
        session = Session(self, next(self._numbers), ws, token)
        self.sessions.append(session)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await session.run()
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
