"""A tiny HTTP/1.1 server on asyncio streams: /healthz, /metrics and, with a secret, the
POST routes /webhook (the manual trigger) and /control (the pause switch).

One request per connection (`Connection: close`), every read under a timeout, bodies
only on the POST routes with a Content-Length no larger than `max_body`. The webhook
secret is compared in constant time and never logged, echoed or passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from adapters import events
from engine.calendar import in_session

HealthFn = Callable[[], tuple[bool, dict[str, Any]]]
MetricsFn = Callable[[], bytes]
WebhookHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
JSON_TYPE = "application/json"
_LINGER_S = 1.0  # after an early answer, drain what the client still sends, this long at most


@dataclass(frozen=True, slots=True)
class Webhook:
    """POST /webhook: a JSON object whose `secret` must equal `secret`; `handler` gets the
    payload without the secret and its dict is the JSON answer. `control`, when given,
    answers POST /control the same way (same secret)."""

    secret: str = field(repr=False)
    handler: WebhookHandler
    control: WebhookHandler | None = None


class BadRequest(Exception):
    """Raised by a POST handler for a payload it cannot act on: 400, with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, data: dict[str, Any], **kw: Any) -> Response:
        return cls(status, json.dumps(data, default=str).encode(), **kw)


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        health_fn: HealthFn,
        metrics_fn: MetricsFn,
        webhook: Webhook | None = None,
        max_body: int = 16_384,  # bytes
        read_timeout_s: float = 5.0,
        max_header: int = 8_192,  # bytes, request line + headers
    ) -> None:
        self.host, self._port = host, port
        self.health_fn, self.metrics_fn, self.webhook = health_fn, metrics_fn, webhook
        self.max_body, self.read_timeout_s, self.max_header = max_body, read_timeout_s, max_header
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._healthy: bool | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one after `start()` when constructed with 0)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        # Listening is logged once, by the caller (`health_listening`, worker/run.py).
        self._server = await asyncio.start_server(
            self._serve, self.host, self._port, limit=self.max_header
        )

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()
        await server.wait_closed()
        events.health_server_stopped()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            client = _client(writer)
            request, response = await self._read_and_answer(reader, client)
            if response is not None:
                await self._send(writer, response)
                if request is not None and _has_body(request):
                    await _linger(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stalled: nothing to answer
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_and_answer(
        self, reader: asyncio.StreamReader, client: str
    ) -> tuple[Request | None, Response | None]:
        try:
            async with asyncio.timeout(self.read_timeout_s):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            return None, _error(HTTPStatus.REQUEST_TIMEOUT)
        except asyncio.LimitOverrunError:
            return None, _error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
        except asyncio.IncompleteReadError:
            return None, None
        request = _parse_head(head)
        if request is None:
            return None, _error(HTTPStatus.BAD_REQUEST)
        return request, await self._route(request, reader, client)

    async def _route(self, request: Request, reader: asyncio.StreamReader, client: str) -> Response:
        routes = {"/healthz": "GET", "/metrics": "GET"}
        if self.webhook is not None:
            routes["/webhook"] = "POST"
            if self.webhook.control is not None:
                routes["/control"] = "POST"
        allowed = routes.get(request.path)
        if allowed is None:
            return _error(HTTPStatus.NOT_FOUND)
        if request.method != allowed:
            return _error(HTTPStatus.METHOD_NOT_ALLOWED, headers=(("Allow", allowed),))
        if request.path == "/healthz":
            return self._health()
        if request.path == "/metrics":
            try:
                return Response(200, self.metrics_fn(), METRICS_TYPE)
            except Exception as exc:  # noqa: BLE001 -- a broken collector is a 500, logged
                events.metrics_failed(error=f"{type(exc).__name__}: {exc}")
                return _error(HTTPStatus.INTERNAL_SERVER_ERROR)
        return await self._webhook(request, reader, client)

    def _health(self) -> Response:
        try:
            ok, details = self.health_fn()
        except Exception as exc:  # noqa: BLE001 -- a broken check is an unhealthy answer
            ok, details = False, {"reason": f"health check failed: {type(exc).__name__}"}
        reason = details.get("reason")
        if ok != self._healthy:
            events.health(ok=ok, reason=reason)
            self._healthy = ok
        if ok:
            return Response.json(200, {"status": "ok", **details})
        return Response.json(503, {"status": "unhealthy", "reason": reason, **details})

    async def _webhook(
        self, request: Request, reader: asyncio.StreamReader, client: str
    ) -> Response:
        assert self.webhook is not None  # routed here only when configured
        length = request.headers.get("content-length")
        if length is None or "transfer-encoding" in request.headers:
            return self._rejected(
                HTTPStatus.LENGTH_REQUIRED, "no_content_length", client, request.path
            )
        if not length.isdigit():
            return self._rejected(
                HTTPStatus.BAD_REQUEST, "bad_content_length", client, request.path
            )
        if int(length) > self.max_body:
            return self._rejected(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large", client, request.path
            )
        async with asyncio.timeout(self.read_timeout_s):
            body = await reader.readexactly(int(length))
        try:
            payload = json.loads(body)
        except ValueError:
            return self._rejected(HTTPStatus.BAD_REQUEST, "not_json", client, request.path)
        if not isinstance(payload, dict):
            return self._rejected(HTTPStatus.BAD_REQUEST, "not_an_object", client, request.path)
        secret = payload.pop("secret", None)
        if not isinstance(secret, str) or not hmac.compare_digest(
            secret.encode(), self.webhook.secret.encode()
        ):
            return self._rejected(HTTPStatus.UNAUTHORIZED, "unauthorized", client, request.path)
        events.webhook_accepted(client=client, path=request.path)
        handler = self.webhook.control if request.path == "/control" else self.webhook.handler
        assert handler is not None  # routed here only when configured
        try:
            answer = await handler(payload)
        except BadRequest as exc:
            return self._rejected(HTTPStatus.BAD_REQUEST, exc.reason, client, request.path)
        except Exception as exc:  # noqa: BLE001 -- the caller gets a 500, the log says why
            events.webhook_failed(error=type(exc).__name__, client=client, path=request.path)
            return _error(HTTPStatus.INTERNAL_SERVER_ERROR)
        return Response.json(200, answer)

    def _rejected(self, status: HTTPStatus, reason: str, client: str, path: str) -> Response:
        """A refused POST: logged with who sent it (never the body or secret)."""
        events.webhook_rejected(status=status.value, reason=reason, client=client, path=path)
        return _error(status)

    async def _send(self, writer: asyncio.StreamWriter, response: Response) -> None:
        status = HTTPStatus(response.status)
        lines = [
            f"HTTP/1.1 {status.value} {status.phrase}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in response.headers),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)
        async with asyncio.timeout(self.read_timeout_s):
            await writer.drain()


@dataclass(kw_only=True)
class SourceHealth:
    """health_fn for `HealthServer`: unhealthy when the worker is not running, the source
    is not live (longer than `live_grace_s`), or, inside the session, the newest row is
    older than `stale_after_s`. Times are epoch seconds (UTC) from `clock`. The sample
    feed has no wall-clock `last_row_at` (its rows' times are simulated): without an
    explicit `last_row` its freshness is not checked."""

    source: object
    stale_after_s: float = 180.0
    clock: Callable[[], float] = time.time
    session: Callable[[float], bool] = in_session
    running: Callable[[], bool] | None = None
    last_row: Callable[[], float | None] | None = None
    live_grace_s: float = 0.0
    started: float = field(init=False)
    _not_live_since: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.started = self.clock()
        self.fresh_checked = self.last_row is not None or hasattr(self.source, "last_row_at")

    def __call__(self) -> tuple[bool, dict[str, Any]]:
        now = self.clock()
        inside = self.session(now)
        details: dict[str, Any] = {
            "source": getattr(self.source, "name", type(self.source).__name__),
            "in_session": inside,
        }
        reason = self._not_running() or self._not_live(now, details)
        if reason is None and self.fresh_checked:
            last = self.last_row() if self.last_row else getattr(self.source, "last_row_at", None)
            age = now - (last if last is not None else self.started)
            details["last_row_age_s"] = round(age, 1) if last is not None else None
            if inside and age > self.stale_after_s:
                reason = (
                    f"last row {round(age)} s old inside the session"
                    if last is not None
                    else f"no row for {round(age)} s inside the session"
                )
        if reason is not None:
            details["reason"] = reason
        return reason is None, details

    def _not_running(self) -> str | None:
        if self.running is not None and not self.running():
            return "worker not running"
        return None

    def _not_live(self, now: float, details: dict[str, Any]) -> str | None:
        live = getattr(self.source, "live", None)
        if not isinstance(live, bool):
            return None  # the sample feed has no subscription: running is enough
        details["live"] = live
        if live:
            self._not_live_since = None
            return None
        since = self._not_live_since = self._not_live_since or now
        return "source not live" if now - since >= self.live_grace_s else None


def health_check(
    source: object,
    *,
    stale_after_s: float = 180.0,
    clock: Callable[[], float] = time.time,
    session: Callable[[float], bool] = in_session,
    running: Callable[[], bool] | None = None,
    last_row: Callable[[], float | None] | None = None,
    live_grace_s: float = 0.0,
) -> HealthFn:
    """The worker's health_fn (see `SourceHealth`)."""
    return SourceHealth(
        source=source,
        stale_after_s=stale_after_s,
        clock=clock,
        session=session,
        running=running,
        last_row=last_row,
        live_grace_s=live_grace_s,
    )


def _parse_head(head: bytes) -> Request | None:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        key = name.strip().lower()
        if not sep or not key or (key == "content-length" and key in headers):
            return None
        headers[key] = value.strip()
    return Request(parts[0], parts[1].split("?", 1)[0], headers)


def _client(writer: asyncio.StreamWriter) -> str:
    """The peer as `host:port` (`[v6]:port`), or "unknown"."""
    peer = writer.get_extra_info("peername")
    if not isinstance(peer, tuple) or len(peer) < 2:
        return "unknown"
    host = str(peer[0])
    return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length", "0")
    return "transfer-encoding" in request.headers or length != "0"


def _error(status: HTTPStatus, **kw: Any) -> Response:
    return Response.json(status.value, {"error": status.phrase.lower()}, **kw)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then read and drop what the client still sends (bounded), so closing
    with unread data does not reset the connection before the client reads our answer."""
    with contextlib.suppress(OSError, RuntimeError):
        writer.write_eof()
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(_LINGER_S):
            while await reader.read(65_536):
                pass
