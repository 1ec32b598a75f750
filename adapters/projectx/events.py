"""ProjectX user-hub and REST payloads -> engine.account_state events (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.account_state import AccountEvent, OrderEvent, PositionEvent, TradeEvent

Event = AccountEvent | OrderEvent | PositionEvent | TradeEvent


class BadPayload(ValueError):
    """A hub or REST payload that lacks a field the state needs."""


def _time(value: object) -> float:
    if not isinstance(value, str):
        raise BadPayload(f"timestamp {value!r}")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def account_event(p: Mapping[str, Any]) -> AccountEvent:
    return AccountEvent(int(p["id"]), str(p.get("name", "")), float(p.get("balance") or 0.0),
                        bool(p.get("canTrade")), bool(p.get("isVisible", True)),
                        bool(p.get("simulated", False)))  # fmt: skip


def order_event(p: Mapping[str, Any]) -> OrderEvent:
    updated = p.get("updateTimestamp")
    return OrderEvent(
        id=int(p["id"]), account_id=int(p["accountId"]), contract=str(p["contractId"]),
        created_at=_time(p["creationTimestamp"]),
        updated_at=_time(updated) if updated else None, status=int(p.get("status", 0)),
        type=int(p.get("type", 0)), side=int(p.get("side", 0)), size=int(p.get("size", 0)),
        limit_price=_opt_float(p.get("limitPrice")), stop_price=_opt_float(p.get("stopPrice")),
        fill_volume=int(p.get("fillVolume") or 0), filled_price=_opt_float(p.get("filledPrice")),
        custom_tag=p.get("customTag") or None,
    )  # fmt: skip


def position_event(p: Mapping[str, Any]) -> PositionEvent:
    return PositionEvent(int(p["id"]), int(p["accountId"]), str(p["contractId"]),
                         _time(p["creationTimestamp"]), int(p.get("type", 0)),
                         int(p.get("size", 0)), float(p.get("averagePrice") or 0.0))  # fmt: skip


def trade_event(p: Mapping[str, Any]) -> TradeEvent:
    pnl = p.get("profitAndLoss")
    return TradeEvent(
        id=int(p["id"]), account_id=int(p["accountId"]), contract=str(p["contractId"]),
        at=_time(p["creationTimestamp"]), price=float(p["price"]),
        pnl=None if pnl is None else float(pnl), fees=float(p.get("fees") or 0.0),
        side=int(p.get("side", 0)), size=int(p.get("size", 0)), voided=bool(p.get("voided")),
        order_id=int(p["orderId"]) if p.get("orderId") is not None else None,
    )  # fmt: skip


PARSERS = {
    "GatewayUserAccount": account_event,
    "GatewayUserOrder": order_event,
    "GatewayUserPosition": position_event,
    "GatewayUserTrade": trade_event,
}


def hub_event(target: str, payload: object) -> Event:
    """A hub invocation's single argument as an engine event; BadPayload otherwise."""
    parser = PARSERS.get(target)
    if parser is None:
        raise BadPayload(f"unknown event {target!r}")
    if not isinstance(payload, Mapping):
        raise BadPayload(f"{target}: argument is not an object")
    try:
        return parser(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadPayload(f"{target}: {type(exc).__name__}: {exc}") from None
