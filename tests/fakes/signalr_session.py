"""One websocket connection to FakeUserHub: handshake, invocations answered with
completions, server pings, subscriptions, and the client-timeout rule of ASP.NET Core."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tests.fakes import signalr_wire as wire

if TYPE_CHECKING:
    from tests.fakes.signalr_hub import FakeUserHub


@dataclass(frozen=True, slots=True)
class Invocation:
    connection: int  # Session.number
    target: str
    arguments: list[Any]
    invocation_id: str | None


@dataclass(slots=True)
class Session:
    hub: FakeUserHub
    number: int  # 1 for the first accepted connection, 2 for the next, ...
    ws: ServerConnection
    token: str | None
    handshake: dict[str, Any] | None = None
    invocations: list[Invocation] = field(default_factory=list)
    client_pings: int = 0
    client_closes: int = 0
    # ("SubscribeAccounts", None) or ("SubscribeOrders", <accountId>), ...
    subscriptions: set[tuple[str, int | None]] = field(default_factory=set)
    last_client_frame: float = 0.0
    open: bool = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.last_client_frame = loop.time()
        try:
            if not await self._handshake():
                return
            ticker = asyncio.create_task(self._tick(), name=f"fake-hub-tick-{self.number}")
            try:
                async for text in self.ws:
                    self.last_client_frame = loop.time()
                    for piece in wire.records(text):
                        await self._on_record(piece)
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
        except ConnectionClosed:
            pass
        finally:
            self.open = False

    async def send(self, text: str | bytes) -> bool:
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            return False
        return True

    def wants(self, target: str, payload: Any) -> bool:
        """Routing: a known user-hub event reaches the connections that subscribed to it
        (per account for orders, positions, trades); any other target reaches everyone."""
        method = wire.SUBSCRIPTION_OF.get(target)
        if method is None:
            return True
        if method == "SubscribeAccounts":
            return (method, None) in self.subscriptions
        return (method, wire.account_of(payload)) in self.subscriptions

    async def _handshake(self) -> bool:
        text = await asyncio.wait_for(self.ws.recv(), self.hub.handshake_timeout_s)
        pieces = wire.records(text)
        try:
            request = json.loads(pieces[0]) if pieces else None
        except ValueError:
            request = None
        ok = (
            isinstance(request, dict)
            and request.get("protocol") == "json"
            and request.get("version") in (0, 1)
        )
        self.handshake = request if isinstance(request, dict) else None
        error = "Unsupported handshake request." if not ok else self.hub.handshake_error
        if error is not None:
            await self.send(wire.record({"error": error}))
            await self.ws.close()
            return False
        await self.send(wire.record({}))
        for piece in pieces[1:]:
            await self._on_record(piece)
        return True

    async def _tick(self) -> None:
        """Server pings every ping_interval_s (not while stalled); a client silent for
        client_timeout_s is closed, as ASP.NET Core does (ClientTimeoutInterval)."""
        loop = asyncio.get_running_loop()
        hub = self.hub
        step = min(x for x in (hub.ping_interval_s, hub.client_timeout_s, 0.05) if x)
        last_ping = loop.time()
        while True:
            await asyncio.sleep(step)
            now = loop.time()
            timeout = hub.client_timeout_s
            if timeout is not None and now - self.last_client_frame > timeout:
                hub.client_timeouts += 1
                await self.send(wire.record(wire.close(
                    "Server timeout elapsed without receiving a message from the client.",
                )))  # fmt: skip
                await self.ws.close()
                return
            if hub.ping_interval_s and not hub.stalled and now - last_ping >= hub.ping_interval_s:
                last_ping = now
                await self.send(wire.record(wire.ping()))

    async def _on_record(self, piece: str) -> None:
        try:
            message = json.loads(piece)
        except ValueError:
            self.hub.client_garbage.append(piece)
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == wire.PING:
            self.client_pings += 1
        elif kind == wire.CLOSE:
            self.client_closes += 1
        elif kind == wire.INVOCATION:
            await self._on_invocation(message)
        else:
            self.hub.client_garbage.append(piece)

    async def _on_invocation(self, message: dict[str, Any]) -> None:
        target = str(message.get("target"))
        arguments = message.get("arguments")
        arguments = arguments if isinstance(arguments, list) else []
        invocation_id = message.get("invocationId")
        self.invocations.append(Invocation(self.number, target, arguments, invocation_id))
        error = None
        if target == "SubscribeAccounts":
            self.subscriptions.add((target, None))
        elif target in wire.PER_ACCOUNT and arguments and isinstance(arguments[0], int):
            self.subscriptions.add((target, arguments[0]))
        else:
            error = f"Failed to invoke '{target}' due to an error on the server."
        if invocation_id is not None and not self.hub.stalled:
            await self.send(wire.record(wire.completion(str(invocation_id), error)))
