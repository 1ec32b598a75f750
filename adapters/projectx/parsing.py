"""ProjectX payloads -> engine values (pure)."""

from __future__ import annotations

from datetime import datetime
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


def active_contract(contracts: list[dict[str, Any]], root: str) -> str | None:
    """The active contract id of a root such as MES among `Contract/search` results."""
    suffix = f".{root.upper()}"
    for contract in contracts:
        symbol_id = str(contract.get("symbolId", ""))
        if contract.get("activeContract") and symbol_id.upper().endswith(suffix):
            contract_id = contract.get("id")
            if isinstance(contract_id, str) and contract_id:
                return contract_id
    return None
