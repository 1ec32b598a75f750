"""Vocabulary shared by the FakeProjectX modules: the gateway's enum values and error
codes, the default accounts and contracts, errors, and request-field parsing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]
Clock = Callable[[], datetime]
Stamp = datetime | float | int | None  # an aware datetime or epoch seconds; None = now

LONG, SHORT = 1, 2  # PositionType
BUY, SELL = 0, 1  # OrderSide
MARKET, FILLED, OPEN, PENDING = 2, 2, 1, 6  # OrderType.Market, OrderStatus.*
# PlaceOrderErrorCode values from the gateway's swagger enum
ACCOUNT_NOT_FOUND, ORDER_REJECTED, ACCOUNT_VIOLATION = 1, 2, 4
CONTRACT_NOT_FOUND, CONTRACT_NOT_ACTIVE = 8, 9
DUPLICATE_TAG = ORDER_REJECTED  # the live code is unverified; a rejection is the safe guess

PRICE_FIELDS = {1: ("limitPrice",), 3: ("limitPrice", "stopPrice"), 4: ("stopPrice",),
                 5: ("trailPrice",)}  # fmt: skip

DEFAULT_ACCOUNTS: tuple[Json, ...] = (
    {"id": 1001, "name": "50KTC-V2-1001", "balance": 50000.0, "canTrade": True,
     "isVisible": True, "simulated": True},
)  # fmt: skip
ACCOUNT_DEFAULTS: Json = {"balance": 50000.0, "canTrade": True, "isVisible": True,
                          "simulated": True, "active": True}  # fmt: skip


def _contract(cid: str, name: str, desc: str, tick_value: float, active: bool) -> Json:
    symbol = cid.removeprefix("CON.").rsplit(".", 1)[0]
    return {"id": cid, "name": name, "description": desc, "tickSize": 0.25,
            "tickValue": tick_value, "activeContract": active, "symbolId": symbol}  # fmt: skip


DEFAULT_CONTRACTS: tuple[Json, ...] = (
    _contract("CON.F.US.MES.Z25", "MESZ5", "Micro E-mini S&P 500: December 2025", 1.25, True),
    _contract("CON.F.US.MES.H26", "MESH6", "Micro E-mini S&P 500: March 2026", 1.25, False),
    _contract("CON.F.US.EP.Z25", "ESZ5", "E-mini S&P 500: December 2025", 12.5, True),
    _contract("CON.F.US.MNQ.Z25", "MNQZ5", "Micro E-mini Nasdaq-100: December 2025", 0.5, True),
)


class GatewayError(Exception):
    """An answer of HTTP 200 with success:false."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class BadRequest(Exception):
    """A body the gateway's model binding refuses: HTTP 400."""


def as_utc(at: Stamp, clock: Clock) -> datetime:
    if at is None:
        return clock().astimezone(UTC)
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError(f"naive datetime {at!r}: pass an aware one")
        return at.astimezone(UTC)
    return datetime.fromtimestamp(at, UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def parse_stamp(value: object, name: str) -> datetime:
    """An ISO 8601 request timestamp; a naive one is read as UTC."""
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be an ISO 8601 string")
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(f"{name} is not ISO 8601: {value!r}") from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def field_int(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be an integer")
    return value
