"""The broker side of FakeProjectX: accounts, contracts and, per account, orders, net
positions and half-turn trades, kept in the gateway's own JSON shapes (camelCase dicts).

Not thread-safe on its own: FakeProjectX holds its lock around every call. Timestamps are
ISO 8601 strings in UTC with an explicit offset, as the gateway sends them.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from tests.fakes import projectx_wire as wire
from tests.fakes.projectx_wire import Clock, GatewayError, Json, Stamp, as_utc, field_int, iso


class Book:
    def __init__(
        self, accounts: Iterable[Mapping[str, Any]], contracts: Iterable[Mapping[str, Any]],
        *, mark_price: float, fees_per_contract: float, fill_market_orders: bool, clock: Clock,
    ) -> None:  # fmt: skip
        self.accounts = {int(a["id"]): {**a} for a in accounts}
        for account in self.accounts.values():
            for key, value in wire.ACCOUNT_DEFAULTS.items():
                account.setdefault(key, value)
        self.contracts = {str(c["id"]): dict(c) for c in contracts}
        self.default_mark, self.marks = mark_price, dict[str, float]()
        self.fees_per_contract, self.fill_market_orders = fees_per_contract, fill_market_orders
        self.clock = clock
        self.orders: dict[int, list[Json]] = {a: [] for a in self.accounts}
        self.positions: dict[int, dict[str, Json]] = {a: {} for a in self.accounts}
        self.trades: dict[int, list[Json]] = {a: [] for a in self.accounts}
        self._order_ids, self._trade_ids = itertools.count(7_000_001), itertools.count(90_001)
        self._position_ids = itertools.count(501)

    # ----- reads, in wire shape (copies)

    def account(self, account_id: int) -> Json:
        if account_id not in self.accounts:
            raise GatewayError(wire.ACCOUNT_NOT_FOUND, f"Account {account_id} not found")
        return self.accounts[account_id]

    def search_accounts(self, only_active: bool) -> list[Json]:
        rows = [a for a in self.accounts.values() if a["active"] or not only_active]
        return [{k: v for k, v in a.items() if k != "active"} for a in rows]

    def search_contracts(self, text: str) -> list[Json]:
        needle = text.strip().lower()
        keys = ("id", "name", "symbolId", "description")
        hits = [  # a contract of the older revision has no symbolId
            c for c in self.contracts.values()
            if any(needle in str(c.get(k, "")).lower() for k in keys)
        ]  # fmt: skip
        return copy.deepcopy(hits[:20])

    def contract(self, contract_id: object) -> Json:
        if not isinstance(contract_id, str) or contract_id not in self.contracts:
            raise GatewayError(1, f"Contract {contract_id} not found")
        return self.contracts[contract_id]

    def search(
        self, kind: str, account_id: int, start: datetime | None, end: datetime | None
    ) -> list[Json]:
        """Orders or trades of one account created in [start, end)."""
        self.account(account_id)
        rows = self.orders[account_id] if kind == "orders" else self.trades[account_id]
        picked = [r for r in rows if _within(r["creationTimestamp"], start, end)]
        return copy.deepcopy(picked)

    def open_orders(self, account_id: int) -> list[Json]:
        self.account(account_id)
        working = (wire.OPEN, wire.PENDING)
        return copy.deepcopy([o for o in self.orders[account_id] if o["status"] in working])

    def open_positions(self, account_id: int) -> list[Json]:
        self.account(account_id)
        return copy.deepcopy(list(self.positions[account_id].values()))

    def mark(self, contract_id: str) -> float:
        return self.marks.get(contract_id, self.default_mark)

    # ----- Order/place and Position/closeContract

    def place(self, body: Mapping[str, Any]) -> Json:
        account_id = field_int(body, "accountId")
        order_type, side, size = (field_int(body, k) for k in ("type", "side", "size"))
        account = self.account(account_id)
        contract_id = body.get("contractId")
        if not isinstance(contract_id, str) or contract_id not in self.contracts:
            raise GatewayError(wire.CONTRACT_NOT_FOUND, f"Contract {contract_id} not found")
        if not self.contracts[contract_id]["activeContract"]:
            raise GatewayError(wire.CONTRACT_NOT_ACTIVE, f"Contract {contract_id} is not active")
        problem = _order_problem(body, order_type, side, size)
        if problem:
            raise GatewayError(wire.ORDER_REJECTED, f"Order rejected: {problem}")
        if not account["canTrade"]:
            message = f"Account {account_id} is not allowed to trade"
            raise GatewayError(wire.ACCOUNT_VIOLATION, message)
        tag = body.get("customTag") or None
        if tag is not None and any(o["customTag"] == tag for o in self.orders[account_id]):
            message = f"Order rejected: customTag '{tag}' is already in use on this account"
            raise GatewayError(wire.DUPLICATE_TAG, message)
        order = self.new_order(account_id, str(contract_id), order_type, side, size, tag, body)
        if order_type == wire.MARKET and self.fill_market_orders:
            self.fill(order, self.mark(str(contract_id)))
        return order

    def close_contract(self, account_id: int, contract_id: str) -> Json:
        self.account(account_id)
        if contract_id not in self.positions[account_id]:
            raise GatewayError(2, f"No open position in {contract_id}")  # PositionNotFound
        return self.close_position(account_id, contract_id, self.mark(contract_id))

    def new_order(
        self, account_id: int, contract_id: str, order_type: int, side: int, size: int,
        tag: str | None, body: Mapping[str, Any], at: Stamp = None,
    ) -> Json:  # fmt: skip
        now = iso(as_utc(at, self.clock))
        order = {
            "id": next(self._order_ids), "accountId": account_id, "contractId": contract_id,
            "symbolId": self.contracts[contract_id].get("symbolId"), "creationTimestamp": now,
            "updateTimestamp": now, "status": wire.OPEN, "type": order_type, "side": side,
            "size": size, "limitPrice": body.get("limitPrice"),
            "stopPrice": body.get("stopPrice"), "fillVolume": 0, "filledPrice": None,
            "customTag": tag,
        }  # fmt: skip
        self.orders[account_id].append(order)
        return order

    def fill(self, order: Json, price: float, at: Stamp = None) -> Json:
        """Fill `order` whole at `price`: net it into the position, write the half-turn
        trade and move the balance by realised P&L less fees."""
        when = as_utc(at, self.clock)
        order.update(status=wire.FILLED, fillVolume=order["size"], filledPrice=price,
                     updateTimestamp=iso(when))  # fmt: skip
        account_id, contract_id = order["accountId"], order["contractId"]
        signed = order["size"] if order["side"] == wire.BUY else -order["size"]
        pnl = self.net(account_id, contract_id, signed, price, when)
        fees = round(self.fees_per_contract * order["size"], 2)
        self.accounts[account_id]["balance"] += (pnl or 0.0) - fees
        return self.add_trade(account_id, contract_id, price, pnl, fees, order["side"],
                              order["size"], order_id=order["id"], at=when)  # fmt: skip

    def net(
        self, account_id: int, contract_id: str, qty: int, price: float, when: datetime
    ) -> float | None:
        """Apply a signed fill to the net position; the realised P&L, None when it only opens."""
        book = self.positions[account_id]
        held = signed_size(book.get(contract_id))
        if held == 0 or (held > 0) == (qty > 0):
            average = price if held == 0 else (
                (abs(held) * book[contract_id]["averagePrice"] + abs(qty) * price)
                / (abs(held) + abs(qty))
            )  # fmt: skip
            self.set_position(account_id, contract_id, held + qty, average, when)
            return None
        closed = min(abs(held), abs(qty)) * (1 if held > 0 else -1)
        pnl = self.pnl(contract_id, book[contract_id]["averagePrice"], price, closed)
        rest = held + qty
        keep = (rest > 0) == (held > 0)
        average = book[contract_id]["averagePrice"] if keep else price
        self.set_position(account_id, contract_id, rest, average, when)
        return pnl

    def pnl(self, contract_id: str, entry: float, exit_: float, signed_qty: int) -> float:
        contract = self.contracts[contract_id]
        points = (exit_ - entry) * signed_qty
        return round(points / float(contract["tickSize"]) * float(contract["tickValue"]), 2)

    # ----- scripting

    def set_position(
        self, account_id: int, contract_id: str, size: int, average_price: float, at: Stamp = None
    ) -> Json | None:
        """Signed size: positive long, negative short, 0 removes the position. A position
        that keeps its direction keeps its id and creationTimestamp."""
        book = self.positions[account_id]
        old = book.pop(contract_id, None)
        if size == 0:
            return None
        same = old is not None and (signed_size(old) > 0) == (size > 0)
        created = iso(as_utc(at, self.clock))
        book[contract_id] = {
            "id": old["id"] if same and old else next(self._position_ids),
            "accountId": account_id, "contractId": contract_id,
            "creationTimestamp": old["creationTimestamp"] if same and old else created,
            "type": wire.LONG if size > 0 else wire.SHORT, "size": abs(size),
            "averagePrice": average_price,
        }  # fmt: skip
        return book[contract_id]

    def close_position(
        self, account_id: int, contract_id: str, price: float, pnl: float | None = None,
        fees: float | None = None, at: Stamp = None,
    ) -> Json:  # fmt: skip
        """Flatten a held position at `price` as the broker would (a stop or target hit): a
        filled market order without tag, a closing trade with profitAndLoss (computed from
        averagePrice when `pnl` is None) and the balance moved by pnl less fees."""
        position = self.positions[account_id].get(contract_id)
        if position is None:
            raise ValueError(f"account {account_id} holds no position in {contract_id}")
        held, when = signed_size(position), as_utc(at, self.clock)
        side = wire.SELL if held > 0 else wire.BUY
        order = self.new_order(
            account_id, contract_id, wire.MARKET, side, abs(held), None, {}, when
        )
        order.update(status=wire.FILLED, fillVolume=abs(held), filledPrice=price)
        pnl = self.pnl(contract_id, position["averagePrice"], price, held) if pnl is None else pnl
        fees = round(self.fees_per_contract * abs(held), 2) if fees is None else fees
        del self.positions[account_id][contract_id]
        self.accounts[account_id]["balance"] += pnl - fees
        return self.add_trade(account_id, contract_id, price, pnl, fees, side, abs(held),
                              order_id=order["id"], at=when)  # fmt: skip

    def add_trade(
        self, account_id: int, contract_id: str, price: float, pnl: float | None, fees: float,
        side: int, size: int, *, voided: bool = False, order_id: int | None = None,
        at: Stamp = None,
    ) -> Json:  # fmt: skip
        trade = {
            "id": next(self._trade_ids), "accountId": account_id, "contractId": contract_id,
            "creationTimestamp": iso(as_utc(at, self.clock)), "price": price,
            "profitAndLoss": pnl, "fees": fees, "side": side, "size": size, "voided": voided,
            "orderId": order_id if order_id is not None else next(self._order_ids),
        }  # fmt: skip
        self.trades[account_id].append(trade)
        return trade


def signed_size(position: Mapping[str, Any] | None) -> int:
    if position is None:
        return 0
    return int(position["size"]) if position["type"] == wire.LONG else -int(position["size"])


def _within(stamp: str, start: datetime | None, end: datetime | None) -> bool:
    at = datetime.fromisoformat(stamp)
    return (start is None or at >= start) and (end is None or at < end)


def _order_problem(body: Mapping[str, Any], order_type: int, side: int, size: int) -> str:
    if not 1 <= order_type <= 7:
        return f"unknown order type {order_type}"
    if side not in (wire.BUY, wire.SELL):
        return f"unknown side {side}"
    if size < 1:
        return f"size {size} must be at least 1"
    missing = [f for f in wire.PRICE_FIELDS.get(order_type, ()) if body.get(f) is None]
    return f"{missing[0]} is required for order type {order_type}" if missing else ""
