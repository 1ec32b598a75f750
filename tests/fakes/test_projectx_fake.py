"""FakeProjectX seen through httpx: auth, the order book, and every injected fault."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fakes.projectx_gateway import FakeProjectX
from tests.fakes.projectx_wire import DEFAULT_CONTRACTS
from tests.fakes.wait import eventually

A, B = 11, 12
MES = "CON.F.US.MES.Z25"
ACCOUNTS = [
    {"id": A, "name": "50KTC-V2-11", "balance": 50000.0, "canTrade": True, "isVisible": True},
    {"id": B, "name": "50KTC-V2-12", "balance": 50000.0, "canTrade": True, "isVisible": True},
    {"id": 13, "name": "closed", "balance": 0.0, "canTrade": False, "isVisible": False,
     "active": False},
]  # fmt: skip
SINCE = "2000-01-01T00:00:00Z"
CREDENTIALS = {"userName": "user", "apiKey": "key"}


def entry(tag: str | None = "acct11-MES-202512011430", account: int = A, side: int = 0) -> dict:
    return {"accountId": account, "contractId": MES, "type": 2, "side": side, "size": 1,
            "customTag": tag}  # fmt: skip


@pytest.fixture
async def gw() -> AsyncIterator[FakeProjectX]:
    async with FakeProjectX(username="user", api_key="key", accounts=ACCOUNTS) as fake:
        yield fake


@pytest.fixture
async def http(gw: FakeProjectX) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gw.url, timeout=5.0) as client:
        yield client


async def login(http: httpx.AsyncClient) -> dict[str, str]:
    answer = await http.post("/api/Auth/loginKey", json=CREDENTIALS)
    return {"Authorization": f"Bearer {answer.json()['token']}"}


async def call(http: httpx.AsyncClient, auth: dict[str, str], path: str, **body: Any) -> Any:
    response = await http.post(f"/api/{path}", json=body, headers=auth)
    assert response.status_code == 200, response
    return response.json()


async def orders(http: httpx.AsyncClient, auth: dict[str, str], account: int = A) -> list[dict]:
    found = await call(http, auth, "Order/search", accountId=account, startTimestamp=SINCE)
    return found["orders"]


# ----- authentication


async def test_login_gives_a_token_and_a_wrong_key_is_success_false(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", gw.url)
    good = await http.post("/api/Auth/loginKey", json=CREDENTIALS)
    assert good.json() == {"token": "tok-1", "success": True, "errorCode": 0, "errorMessage": None}
    bad = await http.post("/api/Auth/loginKey", json={"userName": "user", "apiKey": "nope"})
    assert bad.status_code == 200
    assert bad.json() | {"errorMessage": None} == {
        "token": None, "success": False, "errorCode": 3, "errorMessage": None}  # fmt: skip
    assert gw.logins == 2 and gw.requests[0].body == {"userName": "user", "apiKey": "key"}


async def test_missing_unknown_or_expired_token_is_401(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    body = {"onlyActiveAccounts": True}
    assert (await http.post("/api/Account/search", json=body)).status_code == 401
    bogus = {"Authorization": "Bearer tok-999"}
    assert (await http.post("/api/Account/search", json=body, headers=bogus)).status_code == 401
    auth = await login(http)
    assert (await http.post("/api/Account/search", json=body, headers=auth)).status_code == 200

    gw.expire_token()
    response = await http.post("/api/Account/search", json=body, headers=auth)
    assert response.status_code == 401 and response.content == b""
    assert "invalid_token" in response.headers["WWW-Authenticate"]
    # an expired token cannot be renewed either: the client logs in again
    assert (await http.post("/api/Auth/validate", headers=auth)).status_code == 401
    assert (await call(http, await login(http), "Account/search", **body))["success"]


async def test_validate_renews_and_revokes_the_old_token(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    old = await login(http)
    answer = await call(http, old, "Auth/validate")
    assert answer["success"] and answer["newToken"] == "tok-2" and gw.validates == 1
    assert (await http.post("/api/Account/search", json={}, headers=old)).status_code == 401
    assert (await call(http, {"Authorization": "Bearer tok-2"}, "Account/search"))["success"]


async def test_validate_can_keep_the_old_token_like_the_live_gateway() -> None:
    async with (
        FakeProjectX(validate_revokes_old=False) as gw,
        httpx.AsyncClient(base_url=gw.url) as http,
    ):
        old = await login(http)
        await call(http, old, "Auth/validate")
        assert gw.valid_tokens == ["tok-1", "tok-2"]
        assert (await call(http, old, "Account/search"))["success"]


async def test_renewable_expiry_and_ttl_by_clock() -> None:
    now = [datetime(2025, 12, 1, 15, 0, tzinfo=UTC)]
    async with FakeProjectX(clock=lambda: now[0]) as gw, httpx.AsyncClient(base_url=gw.url) as http:
        auth = await login(http)
        gw.expire_token(renewable=True)
        assert (await http.post("/api/Account/search", json={}, headers=auth)).status_code == 401
        new_token = (await call(http, auth, "Auth/validate"))["newToken"]
        renewed = {"Authorization": f"Bearer {new_token}"}
        assert (await call(http, renewed, "Account/search"))["success"]
        now[0] += timedelta(hours=24)
        assert (await http.post("/api/Account/search", json={}, headers=renewed)).status_code == 401


# ----- reads


async def test_accounts_and_contracts(gw: FakeProjectX, http: httpx.AsyncClient) -> None:
    auth = await login(http)
    active = (await call(http, auth, "Account/search", onlyActiveAccounts=True))["accounts"]
    assert active[0] == {**ACCOUNTS[0], "simulated": True}
    assert [a["id"] for a in active] == [A, B]
    every = await call(http, auth, "Account/search", onlyActiveAccounts=False)
    assert [a["id"] for a in every["accounts"]] == [A, B, 13]

    found = await call(http, auth, "Contract/search", searchText="MES", live=False)
    assert [(c["id"], c["activeContract"]) for c in found["contracts"]] == [
        ("CON.F.US.MES.Z25", True), ("CON.F.US.MES.H26", False)]  # fmt: skip
    assert found["contracts"][0] == DEFAULT_CONTRACTS[0]
    one = await call(http, auth, "Contract/searchById", contractId=MES)
    assert one["contract"]["symbolId"] == "F.US.MES"
    none = await call(http, auth, "Contract/searchById", contractId="CON.F.US.XX.Z25")
    assert (none["success"], none["errorCode"], none["contract"]) == (False, 1, None)


async def test_contract_search_returns_at_most_20() -> None:
    many = [{**DEFAULT_CONTRACTS[0], "id": f"CON.F.US.MES.X{i}"} for i in range(25)]
    async with FakeProjectX(contracts=many) as gw, httpx.AsyncClient(base_url=gw.url) as http:
        found = await call(http, await login(http), "Contract/search", searchText="mes")
        assert len(found["contracts"]) == 20


# ----- the order book


@pytest.mark.parametrize(("side", "position_type"), [(0, 1), (1, 2)])
async def test_market_order_books_order_position_and_opening_fill(
    gw: FakeProjectX, http: httpx.AsyncClient, side: int, position_type: int
) -> None:
    auth = await login(http)
    placed = await call(http, auth, "Order/place", **entry(side=side))
    assert placed == {"orderId": placed["orderId"], "success": True, "errorCode": 0,
                      "errorMessage": None}  # fmt: skip
    [order] = await orders(http, auth)
    assert order["id"] == placed["orderId"] and order["customTag"] == entry()["customTag"]
    assert (order["status"], order["fillVolume"], order["filledPrice"]) == (2, 1, 5000.0)
    [position] = (await call(http, auth, "Position/searchOpen", accountId=A))["positions"]
    assert (position["type"], position["size"]) == (position_type, 1)
    assert position["averagePrice"] == 5000.0
    [fill] = (await call(http, auth, "Trade/search", accountId=A, startTimestamp=SINCE))["trades"]
    assert (fill["orderId"], fill["profitAndLoss"], fill["side"]) == (order["id"], None, side)
    assert gw.orders(A) == [order] and gw.orders(B) == []


async def test_duplicate_custom_tag_is_refused_and_books_nothing(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    auth = await login(http)
    await call(http, auth, "Order/place", **entry())
    again = await call(http, auth, "Order/place", **entry())
    assert (again["success"], again["errorCode"], again["orderId"]) == (False, 2, None)
    assert entry()["customTag"] in again["errorMessage"]
    assert len(await orders(http, auth)) == 1 and gw.positions(A)[0]["size"] == 1
    assert (await call(http, auth, "Order/place", **entry(account=B)))["success"]  # per account
    assert gw.place_calls == 3


async def test_concurrent_duplicates_book_exactly_one(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    auth = await login(http)
    answers = await asyncio.gather(*(call(http, auth, "Order/place", **entry()) for _ in range(8)))
    assert sorted(a["success"] for a in answers) == [False] * 7 + [True]
    assert len(gw.orders(A)) == 1


async def test_refusals_book_nothing(gw: FakeProjectX, http: httpx.AsyncClient) -> None:
    auth = await login(http)
    gw.set_can_trade(A, False)
    assert (await call(http, auth, "Order/place", **entry()))["errorCode"] == 4
    inactive = entry(tag="x") | {"contractId": "CON.F.US.MES.H26"}
    assert (await call(http, auth, "Order/place", **inactive))["errorCode"] == 9
    assert (await call(http, auth, "Order/place", **entry(account=99)))["errorCode"] == 1
    assert gw.orders(A) == [] and gw.positions(A) == []


async def test_netting_closing_and_scripted_history(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    auth = await login(http)
    await call(http, auth, "Order/place", **(entry(tag="in") | {"size": 2}))
    gw.set_mark(5010.0)
    await call(http, auth, "Order/place", **entry(tag="out", side=1))  # closes 1 of 2
    assert [t["profitAndLoss"] for t in gw.trades(A)] == [None, 50.0]  # 10 pt x $5
    assert gw.positions(A)[0]["size"] == 1 and gw.account(A)["balance"] == 50050.0

    gw.close_position(A, MES, price=4990.0)  # the bracket stop fills
    assert gw.trades(A)[-1]["profitAndLoss"] == -50.0 and gw.positions(A) == []
    gw.set_position(A, MES, size=-3, average_price=5001.0)
    assert gw.positions(A)[0]["type"] == 2
    gw.clear_positions(A)
    assert (await call(http, auth, "Position/searchOpen", accountId=A))["positions"] == []

    day = datetime(2025, 12, 1, 15, 0, tzinfo=UTC)
    gw.add_trade(B, price=5000.0, pnl=-120.0, fees=1.48, side=1, size=2, at=day)
    gw.add_trade(B, price=5000.0, pnl=80.0, fees=0.74, side=0, size=1, voided=True,
                 at=day.timestamp() + 60)  # fmt: skip
    window = {"startTimestamp": "2025-12-01T14:00:00Z", "endTimestamp": "2025-12-01T15:00:30Z"}
    found = (await call(http, auth, "Trade/search", accountId=B, **window))["trades"]
    assert [(t["profitAndLoss"], t["fees"], t["voided"]) for t in found] == [(-120.0, 1.48, False)]
    assert len((await call(http, auth, "Trade/search", accountId=B))["trades"]) == 2


async def test_order_search_needs_start_and_close_contract_flattens(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    auth = await login(http)
    missing = await http.post("/api/Order/search", json={"accountId": A}, headers=auth)
    assert missing.status_code == 400
    await call(http, auth, "Order/place", **entry())
    future = "2999-01-01T00:00:00Z"
    later = await call(http, auth, "Order/search", accountId=A, startTimestamp=future)
    assert later["orders"] == []
    closed = await call(http, auth, "Position/closeContract", accountId=A, contractId=MES)
    assert closed["success"]
    assert gw.positions(A) == [] and len(gw.orders(A)) == 2


async def test_unfilled_market_orders_stay_open_until_filled() -> None:
    async with (
        FakeProjectX(fill_market_orders=False) as gw,
        httpx.AsyncClient(base_url=gw.url) as http,
    ):
        auth = await login(http)
        order_id = (await call(http, auth, "Order/place", **entry(account=1001)))["orderId"]
        working = (await call(http, auth, "Order/searchOpen", accountId=1001))["orders"]
        assert [(o["id"], o["status"]) for o in working] == [(order_id, 1)]
        gw.fill_order(order_id, price=5002.25)
        assert gw.positions(1001)[0]["averagePrice"] == 5002.25
        assert (await call(http, auth, "Order/searchOpen", accountId=1001))["orders"] == []


# ----- faults


async def test_place_500_before_books_nothing_and_a_retry_succeeds(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    auth = await login(http)
    gw.fail_next_place("500_before")
    assert (await http.post("/api/Order/place", json=entry(), headers=auth)).status_code == 500
    assert await orders(http, auth) == []
    assert (await call(http, auth, "Order/place", **entry()))["success"]


async def test_place_500_after_books_the_order_and_the_retry_is_a_duplicate(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    auth = await login(http)
    gw.fail_next_place("500_after")
    assert (await http.post("/api/Order/place", json=entry(), headers=auth)).status_code == 500
    assert [o["customTag"] for o in await orders(http, auth)] == [entry()["customTag"]]
    assert not (await call(http, auth, "Order/place", **entry()))["success"]
    assert len(gw.orders(A)) == 1


async def test_place_hang_after_books_the_order_and_never_answers(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    auth = await login(http)
    gw.fail_next_place("hang_after")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(httpx.ReadTimeout):
        await http.post("/api/Order/place", json=entry(), headers=auth, timeout=0.3)
    assert loop.time() - started < 2.0
    [order] = await orders(http, auth)
    assert order["customTag"] == entry()["customTag"] and order["status"] == 2


async def test_place_reset_after_books_the_order_and_drops_the_connection(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    auth = await login(http)
    gw.fail_next_place("reset_after")
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        await http.post("/api/Order/place", json=entry(), headers=auth)
    assert len(await orders(http, auth)) == 1  # the pool reconnects for the follow-up


async def test_place_success_false_books_nothing(gw: FakeProjectX, http: httpx.AsyncClient) -> None:
    auth = await login(http)
    gw.fail_next_place("success_false")
    refused = await call(http, auth, "Order/place", **entry())
    assert refused == {"orderId": None, "success": False, "errorCode": 2,
                       "errorMessage": "Order rejected: insufficient margin"}  # fmt: skip
    assert gw.orders(A) == [] and gw.positions(A) == []


@pytest.mark.parametrize(("mode", "booked"), [("body_before", 0), ("body_after", 1)])
async def test_place_body_faults_answer_200_with_the_body_as_given(
    gw: FakeProjectX, http: httpx.AsyncClient, mode: str, booked: int
) -> None:
    auth = await login(http)
    gw.fail_next_place(mode, body=b"<html>OK</html>")  # type: ignore[arg-type]
    answer = await http.post("/api/Order/place", json=entry(), headers=auth)
    assert (answer.status_code, answer.content) == (200, b"<html>OK</html>")
    assert len(gw.orders(A)) == booked


async def test_older_revision_order_searches_carry_no_custom_tag() -> None:
    older = FakeProjectX(accounts=ACCOUNTS, order_tags=False, fill_market_orders=False)
    async with older as gw, httpx.AsyncClient(base_url=gw.url) as http:
        auth = await login(http)
        assert (await call(http, auth, "Order/place", **entry()))["success"]
        searched = await orders(http, auth)
        working = (await call(http, auth, "Order/searchOpen", accountId=A))["orders"]
        duplicate = await call(http, auth, "Order/place", **entry())
    assert len(searched) == len(working) == 1
    assert "customTag" not in searched[0] and "customTag" not in working[0]
    assert not duplicate["success"]  # the tag is still kept, and still unique
    assert gw.orders(A)[0]["customTag"] == entry()["customTag"]


async def test_older_revision_contracts_without_symbol_id_are_searchable() -> None:
    older = [{k: v for k, v in c.items() if k != "symbolId"} for c in DEFAULT_CONTRACTS]
    gateway = FakeProjectX(accounts=ACCOUNTS, contracts=older)
    async with gateway as gw, httpx.AsyncClient(base_url=gw.url) as http:
        auth = await login(http)
        found = await call(http, auth, "Contract/search", searchText="MES")
        assert [c["id"] for c in found["contracts"]] == ["CON.F.US.MES.Z25", "CON.F.US.MES.H26"]
        assert (await call(http, auth, "Order/place", **entry()))["success"]
        gw.set_contract_active("CON.F.US.MES.Z25", False)
        refused = await call(http, auth, "Order/place", **entry("another-tag"))
        assert (refused["success"], refused["errorCode"]) == (False, 9)  # not active


async def test_place_faults_are_n_shot(gw: FakeProjectX, http: httpx.AsyncClient) -> None:
    auth = await login(http)
    gw.fail_next_place("500_before", n=2)
    statuses = [(await http.post("/api/Order/place", json=entry(), headers=auth)).status_code
                for _ in range(3)]  # fmt: skip
    assert statuses == [500, 500, 200] and gw.place_calls == 3 and len(gw.orders(A)) == 1


async def test_429_carries_retry_after(gw: FakeProjectX, http: httpx.AsyncClient) -> None:
    auth = await login(http)
    gw.rate_limit_next(2, retry_after=3)
    first, second, third = [
        await http.post("/api/Position/searchOpen", json={"accountId": A}, headers=auth)
        for _ in range(3)
    ]
    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    assert (second.status_code, third.status_code) == (429, 200)


async def test_fail_next_targets_one_path(gw: FakeProjectX, http: httpx.AsyncClient) -> None:
    auth = await login(http)
    gw.fail_next("Position/searchOpen", 503)
    assert (await call(http, auth, "Order/searchOpen", accountId=A))["success"]
    failed = await http.post("/api/Position/searchOpen", json={"accountId": A}, headers=auth)
    assert failed.status_code == 503
    assert (await call(http, auth, "Position/searchOpen", accountId=A))["success"]


async def test_delay_holds_one_request(gw: FakeProjectX, http: httpx.AsyncClient) -> None:
    auth = await login(http)
    gw.delay("/api/Trade/search", 0.4)
    with pytest.raises(httpx.ReadTimeout):
        await http.post("/api/Trade/search", json={"accountId": A}, headers=auth, timeout=0.1)
    assert (await call(http, auth, "Trade/search", accountId=A))["success"]


async def test_a_delay_for_one_account_holds_only_its_requests(
    gw: FakeProjectX, http: httpx.AsyncClient
) -> None:
    auth = await login(http)
    gw.delay("Trade/search", 30.0, n=None, account_id=B)
    assert (await call(http, auth, "Trade/search", accountId=A))["success"]
    with pytest.raises(httpx.ReadTimeout):
        await http.post("/api/Trade/search", json={"accountId": B}, headers=auth, timeout=0.1)
    assert (await call(http, auth, "Trade/search", accountId=A))["success"]


async def test_latency_delays_arrival_and_answer(gw: FakeProjectX, http: httpx.AsyncClient) -> None:
    """Half the round trip before the fake records a request (its arrival), half before
    it answers."""
    auth = await login(http)
    gw.set_latency(0.6)
    with pytest.raises(httpx.ReadTimeout):
        await http.post("/api/Order/place", json=entry(), headers=auth, timeout=0.1)
    assert not gw.calls("Order/place")  # still on its way in
    await eventually(lambda: len(gw.calls("Order/place")) == 1)
    await eventually(lambda: len(gw.orders(A)) == 1)  # handled as it arrived


async def test_requests_are_recorded(gw: FakeProjectX, http: httpx.AsyncClient) -> None:
    auth = await login(http)
    await call(http, auth, "Order/place", **entry())
    path, body, headers, arrived_ns = gw.requests[-1]
    assert (path, body) == ("/api/Order/place", entry())
    assert 0 < arrived_ns <= time.perf_counter_ns()
    assert headers["authorization"] == auth["Authorization"]
    assert [r.body["customTag"] for r in gw.calls("Order/place")] == [entry()["customTag"]]


async def test_stop_releases_a_hung_client() -> None:
    gw = FakeProjectX(accounts=ACCOUNTS, hang_seconds=30.0)
    gw.start()
    async with httpx.AsyncClient(base_url=gw.url, timeout=10.0) as http:
        auth = await login(http)
        gw.fail_next_place("hang_after")
        pending = asyncio.create_task(http.post("/api/Order/place", json=entry(), headers=auth))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(gw.stop)
        with pytest.raises(httpx.TransportError):
            await asyncio.wait_for(pending, 2.0)


def test_sync_start_stop_and_sync_client() -> None:
    with FakeProjectX() as gw:
        answer = httpx.post(f"{gw.url}/api/Auth/loginKey", json=CREDENTIALS)
        assert answer.json()["success"]
