"""ProjectX payloads -> engine values: the gateway's codes, REST items and hub pushes (read
once: the engine event and the fields of its log line)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.projectx.parsing import (
    ORDER_TYPE_CODES,
    SIDE_CODES,
    BadEvent,
    BadPush,
    HubPush,
    account_event,
    fill_of,
    log_fields,
    order_event,
    parse_push,
    position_event,
    stamp,
    trade_event,
)
from engine.account_state import AccountEvent, OrderEvent, PositionEvent, TradeEvent
from engine.model import OrderStatus, OrderType, PositionType, Side
from engine.risk import Fill

CONTRACT = "CON.F.US.MES.Z25"
AT = "2026-11-27T14:30:00+00:00"
AT_S = datetime(2026, 11, 27, 14, 30, tzinfo=UTC).timestamp()
TRADE = {"id": 501, "accountId": 7, "contractId": CONTRACT, "orderId": 101,
         "price": 6001.25, "side": 1, "size": 2, "profitAndLoss": 12.5, "fees": 0.74,
         "voided": False, "creationTimestamp": AT}  # fmt: skip
ORDER = {"id": 101, "accountId": 7, "contractId": CONTRACT, "creationTimestamp": AT,
         "updateTimestamp": AT, "status": 2, "type": 2, "side": 0, "size": 1,
         "limitPrice": None, "stopPrice": None, "fillVolume": 1, "filledPrice": 6001.25,
         "customTag": "rt-main-MES-20261127T1430Z"}  # fmt: skip
POSITION = {"id": 9, "accountId": 7, "contractId": CONTRACT, "creationTimestamp": AT,
            "type": 2, "size": 1, "averagePrice": 6001.25}  # fmt: skip
ACCOUNT = {"id": 7, "name": "PA-7", "balance": 50_000.0, "canTrade": True, "isVisible": True}


def test_the_codes_the_worker_sends() -> None:
    assert (SIDE_CODES[Side.BUY], SIDE_CODES[Side.SELL]) == (0, 1)  # OrderSide: Bid, Ask
    assert ORDER_TYPE_CODES[OrderType.MARKET] == 2


def test_rest_items_and_pushes_become_engine_events() -> None:
    assert trade_event(TRADE) == TradeEvent(
        account_id=7,
        fill=Fill(
            id=501, account="", contract=CONTRACT, at=AT_S, price=6001.25, pnl=12.5, fees=0.74,
            side=Side.SELL, size=2, voided=False, order_id=101,
        ),
    )  # fmt: skip
    assert order_event(ORDER) == OrderEvent(
        id=101, account_id=7, contract=CONTRACT, created_at=AT_S, updated_at=AT_S,
        status=OrderStatus.FILLED, type=OrderType.MARKET, side=Side.BUY, size=1,
        fill_volume=1, filled_price=6001.25, custom_tag="rt-main-MES-20261127T1430Z",
    )  # fmt: skip
    assert position_event(POSITION) == PositionEvent(
        id=9, account_id=7, contract=CONTRACT, created_at=AT_S, type=PositionType.SHORT,
        size=1, average_price=6001.25,
    )  # fmt: skip
    assert account_event(ACCOUNT) == AccountEvent(7, "PA-7", 50_000.0, True, True, False)


@pytest.mark.parametrize(
    ("code", "side"),
    [(0, Side.BUY), (1, Side.SELL), (None, Side.BUY)],  # absent: 0, as sent
)
def test_sides_of_a_fill(code: int | None, side: Side) -> None:
    trade = {k: v for k, v in TRADE.items() if k != "side"}
    if code is not None:
        trade["side"] = code
    assert fill_of(trade, "main") == Fill(
        id=501, account="main", contract=CONTRACT, at=AT_S, price=6001.25, pnl=12.5,
        fees=0.74, side=side, size=2, voided=False, order_id=101,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**TRADE, "side": 2}, "side"),
        ({**ORDER, "status": 7}, "status"),
        ({**ORDER, "type": 8}, "type"),
        ({**POSITION, "type": 3}, "type"),
    ],
)
def test_an_unknown_code_cannot_be_read(payload: dict[str, Any], field: str) -> None:
    read = {TRADE["id"]: trade_event, ORDER["id"]: order_event, POSITION["id"]: position_event}
    with pytest.raises(ValueError, match=f"unknown {field} code"):
        read[payload["id"]](payload)
    if payload["id"] == TRADE["id"]:
        assert fill_of(payload, "main") is None


def test_timestamps_with_an_offset_z_or_none_are_utc() -> None:
    assert stamp(AT) == stamp("2026-11-27T14:30:00Z") == stamp("2026-11-27T14:30:00") == AT_S
    assert stamp("yesterday-ish") is None and stamp(None) is None


def test_parse_push_plain_and_wrapped() -> None:
    plain = parse_push("GatewayUserTrade", [TRADE])
    assert isinstance(plain, HubPush) and plain.event == trade_event(TRADE)
    assert "action" not in plain.fields
    wrapped = parse_push("GatewayUserTrade", [{"action": 0, "data": TRADE}])
    assert wrapped == HubPush(trade_event(TRADE), {**plain.fields, "action": 0})


@pytest.mark.parametrize(
    ("target", "arguments", "reason"),
    [
        ("GatewayQuote", [{"id": 1}], "unknown_target"),
        ("GatewayUserOrder", [], "bad_arguments"),
        ("GatewayUserOrder", [{"id": 1}, {"id": 2}], "bad_arguments"),
        ("GatewayUserOrder", ["x"], "bad_arguments"),
        ("GatewayUserOrder", [{"accountId": 7}], "bad_arguments"),
    ],
)
def test_parse_push_rejects(target: str, arguments: list[Any], reason: str) -> None:
    result = parse_push(target, arguments)
    assert isinstance(result, BadPush) and result.reason == reason


@pytest.mark.parametrize(
    ("target", "payload", "reason"),
    [
        ("GatewayUserOrder", {"id": 1, "status": 5, "side": [0]},
         "GatewayUserOrder: KeyError: 'accountId'"),
        ("GatewayUserTrade", {**TRADE, "creationTimestamp": None},
         "GatewayUserTrade: BadPayload: timestamp None"),
        ("GatewayUserTrade", {**TRADE, "side": 2}, "GatewayUserTrade: BadPayload: unknown side"),
        ("GatewayUserPosition", {**POSITION, "size": "x"}, "GatewayUserPosition: ValueError: "),
    ],
)  # fmt: skip
def test_a_push_whose_payload_cannot_be_read_is_a_bad_event(
    target: str, payload: dict[str, Any], reason: str
) -> None:
    result = parse_push(target, [payload])
    assert isinstance(result, BadEvent)
    assert result.target == target and result.reason.startswith(reason)


def test_log_fields_of_a_fill() -> None:
    push = parse_push("GatewayUserTrade", [TRADE])
    assert isinstance(push, HubPush)
    assert push.fields == {
        "trade_id": 501, "account_id": 7, "contract_id": "CON.F.US.MES.Z25", "order_id": 101,
        "side": 1, "side_name": "sell", "size": 2, "price": 6001.25, "pnl": 12.5,
        "fees": 0.74, "voided": False, "created_at": "2026-11-27T14:30:00+00:00",
    }  # fmt: skip


def test_log_fields_are_the_payloads_absent_ones_none() -> None:
    push = parse_push("GatewayUserAccount", [{"id": 7}])
    assert isinstance(push, HubPush)
    assert push.event == AccountEvent(7, "", 0.0, False, True, False)
    assert push.fields == {
        "account_id": 7, "account_name": None, "balance": None, "can_trade": None,
        "is_visible": None, "simulated": None,
    }  # fmt: skip
    position = parse_push("GatewayUserPosition", [POSITION])
    assert isinstance(position, HubPush) and position.fields["type_name"] == "short"


def test_log_fields_name_enums_and_survive_odd_values() -> None:
    fields = log_fields(OrderEvent, {"id": 1, "status": 5, "side": [0]}, None)
    assert (fields["status_name"], fields["side_name"], fields["custom_tag"]) == (
        "rejected", None, None,
    )  # fmt: skip
