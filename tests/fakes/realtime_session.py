"""One websocket connection to FakeRealtime: the Phoenix channel protocol as the
Supabase Realtime server speaks it to realtime-py (V1 JSON serializer)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tests.fakes import realtime_protocol as proto

if TYPE_CHECKING:
    from tests.fakes.realtime_server import FakeRealtime

SUBSCRIBED_MESSAGE = "Subscribed to PostgreSQL"
_REGCLASS = "select to_regclass(format('%%I.%%I', %s::text, %s::text))"


@dataclass(frozen=True, slots=True)
class JoinRecord:
    connection: int  # 1 for the first accepted connection, 2 for the next, ...
    topic: str
    ref: str | None
    join_ref: str | None
    payload: dict[str, Any]


class Session:
    def __init__(self, server: FakeRealtime, number: int, ws: ServerConnection) -> None:
        self.server, self.number, self.ws = server, number, ws
        # topic -> its bindings (with ids) once live for postgres_changes; [] = joined only
        self.channels: dict[str, list[dict[str, Any]]] = {}
        self.join_refs: dict[str, str | None] = {}

    async def run(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in self.ws:
                await self._on_frame(text)

    async def send(self, text: str | bytes) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(text)

    async def close_channels(self, reason: str) -> int:
        topics = list(self.channels)
        for topic in topics:
            del self.channels[topic]
            await self.send(proto.system(topic, "error", reason, extension="system"))
            # Phoenix's phx_close carries the join's ref as its ref.
            await self.send(proto.frame("phx_close", topic, {}, self.join_refs.pop(topic, None)))
        return len(topics)

    async def _on_frame(self, text: str | bytes) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("topic"), str):
            return  # array frames are the V2 serializer, which realtime-py never uses
        server = self.server
        server.received.append(msg)
        event, topic, ref = msg.get("event"), msg["topic"], msg.get("ref")
        if event == "heartbeat" and topic == "phoenix":
            server.heartbeats += 1
            if not server.stalled:
                await self.send(proto.reply(topic, ref, "ok", {}))
        elif server.stalled:
            return
        elif event == "phx_join":
            await self._join(msg)
        elif event == "phx_leave":  # Phoenix answers ok and sends no phx_close
            server.leaves.append(topic)
            self.channels.pop(topic, None)
            await self.send(proto.reply(topic, ref, "ok", {}))
        elif topic not in self.channels:
            await self.send(proto.reply(topic, ref, "error", {"reason": "unmatched topic"}))
        elif event == "access_token":  # the server never replies to a token refresh
            server.access_tokens.append((msg.get("payload") or {}).get("access_token"))

    async def _join(self, msg: dict[str, Any]) -> None:
        server = self.server
        topic, ref = msg["topic"], msg.get("ref")
        payload = msg["payload"] if isinstance(msg.get("payload"), dict) else {}
        server.joins.append(JoinRecord(self.number, topic, ref, msg.get("join_ref"), payload))
        if server.join_error is not None:
            await self.send(proto.reply(topic, ref, "error", {"reason": server.join_error}))
            return
        config = payload.get("config") or {}
        bindings = [b for b in config.get("postgres_changes") or [] if isinstance(b, dict)]
        # The server echoes each binding as sent, plus its id, in the order received.
        echoed = [{**b, "id": proto.binding_id(b)} for b in bindings]
        problem = await self._binding_problem(bindings) if echoed else None
        live_now = bool(echoed) and problem is None and not server.subscribe_delay_s
        self.channels[topic] = echoed if live_now else []
        self.join_refs[topic] = ref
        await self.send(proto.reply(topic, ref, "ok", {"postgres_changes": echoed}))
        if problem:
            await self.send(proto.system(topic, "error", problem))
        elif live_now:
            await self.send(proto.system(topic, "ok", SUBSCRIBED_MESSAGE))
        elif echoed:
            server.run_later(self._go_live_later(topic, echoed))

    async def _go_live_later(self, topic: str, bindings: list[dict[str, Any]]) -> None:
        await asyncio.sleep(self.server.subscribe_delay_s)
        if self.channels.get(topic) == []:
            self.channels[topic] = bindings
            await self.send(proto.system(topic, "ok", SUBSCRIBED_MESSAGE))

    async def _binding_problem(self, bindings: list[dict[str, Any]]) -> str | None:
        for binding in bindings:
            try:
                if binding.get("filter"):
                    proto.parse_filter(binding["filter"])
            except ValueError as exc:
                return f"Error parsing `filter` params: {exc}"
            table = binding.get("table")
            if table in (None, "*"):
                continue
            row = await self.server.query(_REGCLASS, (binding.get("schema", "public"), table))
            if row is None or row[0] is None:
                return (
                    "Unable to subscribe to changes with given parameters. Please check "
                    f"Realtime is enabled for the given connect parameters: {binding}"
                )
        return None
