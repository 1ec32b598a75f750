"""HubConnection over pysignalr 1.3.3: asyncio-native (the maintained ProjectX SDK moved to
it in its 4.0), so its callbacks already run on the event loop thread.

What it takes to make it fit (each seen against tests/fakes/signalr_hub.py; the library
facts are pinned in tests/adapters/projectx/hub/test_library_facts.py):
- `SignalRClient` always negotiates: its transport has a `skip_negotiation` option the
  client never passes on. We set it on the transport (private; checked at construction,
  so a pysignalr upgrade that renames it fails loudly instead of negotiating);
- without negotiation the URL goes to websockets as given: http(s) becomes ws(s) here;
- its own reconnect reuses the URL, so the token (and, after a negotiation, a connection
  id the server no longer knows): on_close raises to end the client instead, and the
  listener reconnects with a new one and the newest token;
- a record that is not JSON ends `run()`, and an error Completion with no error callback
  too: frames are read by our tap (frames.py) and an error callback is always set.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pysignalr.client import SignalRClient
from pysignalr.messages import CompletionMessage, Message
from pysignalr.protocol.json import JSONProtocol
from pysignalr.utils import replace_scheme
from websockets.exceptions import InvalidStatus

from adapters.projectx.hub.frames import tap
from adapters.projectx.hub.port import HubError, HubSink, HubUnauthorized, InvocationFailed

STOP_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 10


class PysignalrConnection:
    name = "pysignalr"

    def __init__(self, sink: HubSink, *, ping_interval_s: float = 15.0) -> None:
        self._sink = sink
        self._ping_interval_s = ping_interval_s
        self._client: SignalRClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._opened: asyncio.Future[None] | None = None
        self._stopped = False

    async def start(self, url: str) -> None:
        self._opened = asyncio.get_running_loop().create_future()
        client = SignalRClient(
            replace_scheme(url, ws=True),
            protocol=_TapProtocol(self._sink),
            signalr_ping_interval=self._ping_interval_s,  # type: ignore[arg-type]  # float ok
            connection_timeout=CONNECT_TIMEOUT_S,
            retry_count=1,
        )
        transport: Any = client._transport  # private in 1.3.3: see the module docstring
        if not hasattr(transport, "_skip_negotiation"):
            raise RuntimeError("pysignalr changed: cannot skip negotiation any more")
        transport._skip_negotiation = True
        client.on_open(self._on_open)
        client.on_close(self._on_close)
        client.on_error(self._on_error)
        self._client = client
        self._task = asyncio.create_task(client.run(), name="pysignalr-run")
        self._task.add_done_callback(self._on_run_end)
        await self._opened

    async def invoke(self, target: str, arguments: list[Any]) -> None:
        client = self._client
        if client is None or self._stopped or self._task is None or self._task.done():
            raise HubError("not connected")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def completed(message: Message) -> None:
            error = getattr(message, "error", None)
            if done.done():
                return
            if error:
                done.set_exception(InvocationFailed(str(error)))
            else:
                done.set_result(None)

        try:
            await client.send(target, arguments, on_invocation=completed)
        except Exception as exc:  # noqa: BLE001 -- RuntimeError, ConnectionClosed, ...
            raise HubError(f"invoke {target} failed: {type(exc).__name__}: {exc}") from None
        ended = self._task
        finished, _ = await asyncio.wait({done, ended}, return_when=asyncio.FIRST_COMPLETED)
        if done not in finished:
            done.cancel()
            raise HubError("connection closed")
        done.result()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_TIMEOUT_S)
        self._client = None

    # ----- library callbacks (on the loop, inside the run task)

    async def _on_open(self) -> None:
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)

    async def _on_close(self) -> None:
        # Once connected, this runs as the library starts its own reconnect (same URL, so
        # the same token): raising here ends run() before it opens another socket.
        # Before that it runs as run() gives up (e.g. after a 401): let that error through.
        if self._opened is not None and self._opened.done():
            raise _ClientEnded("socket closed")

    async def _on_error(self, message: CompletionMessage) -> None:
        """Error Completions: `invoke` sees them through its own callback; without this
        one pysignalr raises from its receive loop."""

    def _on_run_end(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            error: HubError = HubError("stopped")
        else:
            error = _run_error(task.exception())
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(error)
            self._opened.exception()  # retrieved: start() may have given up already
        if not self._stopped:
            self._sink.closed(str(error))


class _ClientEnded(HubError):
    """Raised from on_close to end the client instead of letting it reconnect."""


class _TapProtocol(JSONProtocol):
    def __init__(self, sink: HubSink) -> None:
        super().__init__()
        self._sink = sink

    def decode(self, raw_message: str | bytes) -> list[Message]:
        messages = []
        for message in tap(raw_message, self._sink):
            try:
                messages.append(self.parse_message(message))
            except Exception:  # noqa: BLE001 -- a record the library cannot build
                self._sink.bad_frame("library_rejected", repr(message)[:120])
        return messages


def _run_error(exc: BaseException | None) -> HubError:
    if isinstance(exc, _ClientEnded):
        return exc
    # pysignalr turns every InvalidHandshake (so an HTTP 401) into NegotiationFailure.
    cause = exc
    while cause is not None and not isinstance(cause, InvalidStatus):
        cause = cause.__cause__
    if isinstance(cause, InvalidStatus):
        status = cause.response.status_code
        if status in (401, 403):
            return HubUnauthorized(f"HTTP {status} at the upgrade")
        return HubError(f"HTTP {status} at the upgrade")
    if exc is None:
        return HubError("run() ended")
    return HubError(f"{type(exc).__name__}: {str(exc)[:200]}")
