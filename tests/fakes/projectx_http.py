"""HTTP/1.1 on asyncio streams for FakeProjectX, in a thread with its own event loop.

Its own loop keeps the fake answering while a test's loop is busy, and lets start()/stop()
be plain calls from sync and async tests alike. A handler returns a Reply, or Hang
(hold the connection without answering) or Reset (close it with a TCP RST) to play the
ambiguous outcomes a broker client must survive.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

_MAX_LINE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hang:
    """Never answer: wait until the client closes the connection or `seconds` pass."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Reset:
    """Close the connection with a TCP RST instead of an answer."""


Outcome = Reply | Hang | Reset
Handler = Callable[[Request], Awaitable[Outcome]]


class LoopServer:
    """Serves `handler` on host:port (0: an ephemeral one); connections are kept alive."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler, self.host, self.port = handler, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="fake-projectx", daemon=True
        )
        self._thread.start()
        if not ready.wait(5.0):
            raise RuntimeError("fake ProjectX server did not start within 5 s")
        if self._failure is not None:
            raise self._failure

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(5.0)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)

    def _run(self, ready: threading.Event) -> None:
        assert self._loop is not None
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, self.port, limit=_MAX_LINE)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except OSError as exc:
            self._failure = exc
        ready.set()
        if self._failure is None:
            loop.run_forever()
        loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._conversation(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client left mid-request: nothing to answer
        except ValueError:
            _reset(writer)  # not HTTP/1.1: drop it rather than guess
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    async def _conversation(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (request := await _read_request(reader)) is not None:
            outcome = await self.handler(request)
            if isinstance(outcome, Hang):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reader.read(), outcome.seconds)
                return
            if isinstance(outcome, Reset):
                _reset(writer)
                return
            closing = request.headers.get("connection", "").lower() == "close"
            writer.write(_encode(outcome, closing))
            await writer.drain()
            if closing:
                return


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    line = await reader.readline()
    if not line.strip():
        return None  # EOF between requests
    method, target, _version = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    return Request(method.upper(), target.split("?", 1)[0], headers, body)


def _encode(reply: Reply, closing: bool) -> bytes:
    try:
        reason = HTTPStatus(reply.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {reply.status} {reason}"]
    lines += [f"{name}: {value}" for name, value in reply.headers.items()]
    lines.append(f"Content-Length: {len(reply.body)}")
    if closing:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            # linger on with a zero timeout turns close() into an RST
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
