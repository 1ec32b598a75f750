"""The hub-connection port: ONE SignalR connection, no reconnects of its own.

The listener builds a new `HubConnection` for every (re)connect, so the newest token is
always in the URL, and it alone decides when and how to reconnect. An adapter:
- `start(url)` connects over WebSockets with negotiation skipped (the token is already in
  `url` as `?access_token=`) and returns once the SignalR handshake is done; raises
  `HubUnauthorized` for an HTTP 401/403 at the upgrade, `HubError` for anything else;
- `invoke(target, arguments)` sends one invocation and waits for its Completion; raises
  `InvocationFailed` on an error Completion, `HubError` when the connection is gone;
- `stop()` closes the connection and never raises; calling it twice is harmless;
- keeps the connection alive from its side (a SignalR ping every `ping_interval_s`, or the
  server drops a client silent for 30 s);
- reports to its `HubSink`, always ON THE EVENT LOOP THREAD, in arrival order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class HubError(Exception):
    """The connection could not be made or is gone."""


class HubUnauthorized(HubError):
    """The hub refused the token at the upgrade (HTTP 401/403): a new token is needed."""


class InvocationFailed(HubError):
    """The server answered an invocation with an error Completion."""


class HubSink(Protocol):
    def message(self, target: str, arguments: list[Any]) -> None:
        """A server push (Invocation, type 1), unvalidated beyond its shape."""

    def alive(self) -> None:
        """A well-formed record arrived (ping, completion, push): the server is alive."""

    def bad_frame(self, reason: str, detail: str) -> None:
        """A record that is not valid SignalR JSON or not expected from this hub."""

    def closed(self, reason: str) -> None:
        """The connection is over (server close message, socket closed, error)."""


class HubConnection(Protocol):
    async def start(self, url: str) -> None: ...

    async def invoke(self, target: str, arguments: list[Any]) -> None: ...

    async def stop(self) -> None: ...


AdapterFactory = Callable[[HubSink], HubConnection]
