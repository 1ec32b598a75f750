"""The SignalR JSON hub protocol as FakeUserHub speaks it (supabase-realtime.md, "SignalR
JSON hub protocol"; projectx-gateway.md, "Realtime user hub").

Every record is a JSON object followed by the record separator 0x1E; one websocket frame
may carry several. Message types: 1 Invocation, 2 StreamItem, 3 Completion,
4 StreamInvocation, 5 CancelInvocation, 6 Ping, 7 Close.
"""

from __future__ import annotations

import json
from typing import Any

RS = "\x1e"
INVOCATION, STREAM_ITEM, COMPLETION, STREAM_INVOCATION, CANCEL, PING, CLOSE = 1, 2, 3, 4, 5, 6, 7
PATH = "/hubs/user"
NEGOTIATE_PATH = PATH + "/negotiate"

# User-hub event -> the Subscribe* method that opts a connection in to it.
SUBSCRIPTION_OF = {
    "GatewayUserAccount": "SubscribeAccounts",
    "GatewayUserOrder": "SubscribeOrders",
    "GatewayUserPosition": "SubscribePositions",
    "GatewayUserTrade": "SubscribeTrades",
}
SUBSCRIBE_METHODS = frozenset(SUBSCRIPTION_OF.values())
PER_ACCOUNT = SUBSCRIBE_METHODS - {"SubscribeAccounts"}


def record(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":")) + RS


def records(text: str | bytes) -> list[str]:
    """The records of one frame, separators removed (empty pieces dropped)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [piece for piece in text.split(RS) if piece]


def invocation(target: str, payload: Any) -> dict[str, Any]:
    """A server push: type 1 without invocationId, one object argument."""
    return {"type": INVOCATION, "target": target, "arguments": [payload]}


def completion(invocation_id: str, error: str | None = None) -> dict[str, Any]:
    if error is not None:
        return {"type": COMPLETION, "invocationId": invocation_id, "error": error}
    return {"type": COMPLETION, "invocationId": invocation_id, "result": None}


def ping() -> dict[str, Any]:
    return {"type": PING}


def close(error: str | None = None, allow_reconnect: bool = True) -> dict[str, Any]:
    message: dict[str, Any] = {"type": CLOSE, "allowReconnect": allow_reconnect}
    if error is not None:
        message["error"] = error
    return message


def negotiate_body(connection_id: str) -> bytes:
    """The ASP.NET Core negotiate answer (negotiateVersion 1: connect with &id=<token>)."""
    return json.dumps({
        "negotiateVersion": 1,
        "connectionId": connection_id,
        "connectionToken": f"{connection_id}-token",
        "availableTransports": [
            {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]},
        ],
    }).encode()  # fmt: skip


def account_of(payload: Any) -> int | None:
    """The accountId an order/position/trade push is for; also inside a {"data": {...}} wrap."""
    if isinstance(payload, dict):
        inner = payload.get("data")
        source = inner if isinstance(inner, dict) else payload
        account = source.get("accountId")
        return account if isinstance(account, int) else None
    return None
