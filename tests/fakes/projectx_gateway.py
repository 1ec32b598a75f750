"""FakeProjectX: the ProjectX Gateway REST API on a real local HTTP/1.1 server.

    async with FakeProjectX(username="user", api_key="key", accounts=[...]) as gw:
        async with httpx.AsyncClient(base_url=gw.url) as http: ...   # or gw.start()/stop()

Every route is POST with a JSON body and answers 200 with success/errorCode/errorMessage;
all but /api/Auth/loginKey need `Authorization: Bearer <token>` (else 401, empty body).
Tokens are opaque ("tok-<n>"), live `token_ttl` by `clock`, and by default /api/Auth/validate
revokes the token it renews (`validate_revokes_old=False` keeps it valid until expiry, as
the live gateway does with its JWTs). State helpers, recorded traffic and faults are below;
every public method is thread-safe and may be called from the test's event loop.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, NamedTuple, Self

from tests.fakes.projectx_book import Book
from tests.fakes.projectx_faults import PLACE, FaultInjection, api_path
from tests.fakes.projectx_http import LoopServer, Outcome, Reply, Request
from tests.fakes.projectx_routes import Routes, problem
from tests.fakes.projectx_wire import DEFAULT_ACCOUNTS, DEFAULT_CONTRACTS, BadRequest, Json, Stamp

LOGIN, VALIDATE = "/api/Auth/loginKey", "/api/Auth/validate"


class Recorded(NamedTuple):
    path: str
    body: Any  # the parsed JSON, {} for an empty body, None when it is not JSON
    headers: dict[str, str]  # names lower-cased
    arrived_ns: int = 0  # time.perf_counter_ns() when it reached the fake (CLOCK_MONOTONIC)


class FakeProjectX(FaultInjection):
    def __init__(
        self, *, username: str = "user", api_key: str = "key",
        accounts: Iterable[Mapping[str, Any]] = DEFAULT_ACCOUNTS,
        contracts: Iterable[Mapping[str, Any]] = DEFAULT_CONTRACTS,
        mark_price: float = 5000.0, fees_per_contract: float = 0.0,
        fill_market_orders: bool = True, token_ttl: timedelta = timedelta(hours=24),
        validate_revokes_old: bool = True, hang_seconds: float = 30.0,
        clock: Callable[[], datetime] | None = None, host: str = "127.0.0.1", port: int = 0,
        order_tags: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        # False: Order/search and Order/searchOpen answer in the older revision's shape,
        # without `customTag` (the tag is still kept, and still unique per account).
        self.order_tags = order_tags
        self.username, self.api_key, self.host = username, api_key, host
        self.token_ttl, self.validate_revokes_old = token_ttl, validate_revokes_old
        self.hang_seconds = hang_seconds
        self.clock = clock or (lambda: datetime.now(UTC))
        self.book = Book(
            accounts, contracts, mark_price=mark_price, fees_per_contract=fees_per_contract,
            fill_market_orders=fill_market_orders, clock=self.clock,
        )  # fmt: skip
        self.requests: list[Recorded] = []
        self.logins = self.validates = self.place_calls = 0
        self._tokens: dict[str, datetime] = {}  # token -> expiry (UTC)
        self._renewable: set[str] = set()  # expired, yet /api/Auth/validate takes them
        self._token_numbers = itertools.count(1)
        self._routes = Routes(self)
        self._server = LoopServer(self._handle, host, port)

    @property
    def url(self) -> str:
        """The REST base, "http://127.0.0.1:<port>"; routes live under f"{url}/api/"."""
        return f"http://{self.host}:{self._server.port}"

    # ----- lifecycle

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        """Close the listener and every connection, hung ones included."""
        self._server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await asyncio.to_thread(self.stop)

    # ----- tokens

    def issue_token(self) -> str:
        """A fresh valid token, as a login would give (without counting a login)."""
        with self._lock:
            token = f"tok-{next(self._token_numbers)}"
            self._tokens[token] = self.clock() + self.token_ttl
            return token

    def token_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._tokens.get(token)
            return expiry is not None and self.clock() < expiry

    def expire_token(self, token: str | None = None, *, renewable: bool = False) -> None:
        """Invalidate `token`, or every token issued so far: the next authenticated call
        gets 401. Like an expired JWT, /api/Auth/validate refuses it too, so the client must
        log in again; with `renewable` validate still accepts it (and only validate)."""
        with self._lock:
            expired = list(self._tokens) if token is None else [token]
            for name in expired:
                self._tokens.pop(name, None)
                if renewable:
                    self._renewable.add(name)
                else:
                    self._renewable.discard(name)

    def retire_token(self, token: str) -> None:
        """Forget `token` entirely (validate uses this when it revokes the renewed one)."""
        with self._lock:
            self._tokens.pop(token, None)
            self._renewable.discard(token)

    @property
    def valid_tokens(self) -> list[str]:
        with self._lock:
            return [t for t in self._tokens if self.token_valid(t)]

    # ----- recorded traffic and state, in wire shape (copies)

    def calls(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == api_path(path)]

    def orders(self, account_id: int) -> list[Json]:
        """Every order of the account, oldest first: placed ones and the broker's closing
        orders (close_position, Position/closeContract)."""
        with self._lock:
            return copy.deepcopy(self.book.orders[account_id])

    def positions(self, account_id: int) -> list[Json]:
        with self._lock:
            return copy.deepcopy(list(self.book.positions[account_id].values()))

    def trades(self, account_id: int) -> list[Json]:
        with self._lock:
            return copy.deepcopy(self.book.trades[account_id])

    def account(self, account_id: int) -> Json:
        with self._lock:
            return copy.deepcopy(self.book.accounts[account_id])

    # ----- scripting state

    def add_trade(
        self, account_id: int, price: float, pnl: float | None, fees: float = 0.0,
        side: int = 0, size: int = 1, voided: bool = False, at: Stamp = None,
        contract_id: str = "CON.F.US.MES.Z25", order_id: int | None = None,
    ) -> Json:  # fmt: skip
        """Append a half-turn trade (pnl None = an opening fill). History only: positions
        and balance are left alone. `at`: an aware datetime or epoch seconds; None = now."""
        with self._lock:
            trade = self.book.add_trade(account_id, contract_id, price, pnl, fees, side, size,
                                        voided=voided, order_id=order_id, at=at)  # fmt: skip
            return dict(trade)

    def set_position(
        self, account_id: int, contract_id: str = "CON.F.US.MES.Z25", size: int = 1,
        average_price: float = 5000.0, at: Stamp = None,
    ) -> None:  # fmt: skip
        """Signed size: +n long (type 1), -n short (type 2), 0 flat."""
        with self._lock:
            self.book.set_position(account_id, contract_id, size, average_price, at)

    def clear_positions(self, account_id: int) -> None:
        with self._lock:
            self.book.positions[account_id].clear()

    def close_position(
        self, account_id: int, contract_id: str, price: float, pnl: float | None = None,
        fees: float | None = None, at: Stamp = None,
    ) -> Json:  # fmt: skip
        """The broker flattens the position at `price` (a stop or target hit): a closing
        trade with profitAndLoss (from averagePrice when `pnl` is None); balance moves."""
        with self._lock:
            return dict(self.book.close_position(account_id, contract_id, price, pnl, fees, at))

    def fill_order(self, order_id: int, price: float | None = None) -> None:
        """Fill a working order (e.g. with fill_market_orders=False) at `price` or the mark."""
        with self._lock:
            found = [o for rows in self.book.orders.values() for o in rows if o["id"] == order_id]
            if not found:
                raise KeyError(f"no order {order_id}")
            order = found[0]
            self.book.fill(order, self.book.mark(order["contractId"]) if price is None else price)

    def set_can_trade(self, account_id: int, can_trade: bool) -> None:
        with self._lock:
            self.book.accounts[account_id]["canTrade"] = can_trade

    def set_contract_active(self, contract_id: str, active: bool) -> None:
        """Flip `activeContract` of a listed contract (a rollover moves it to the next month)."""
        with self._lock:
            self.book.contracts[contract_id]["activeContract"] = active

    def set_balance(self, account_id: int, balance: float) -> None:
        with self._lock:
            self.book.accounts[account_id]["balance"] = balance

    def set_mark(self, price: float, contract_id: str | None = None) -> None:
        """The fill price of market orders, for one contract or (None) the default."""
        with self._lock:
            if contract_id is None:
                self.book.default_mark = price
            else:
                self.book.marks[contract_id] = price

    # ----- serving

    async def _handle(self, request: Request) -> Outcome:
        body = _parse(request.body)
        half_trip = self.latency_s / 2
        if half_trip:
            await asyncio.sleep(half_trip)  # the request's way in
        with self._lock:
            arrived = time.perf_counter_ns()
            self.requests.append(Recorded(request.path, body, request.headers, arrived))
            self.logins += request.path == LOGIN
            self.validates += request.path == VALIDATE
            self.place_calls += request.path == PLACE
            pause = self._take(self._delays, request.path, body)
        if pause:
            await asyncio.sleep(pause)
        with self._lock:
            outcome = self._answer(request, body)
        if half_trip:
            await asyncio.sleep(half_trip)  # the answer's way back
        return outcome

    def _answer(self, request: Request, body: Any) -> Outcome:
        if request.method != "POST":
            return Reply(405, headers={"Allow": "POST"})
        retry_after = self._take(self._rate_limits, request.path)
        if retry_after is not None:
            return Reply(429, headers={"Retry-After": str(retry_after)})
        failure = self._take(self._statuses, request.path)
        if failure is not None:
            return Reply(failure[0], failure[1])
        route = self._routes.table.get(request.path)
        if route is None:
            return Reply(404)
        if request.path != LOGIN and (denied := self._authenticate(request)):
            return denied
        if not isinstance(body, dict):
            return problem("the body must be a JSON object")
        try:
            return route(body, request.headers)
        except BadRequest as exc:
            return problem(str(exc))

    def _authenticate(self, request: Request) -> Reply | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return Reply(401, headers={"WWW-Authenticate": "Bearer"})
        renewing = request.path == VALIDATE and token in self._renewable
        if not (self.token_valid(token) or renewing):
            return Reply(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return None


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return None
