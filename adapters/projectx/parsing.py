"""ProjectX payloads -> engine values (pure): REST answers and user-hub pushes alike.

The gateway's codes (side 0/1, order type, order status, position type) are read here
and nowhere else; the engine sees its own `Side`, `OrderType`, `OrderStatus` and
`PositionType`. A code outside the documented enums is a `BadPayload`, as is a missing
field the account state needs. A hub push carries one object argument with the REST
field names; some public clients also unwrap `{"action": n, "data": {...}}`: that shape
is accepted too (unconfirmed against the live hub) and its `action` logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from engine.account_state import AccountEvent, Event, OrderEvent, PositionEvent, TradeEvent
from engine.model import OrderStatus, OrderType, PositionType, Side
from engine.risk import Fill

# -- The gateway's codes (projectx-gateway.md, "Enums") ------------------------------------

SIDES = {0: Side.BUY, 1: Side.SELL}  # OrderSide: 0 Bid, 1 Ask
ORDER_TYPES = {
    0: OrderType.UNKNOWN,
    1: OrderType.LIMIT,
    2: OrderType.MARKET,
    3: OrderType.STOP_LIMIT,
    4: OrderType.STOP,
    5: OrderType.TRAILING_STOP,
    6: OrderType.JOIN_BID,
    7: OrderType.JOIN_ASK,
}
ORDER_STATUSES = {
    0: OrderStatus.NONE,
    1: OrderStatus.OPEN,
    2: OrderStatus.FILLED,
    3: OrderStatus.CANCELLED,
    4: OrderStatus.EXPIRED,
    5: OrderStatus.REJECTED,
    6: OrderStatus.PENDING,
}
POSITION_TYPES = {0: PositionType.UNDEFINED, 1: PositionType.LONG, 2: PositionType.SHORT}
# What the worker sends (Order/place, the intent store): the codes of an engine value.
SIDE_CODES = {side: code for code, side in SIDES.items()}
ORDER_TYPE_CODES = {kind: code for code, kind in ORDER_TYPES.items()}

_Value = TypeVar("_Value")


class BadPayload(ValueError):
    """A payload that lacks a field the engine needs, or carries an unknown code."""


def _code(table: Mapping[int, _Value], value: Any, field: str) -> _Value:
    found = table.get(int(value))
    if found is None:
        raise BadPayload(f"unknown {field} code {value!r}")
    return found


def is_int(value: object) -> bool:
    """A JSON integer (JSON `true` is not one, though Python's bool is an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def timestamp(value: object) -> float:
    """Epoch seconds of a gateway timestamp (ISO 8601; naive is UTC); BadPayload otherwise."""
    if not isinstance(value, str):
        raise BadPayload(f"timestamp {value!r}")
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


def stamp(value: object) -> float | None:
    """`timestamp`, or None when the value is not a readable timestamp."""
    try:
        return timestamp(value)
    except ValueError:  # BadPayload is one
        return None


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


# -- Accounts, orders, positions, trades: REST items and hub pushes ------------------------
# Each raises KeyError, TypeError or ValueError (BadPayload) for a payload it cannot read.


def account_event(p: Mapping[str, Any]) -> AccountEvent:
    return AccountEvent(
        id=int(p["id"]),
        name=str(p.get("name", "")),
        balance=float(p.get("balance") or 0.0),
        can_trade=bool(p.get("canTrade")),
        is_visible=bool(p.get("isVisible", True)),
        simulated=bool(p.get("simulated", False)),
    )


def order_event(p: Mapping[str, Any]) -> OrderEvent:
    updated = p.get("updateTimestamp")
    return OrderEvent(
        id=int(p["id"]),
        account_id=int(p["accountId"]),
        contract=str(p["contractId"]),
        created_at=timestamp(p["creationTimestamp"]),
        updated_at=timestamp(updated) if updated else None,
        status=_code(ORDER_STATUSES, p.get("status", 0), "status"),
        type=_code(ORDER_TYPES, p.get("type", 0), "type"),
        side=_code(SIDES, p.get("side", 0), "side"),
        size=int(p.get("size", 0)),
        limit_price=_opt_float(p.get("limitPrice")),
        stop_price=_opt_float(p.get("stopPrice")),
        fill_volume=int(p.get("fillVolume") or 0),
        filled_price=_opt_float(p.get("filledPrice")),
        custom_tag=p.get("customTag") or None,
    )


def position_event(p: Mapping[str, Any]) -> PositionEvent:
    return PositionEvent(
        id=int(p["id"]),
        account_id=int(p["accountId"]),
        contract=str(p["contractId"]),
        created_at=timestamp(p["creationTimestamp"]),
        type=_code(POSITION_TYPES, p.get("type", 0), "type"),
        size=int(p.get("size", 0)),
        average_price=float(p.get("averagePrice") or 0.0),
    )


def trade_event(p: Mapping[str, Any]) -> TradeEvent:
    pnl = p.get("profitAndLoss")
    fill = Fill(
        id=int(p["id"]),
        account="",  # the hub knows the account by id: its state names it
        contract=str(p["contractId"]),
        at=timestamp(p["creationTimestamp"]),
        price=float(p["price"]),
        pnl=None if pnl is None else float(pnl),
        fees=float(p.get("fees") or 0.0),
        side=_code(SIDES, p.get("side", 0), "side"),
        size=int(p.get("size", 0)),
        voided=bool(p.get("voided")),
        order_id=int(p["orderId"]) if p.get("orderId") is not None else None,
    )
    return TradeEvent(account_id=int(p["accountId"]), fill=fill)


def fill_of(trade: Mapping[str, Any], account: str) -> Fill | None:
    """A `Trade/search` item as a Fill of `account`; None when it cannot be read."""
    try:
        return trade_event(trade).named(account)
    except (KeyError, TypeError, ValueError):
        return None


# -- User-hub pushes ------------------------------------------------------------------------

# Every user-hub event, by its name on the hub: how its payload is read.
HUB_EVENTS: dict[str, Callable[[Mapping[str, Any]], Event]] = {
    "GatewayUserAccount": account_event,
    "GatewayUserOrder": order_event,
    "GatewayUserPosition": position_event,
    "GatewayUserTrade": trade_event,
}
# The fields of each one's log line (account_update, order_update, position_update,
# trade_fill; adapters/events/user_hub.py) as (payload field, log field): the payload's
# as received (a field it lacks is logged as None).
# (One line per group of related fields: the table reads as the gateway documents them.)
LOG_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {
    AccountEvent: (
        ("id", "account_id"),
        ("name", "account_name"),
        ("balance", "balance"),
        ("canTrade", "can_trade"),
        ("isVisible", "is_visible"),
        ("simulated", "simulated"),
    ),
    OrderEvent: (
        ("id", "order_id"),
        ("accountId", "account_id"),
        ("contractId", "contract_id"),
        ("status", "status"),
        ("type", "type"),
        ("side", "side"),
        ("size", "size"),
        ("limitPrice", "limit_price"),
        ("stopPrice", "stop_price"),
        ("fillVolume", "fill_volume"),
        ("filledPrice", "filled_price"),
        ("customTag", "custom_tag"),
        ("updateTimestamp", "updated_at"),
    ),
    PositionEvent: (
        ("id", "position_id"),
        ("accountId", "account_id"),
        ("contractId", "contract_id"),
        ("type", "type"),
        ("size", "size"),
        ("averagePrice", "average_price"),
        ("creationTimestamp", "created_at"),
    ),
    TradeEvent: (
        ("id", "trade_id"),
        ("accountId", "account_id"),
        ("contractId", "contract_id"),
        ("orderId", "order_id"),
        ("side", "side"),
        ("size", "size"),
        ("price", "price"),
        ("profitAndLoss", "pnl"),
        ("fees", "fees"),
        ("voided", "voided"),
        ("creationTimestamp", "created_at"),
    ),
}


@dataclass(frozen=True, slots=True)
class HubPush:
    """One user-hub push, read: the engine event and the fields of its log line."""

    event: Event
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BadPush:
    """A push of an unknown event, or not one object with an id (`hub_bad_frame`)."""

    reason: str  # unknown_target | bad_arguments
    detail: str


@dataclass(frozen=True, slots=True)
class BadEvent:
    """A push of the right shape whose payload cannot be read (`hub_bad_event`)."""

    target: str
    reason: str


def parse_push(target: str, arguments: list[Any]) -> HubPush | BadPush | BadEvent:
    """A hub invocation (`target`, `arguments`) as an engine event, or why not."""
    read = HUB_EVENTS.get(target)
    if read is None:
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
    try:
        event = read(payload)
    except (KeyError, TypeError, ValueError) as exc:
        return BadEvent(target[:64], f"{target}: {type(exc).__name__}: {exc}"[:200])
    return HubPush(event, log_fields(type(event), payload, action))


def log_fields(kind: type, payload: Mapping[str, Any], action: int | None) -> dict[str, Any]:
    """The fields of a push's log line: the payload's, with the names of its codes."""
    fields = {name: payload.get(key) for key, name in LOG_FIELDS[kind]}
    if kind is OrderEvent:
        fields["status_name"] = _name(ORDER_STATUSES, fields["status"])
        fields["side_name"] = _name(SIDES, fields["side"])
    elif kind is TradeEvent:
        fields["side_name"] = _name(SIDES, fields["side"])
    elif kind is PositionEvent:
        fields["type_name"] = _name(POSITION_TYPES, fields["type"])
    if action is not None:
        fields["action"] = action
    return fields


def _name(table: Mapping[int, StrEnum], value: Any) -> str | None:
    found = table.get(value) if isinstance(value, int) else None
    return None if found is None else found.value


# -- Order/place ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlaceAnswer:
    """What a 2xx `Order/place` answer says. Exactly one reading holds: accepted
    (`order_id`), refused (`error_code`, an explicit `success: false`), or neither
    (`unclear` says why): the order may have been booked, so the caller looks it up."""

    order_id: int | None = None
    error_code: int | None = None
    message: str = ""
    unclear: str = ""


def place_answer(body: bytes) -> PlaceAnswer:
    """Read a 2xx `Order/place` body. Only `success: true` with an integer `orderId`
    is accepted and only `success: false` with a non-zero integer `errorCode` is a
    refusal; anything else (not JSON, not an object, no envelope) is unclear."""
    try:
        answer = json.loads(body)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return PlaceAnswer(unclear="answer is not JSON")
    if not isinstance(answer, dict):
        return PlaceAnswer(unclear=f"answer is JSON {type(answer).__name__}, not an object")
    success, order_id, code = answer.get("success"), answer.get("orderId"), answer.get("errorCode")
    if success is True and is_int(order_id):
        return PlaceAnswer(order_id=order_id)
    if success is False and is_int(code) and code != 0:  # errorCode 0 means success
        message = answer.get("errorMessage")
        return PlaceAnswer(error_code=code, message=str(message or "success: false"))
    return PlaceAnswer(unclear="neither success with an orderId nor a refusal with an errorCode")


# -- Contract/search -----------------------------------------------------------------------


def product_prefix(symbol_id: str) -> str:
    """Contract-id prefix of every month of a product: F.US.EP -> "CON.F.US.EP."."""
    return f"CON.{symbol_id.upper()}."


def active_contract(contracts: list[dict[str, Any]], symbol_id: str) -> str | None:
    """The active contract id of a ProjectX symbol (F.US.EP) among `Contract/search` results.

    A contract carrying `symbolId` matches on it; one without (the older revision of the
    docs) matches on its id's product prefix (CON.F.US.EP.)."""
    wanted, prefix = symbol_id.upper(), product_prefix(symbol_id)
    for contract in contracts:
        contract_id, given = contract.get("id"), contract.get("symbolId")
        if not (isinstance(contract_id, str) and contract_id and contract.get("activeContract")):
            continue
        if isinstance(given, str) and given:
            if given.upper() == wanted:
                return contract_id
        elif contract_id.upper().startswith(prefix):
            return contract_id
    return None
