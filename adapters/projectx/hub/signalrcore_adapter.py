"""HubConnection over signalrcore 1.0.2, the client the issue asked for.

What it takes to make it safe (each seen against tests/fakes/signalr_hub.py; the library
facts are pinned in tests/adapters/projectx/hub/test_library_facts.py):
- its callbacks run on its own receive thread: every one is posted to the event loop with
  `call_soon_threadsafe`, so the sink (and all engine state behind it) only ever runs on
  the loop thread;
- its calls block (a connect without timeout, `stop()` joining the receive thread), so
  they run in daemon threads of their own: never on the loop, and never in the default
  executor, whose threads would hold up interpreter exit;
- its automatic reconnect reuses the token read at start() and, once that is refused,
  stays "reconnecting" forever without a callback: it is off, one object is one
  connection, and the listener reconnects;
- without automatic reconnect it sends no pings, and the server drops a client silent for
  30 s: this adapter pings every `ping_interval_s`;
- `stop()` joins the thread blocked in recv, and on Linux closing the socket does not
  wake it (a silent connection hangs stop() until the server hangs up; other kernels
  differ): the socket is shut down first, which wakes it everywhere;
- incoming frames are read by our tap (frames.py), plugged in with `with_hub_protocol`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from signalrcore.hub_connection_builder import (  # type: ignore[import-untyped]
    HubConnectionBuilder,
)
from signalrcore.messages.ping_message import PingMessage  # type: ignore[import-untyped]
from signalrcore.protocol.json_hub_protocol import (  # type: ignore[import-untyped]
    JsonHubProtocol,
)

from adapters import events
from adapters.projectx.hub.frames import tap
from adapters.projectx.hub.port import HubError, HubSink, HubUnauthorized, InvocationFailed

T = TypeVar("T")
STOP_TIMEOUT_S = 5.0
HANDSHAKE_GRACE_S = 1.0


class SignalrcoreConnection:
    name = "signalrcore"

    def __init__(self, sink: HubSink, *, ping_interval_s: float = 15.0) -> None:
        self._sink = sink
        self._ping_interval_s = ping_interval_s
        self._hub: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opened: asyncio.Future[None] | None = None
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._keepalive: asyncio.Task[None] | None = None
        self._bridge: ThreadBridge | None = None
        self._socket_up = False  # set by the start thread once the upgrade succeeded
        self._stopped = False

    async def start(self, url: str) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        bridge = self._bridge = ThreadBridge(loop, self)
        hub = (
            HubConnectionBuilder()
            .with_url(url, options={"skip_negotiation": True})
            .with_hub_protocol(_TapProtocol(bridge))
            .build()
        )
        hub.on_open(lambda: bridge.post(self._on_open))
        hub.on_close(lambda: bridge.closed("socket closed"))
        hub.on_error(lambda m: bridge.post(self._complete, m.invocation_id, str(m.error)))
        self._hub = hub

        def start_hub() -> None:
            hub.start()
            self._socket_up = True

        try:
            await in_daemon_thread(start_hub, "signalrcore-start")
        except Exception as exc:  # noqa: BLE001 -- translated into the port's errors
            raise _start_error(exc) from None
        await self._opened
        self._keepalive = asyncio.create_task(self._ping(), name="signalrcore-keepalive")

    async def invoke(self, target: str, arguments: list[Any]) -> None:
        hub, loop = self._hub, self._loop
        if hub is None or loop is None or self._stopped:
            raise HubError("not connected")
        assert self._bridge is not None  # set by start()
        invocation_id = str(uuid.uuid4())
        done: asyncio.Future[None] = loop.create_future()
        self._pending[invocation_id] = done
        bridge = self._bridge

        def send() -> None:
            hub.invoke(
                target,
                arguments,
                invocation_id=invocation_id,
                on_invocation=lambda _m: bridge.post(self._complete, invocation_id, None),
            )

        try:
            try:
                await in_daemon_thread(send, "signalrcore-invoke")
            except Exception as exc:  # noqa: BLE001 -- HubConnectionError, ValueError, OSError
                raise HubError(f"invoke {target} failed: {type(exc).__name__}: {exc}") from None
            await done
        finally:
            self._pending.pop(invocation_id, None)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._keepalive is not None:
            self._keepalive.cancel()
        self._fail_pending(HubError("connection stopped"))
        hub, self._hub = self._hub, None
        if hub is None:
            return
        opened = self._opened
        if self._socket_up and opened is not None and not opened.done():
            # Its receive thread sends the handshake from on_open, outside any try: a
            # socket closed under it there dies with an unhandled exception. Let it finish.
            await asyncio.wait({opened}, timeout=HANDSHAKE_GRACE_S)
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await in_daemon_thread(lambda: _close(hub), "signalrcore-stop")
        except Exception as exc:  # noqa: BLE001 -- stop never raises; a stuck thread is abandoned
            events.signalr_stop_failed(client=self.name, error=repr(exc))

    # ----- HubSink for the tap and the library callbacks, posted to the loop by ThreadBridge

    def message(self, target: str, arguments: list[Any]) -> None:
        self._sink.message(target, arguments)

    def alive(self) -> None:
        self._sink.alive()

    def bad_frame(self, reason: str, detail: str) -> None:
        self._sink.bad_frame(reason, detail)

    def closed(self, reason: str) -> None:
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(HubError(f"closed during the SignalR handshake: {reason}"))
            self._opened.exception()  # retrieved: start() may have given up already
        self._fail_pending(HubError(f"connection closed: {reason}"))
        self._sink.closed(reason)

    def _on_open(self) -> None:
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)

    def _complete(self, invocation_id: str | None, error: str | None) -> None:
        future = self._pending.get(invocation_id or "")
        if future is not None and not future.done():
            if error:
                future.set_exception(InvocationFailed(error))
            else:
                future.set_result(None)

    def _fail_pending(self, exc: HubError) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)

    async def _ping(self) -> None:
        transport = self._hub.transport
        while True:
            await asyncio.sleep(self._ping_interval_s)
            try:
                await in_daemon_thread(lambda: transport.send(PingMessage()), "signalrcore-ping")
            except Exception as exc:  # noqa: BLE001 -- a failed ping ends the connection
                self.closed(f"ping failed: {type(exc).__name__}")
                return


class ThreadBridge:
    """A HubSink for foreign threads: every call is posted to the loop, in call order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: HubSink) -> None:
        self._loop, self._sink = loop, sink

    def post(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(fn, *args)

    def message(self, target: str, arguments: list[Any]) -> None:
        self.post(self._sink.message, target, arguments)

    def alive(self) -> None:
        self.post(self._sink.alive)

    def bad_frame(self, reason: str, detail: str) -> None:
        self.post(self._sink.bad_frame, reason, detail)

    def closed(self, reason: str) -> None:
        self.post(self._sink.closed, reason)


async def in_daemon_thread(fn: Callable[[], T], name: str) -> T:
    """Run a blocking call in a daemon thread; a caller that gives up abandons it."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, exc: BaseException | None) -> None:
        if not future.done():
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(result)

    def work() -> None:
        try:
            result, exc = fn(), None
        except BaseException as error:  # noqa: BLE001 -- handed to the awaiting coroutine
            result, exc = None, error
        with contextlib.suppress(RuntimeError):  # the loop is closed
            loop.call_soon_threadsafe(settle, result, exc)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await future


class _TapProtocol(JsonHubProtocol):  # type: ignore[misc]  # untyped library class
    def __init__(self, sink: HubSink) -> None:
        super().__init__()
        self._sink = sink

    def decode_handshake(self, raw: str) -> Any:
        # signalrcore logs a handshake error and calls nothing: report it ourselves.
        response, messages = super().decode_handshake(raw)
        if response.error:
            self._sink.closed(f"handshake error: {response.error}")
        return response, messages

    def parse_messages(self, raw: str) -> list[Any]:
        messages = []
        for message in tap(raw, self._sink):
            try:
                messages.append(self.get_message(message))
            except Exception:  # noqa: BLE001 -- a record the library cannot build
                self._sink.bad_frame("library_rejected", repr(message)[:120])
        return messages


def _close(hub: Any) -> None:
    """Shut the socket down (wakes the receive thread), then let the library stop."""
    client = getattr(getattr(hub, "transport", None), "_client", None)  # private: 1.0.2
    sock = getattr(client, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    hub.stop()
    if sock is not None:
        sock.close()


def _start_error(exc: Exception) -> HubError:
    # SocketHandshakeError carries the whole HTTP answer; its first line is enough.
    first_line = str(exc).split("\n", 1)[0].strip()
    if any(f" {code} " in f"{first_line} " for code in (401, 403)):
        return HubUnauthorized(first_line)
    return HubError(f"{type(exc).__name__}: {first_line}")
