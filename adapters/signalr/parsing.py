"""User-hub pushes -> `HubEvent` values and the fields of their log lines. Pure: no I/O.

projectx-gateway.md: each event carries one object argument with the REST field names.
Some public clients also unwrap `{"action": n, "data": {...}}`; that shape is accepted
too (unconfirmed against the live hub) and its `action` kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KIND_OF = {
    "GatewayUserAccount": "account",
    "GatewayUserOrder": "order",
    "GatewayUserPosition": "position",
    "GatewayUserTrade": "trade",
}
LOG_EVENT = {
    "account": "account_update",
    "order": "order_update",
    "position": "position_update",
    "trade": "trade_fill",
}
# (payload field, log field) per kind: ids, account, contract, status/side/size/prices,
# pnl, fees, voided, customTag.
FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "account": (
        ("id", "account_id"), ("name", "account_name"), ("balance", "balance"),
        ("canTrade", "can_trade"), ("isVisible", "is_visible"), ("simulated", "simulated"),
    ),
    "order": (
        ("id", "order_id"), ("accountId", "account_id"), ("contractId", "contract_id"),
        ("status", "status"), ("type", "type"), ("side", "side"), ("size", "size"),
        ("limitPrice", "limit_price"), ("stopPrice", "stop_price"),
        ("fillVolume", "fill_volume"), ("filledPrice", "filled_price"),
        ("customTag", "custom_tag"), ("updateTimestamp", "updated_at"),
    ),
    "position": (
        ("id", "position_id"), ("accountId", "account_id"), ("contractId", "contract_id"),
        ("type", "type"), ("size", "size"), ("averagePrice", "average_price"),
        ("creationTimestamp", "created_at"),
    ),
    "trade": (
        ("id", "trade_id"), ("accountId", "account_id"), ("contractId", "contract_id"),
        ("orderId", "order_id"), ("side", "side"), ("size", "size"), ("price", "price"),
        ("profitAndLoss", "pnl"), ("fees", "fees"), ("voided", "voided"),
        ("creationTimestamp", "created_at"),
    ),
}  # fmt: skip
ORDER_STATUS = {0: "none", 1: "open", 2: "filled", 3: "cancelled", 4: "expired",
                5: "rejected", 6: "pending"}  # fmt: skip
SIDE = {0: "buy", 1: "sell"}
POSITION_TYPE = {0: "undefined", 1: "long", 2: "short"}


@dataclass(frozen=True, slots=True)
class HubEvent:
    """One user-hub push. `received_at`: epoch seconds UTC, when it reached us."""

    kind: str  # account | order | position | trade
    target: str  # the hub event name, e.g. GatewayUserOrder
    payload: dict[str, Any]
    received_at: float
    action: int | None = None  # only when the push came wrapped as {"action", "data"}


@dataclass(frozen=True, slots=True)
class BadPush:
    reason: str  # unknown_target | bad_arguments
    detail: str


def parse_push(target: str, arguments: list[Any], received_at: float) -> HubEvent | BadPush:
    kind = KIND_OF.get(target)
    if kind is None:
        return BadPush("unknown_target", target[:80])
    if len(arguments) != 1 or not isinstance(arguments[0], dict):
        return BadPush("bad_arguments", f"{target}: {repr(arguments)[:100]}")
    payload, action = arguments[0], None
    inner = payload.get("data")
    if isinstance(inner, dict) and "id" not in payload:
        raw_action = payload.get("action")
        payload, action = inner, raw_action if isinstance(raw_action, int) else None
    if payload.get("id") is None:
        return BadPush("bad_arguments", f"{target}: no id")
    return HubEvent(kind, target, payload, received_at, action)


def log_fields(event: HubEvent) -> dict[str, Any]:
    """The fields of the event's log line; absent payload fields are logged as None."""
    fields = {name: event.payload.get(key) for key, name in FIELDS[event.kind]}
    if event.kind == "order":
        fields["status_name"] = _name(ORDER_STATUS, fields["status"])
        fields["side_name"] = _name(SIDE, fields["side"])
    elif event.kind == "trade":
        fields["side_name"] = _name(SIDE, fields["side"])
    elif event.kind == "position":
        fields["type_name"] = _name(POSITION_TYPE, fields["type"])
    if event.action is not None:
        fields["action"] = event.action
    return fields


def _name(table: dict[int, str], value: Any) -> str | None:
    return table.get(value) if isinstance(value, int) else None
