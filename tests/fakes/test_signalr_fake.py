"""FakeUserHub speaks the SignalR JSON hub protocol: checked with a bare websockets client
and httpx, so the contract tests do not rest on a fake that only our clients accept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.fakes.signalr_hub import FakeUserHub
from tests.fakes.signalr_wire import RS

WS = "ws://127.0.0.1:{port}/hubs/user?access_token={token}"


@pytest.fixture
async def hub() -> AsyncIterator[FakeUserHub]:
    async with FakeUserHub({"tok-1"}, ping_interval_s=0.1) as fake:
        yield fake


async def records(ws: ClientConnection, *, skip_pings: bool = True) -> list[dict[str, Any]]:
    while True:
        text = await asyncio.wait_for(ws.recv(), 2)
        assert isinstance(text, str) and text.endswith(RS)
        found = [json.loads(p) for p in text.split(RS) if p]
        found = [r for r in found if not (skip_pings and r.get("type") == 6)]
        if found:
            return found


async def open_hub(hub: FakeUserHub, version: int = 1) -> ClientConnection:
    ws = await connect(WS.format(port=hub.port, token="tok-1"))
    await ws.send(json.dumps({"protocol": "json", "version": version}) + RS)
    assert await ws.recv() == "{}" + RS
    return ws


@pytest.mark.parametrize("version", [0, 1])
async def test_handshake_invocation_completion_and_routing(hub: FakeUserHub, version: int) -> None:
    ws = await open_hub(hub, version)
    await ws.send(json.dumps({"type": 1, "target": "SubscribeOrders", "arguments": [7],
                              "invocationId": "1"}) + RS)  # fmt: skip
    assert await records(ws) == [{"type": 3, "invocationId": "1", "result": None}]
    await ws.send(json.dumps({"type": 1, "target": "PlaceOrder", "arguments": [],
                              "invocationId": "2"}) + RS)  # fmt: skip
    (answer,) = await records(ws)
    assert answer["invocationId"] == "2" and "error" in answer
    assert await hub.emit("GatewayUserOrder", {"id": 1, "accountId": 8}) == 0  # not subscribed
    assert await hub.emit("GatewayUserOrder", {"id": 2, "accountId": 7}) == 1
    assert await records(ws) == [
        {"type": 1, "target": "GatewayUserOrder", "arguments": [{"id": 2, "accountId": 7}]}
    ]
    assert [i.target for i in hub.invocations] == ["SubscribeOrders", "PlaceOrder"]
    await ws.close()


async def test_server_pings_and_close_message(hub: FakeUserHub) -> None:
    ws = await open_hub(hub)
    assert await records(ws, skip_pings=False) == [{"type": 6}]
    await hub.close_all(error="bye", allow_reconnect=False)
    assert await records(ws) == [{"type": 7, "allowReconnect": False, "error": "bye"}]
    await asyncio.wait_for(ws.wait_closed(), 2)


async def test_upgrade_refused_for_a_bad_token_or_path(hub: FakeUserHub) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(WS.format(port=hub.port, token="tok-old"))
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as missing:
        await connect(f"ws://127.0.0.1:{hub.port}/hubs/market?access_token=tok-1")
    assert missing.value.response.status_code == 404
    assert [(a.token, a.status) for a in hub.attempts] == [("tok-old", 401), ("tok-1", 404)]


async def test_negotiate_is_answered_for_a_client_that_insists(hub: FakeUserHub) -> None:
    async with httpx.AsyncClient() as http:
        ok = await http.post(f"{hub.url}/negotiate?access_token=tok-1&negotiateVersion=1")
        refused = await http.post(f"{hub.url}/negotiate?access_token=nope")
    assert (
        ok.status_code == 200 and ok.json()["availableTransports"][0]["transport"] == "WebSockets"
    )
    assert refused.status_code == 401
    assert hub.negotiations == 2


async def test_bad_handshake_is_refused(hub: FakeUserHub) -> None:
    ws = await connect(WS.format(port=hub.port, token="tok-1"))
    await ws.send(json.dumps({"protocol": "messagepack", "version": 1}) + RS)
    assert json.loads((await ws.recv()).rstrip(RS)) == {"error": "Unsupported handshake request."}
    await asyncio.wait_for(ws.wait_closed(), 2)
