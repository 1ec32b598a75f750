"""ProjectX payloads -> engine values (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.risk import Fill


def fill_of(trade: dict[str, Any], account: str) -> Fill | None:
    """A `Trade/search` item as a Fill; None when it lacks what the metrics need."""
    try:
        at = datetime.fromisoformat(str(trade["creationTimestamp"]).replace("Z", "+00:00"))
        pnl = trade.get("profitAndLoss")
        return Fill(
            id=int(trade["id"]),
            account=account,
            contract=str(trade.get("contractId", "")),
            at=at.timestamp(),
            price=float(trade.get("price") or 0.0),
            pnl=None if pnl is None else float(pnl),
            fees=float(trade.get("fees") or 0.0),
            side=int(trade.get("side", 0)),
            size=int(trade.get("size", 0)),
            voided=bool(trade.get("voided", False)),
            order_id=int(trade["orderId"]) if trade.get("orderId") is not None else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


def stamp(value: object) -> float | None:
    """Epoch seconds of a gateway timestamp (ISO 8601; naive is UTC); None when unreadable."""
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


def is_int(value: object) -> bool:
    """A JSON integer (JSON `true` is not one, though Python's bool is an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


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
