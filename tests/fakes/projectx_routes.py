"""The REST routes of FakeProjectX: request bodies in, the gateway's JSON answers out.

Called by FakeProjectX with its lock held and the caller already authenticated.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tests.fakes.projectx_http import Outcome, Reply
from tests.fakes.projectx_wire import BadRequest, GatewayError, Json, field_int, parse_stamp

if TYPE_CHECKING:
    from tests.fakes.projectx_gateway import FakeProjectX

Route = Callable[[Json, Mapping[str, str]], Outcome]
INVALID_CREDENTIALS = 3  # LoginErrorCode


def json_reply(
    fields: Mapping[str, Any], error_code: int = 0, error_message: str | None = None
) -> Reply:
    """HTTP 200 with the gateway's envelope; error_code 0 means success."""
    payload = {**fields, "success": error_code == 0, "errorCode": error_code,
               "errorMessage": error_message}  # fmt: skip
    return Reply(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def problem(detail: str) -> Reply:
    """An ASP.NET model-binding failure: 400 with a problem-details body, no envelope."""
    payload = {"title": "One or more validation errors occurred.", "status": 400,
               "errors": {"request": [detail]}}  # fmt: skip
    return Reply(400, json.dumps(payload).encode(), {"Content-Type": "application/problem+json"})


def _answer(key: str, produce: Callable[[], Any]) -> Reply:
    """{key: produce()}, or {key: null} with success:false when the gateway refuses."""
    try:
        return json_reply({key: produce()})
    except GatewayError as exc:
        return json_reply({key: None}, exc.code, exc.message)


class Routes:
    def __init__(self, gateway: FakeProjectX) -> None:
        self.gw = gateway
        self.table: dict[str, Route] = {
            "/api/Auth/loginKey": self.login,
            "/api/Auth/validate": self.validate,
            "/api/Account/search": self.accounts,
            "/api/Contract/search": self.contracts,
            "/api/Contract/searchById": self.contract_by_id,
            "/api/Position/searchOpen": self.positions,
            "/api/Position/closeContract": self.close_contract,
            "/api/Trade/search": self.trades,
            "/api/Order/search": self.orders,
            "/api/Order/searchOpen": self.open_orders,
            "/api/Order/place": self.place,
        }

    def login(self, body: Json, _headers: Mapping[str, str]) -> Outcome:
        if body.get("userName") == self.gw.username and body.get("apiKey") == self.gw.api_key:
            return json_reply({"token": self.gw.issue_token()})
        return json_reply({"token": None}, INVALID_CREDENTIALS, "Invalid credentials")

    def validate(self, _body: Json, headers: Mapping[str, str]) -> Outcome:
        old = headers["authorization"].partition(" ")[2].strip()
        new = self.gw.issue_token()
        if self.gw.validate_revokes_old:
            self.gw.retire_token(old)
        return json_reply({"newToken": new})

    def accounts(self, body: Json, _headers: Mapping[str, str]) -> Outcome:
        only_active = body.get("onlyActiveAccounts") is True
        return json_reply({"accounts": self.gw.book.search_accounts(only_active)})

    def contracts(self, body: Json, _headers: Mapping[str, str]) -> Outcome:
        text = body.get("searchText")
        if not isinstance(text, str):
            raise BadRequest("searchText must be a string")
        return json_reply({"contracts": self.gw.book.search_contracts(text)})

    def contract_by_id(self, body: Json, _headers: Mapping[str, str]) -> Outcome:
        contract_id = body.get("contractId")
        return _answer("contract", lambda: copy.deepcopy(self.gw.book.contract(contract_id)))

    def positions(self, body: Json, _headers: Mapping[str, str]) -> Outcome:
        account_id = field_int(body, "accountId")
        return _answer("positions", lambda: self.gw.book.open_positions(account_id))

    def close_contract(self, body: Json, _headers: Mapping[str, str]) -> Outcome:
        account_id, contract_id = field_int(body, "accountId"), str(body.get("contractId"))
        try:
            self.gw.book.close_contract(account_id, contract_id)
        except GatewayError as exc:
            return json_reply({}, exc.code, exc.message)
        return json_reply({})

    def trades(self, body: Json, _headers: Mapping[str, str]) -> Outcome:
        return self._search("trades", body, start_required=False)

    def orders(self, body: Json, _headers: Mapping[str, str]) -> Outcome:
        return self._search("orders", body, start_required=True)

    def open_orders(self, body: Json, _headers: Mapping[str, str]) -> Outcome:
        account_id = field_int(body, "accountId")
        return _answer("orders", lambda: self._shaped(self.gw.book.open_orders(account_id)))

    def _shaped(self, orders: list[Json]) -> list[Json]:
        """Orders as this gateway's revision shows them (`order_tags=False`: untagged)."""
        if self.gw.order_tags:
            return orders
        return [{k: v for k, v in order.items() if k != "customTag"} for order in orders]

    def place(self, body: Json, _headers: Mapping[str, str]) -> Outcome:
        book = self.gw.book
        return self.gw.place_outcome(lambda: _answer("orderId", lambda: book.place(body)["id"]))

    def _search(self, kind: str, body: Json, *, start_required: bool) -> Outcome:
        account_id = field_int(body, "accountId")
        if start_required and body.get("startTimestamp") is None:
            raise BadRequest("startTimestamp is required")
        start, end = (
            parse_stamp(body[k], k) if body.get(k) is not None else None
            for k in ("startTimestamp", "endTimestamp")
        )

        def found() -> list[Json]:
            rows = self.gw.book.search(kind, account_id, start, end)
            return self._shaped(rows) if kind == "orders" else rows

        return _answer(kind, found)
