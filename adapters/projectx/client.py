"""ProjectX Gateway REST client: auth with shared renewal, typed errors, budgets.

Reads retry (401 once after renewal, 429 honouring Retry-After, 5xx/transport with
backoff); money-moving calls (`Order/place`) are never retried here: an unclear
outcome raises `AmbiguousOrder` for the executor to resolve by `customTag`. Neither
the token nor the API key ever appears in a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from adapters import events
from adapters.projectx.budget import BudgetExceeded, RateBudget
from adapters.projectx.parsing import PlaceAnswer, place_answer

HISTORY_PATH = "/api/History/retrieveBars"
LOGIN_PATH = "/api/Auth/loginKey"
PLACE_PATH = "/api/Order/place"


@dataclass(frozen=True, slots=True)
class ProjectXConfig:
    base_url: str = "https://api.topstepx.com"
    username: str = ""
    api_key: str = ""
    timeout_s: float = 10.0  # every call
    order_timeout_s: float = 10.0  # Order/place: beyond this the outcome is ambiguous
    renew_after_s: float = 20 * 3600.0  # tokens live 24 h; renew well before
    read_attempts: int = 4


class GatewayError(RuntimeError):
    """The gateway answered `success: false` (or an HTTP error) for `endpoint`."""

    def __init__(
        self,
        endpoint: str,
        code: int | None,
        message: str,
        status: int = 200,
        retry_after_s: float | None = None,
    ):
        super().__init__(f"{endpoint}: errorCode={code} status={status} {message}"[:300])
        self.endpoint, self.code, self.message, self.status = endpoint, code, message, status
        self.retry_after_s = retry_after_s  # from a 429's Retry-After header


class AuthError(GatewayError):
    """The gateway refused the user name and API key (`success: false`, HTTP 401/403)."""


class AmbiguousOrder(RuntimeError):
    """A placement may or may not have been booked: timeout, reset, 5xx, 429, or a 2xx
    answer that is neither an accepted order nor an explicit refusal."""


class ProjectXClient:
    def __init__(
        self,
        config: ProjectXConfig,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._http = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"), timeout=config.timeout_s, transport=transport
        )
        self._clock = clock
        self._token: str | None = None
        self._token_at = 0.0
        self._renewing: asyncio.Lock | None = None
        self.all_budget = RateBudget(200, 60.0, clock)
        self.history_budget = RateBudget(50, 30.0, clock)
        self.logins = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- auth ----------------------------------------------------------------------------

    async def _lock(self) -> asyncio.Lock:
        if self._renewing is None:
            self._renewing = asyncio.Lock()
        return self._renewing

    async def token(self) -> str:
        """A valid token: log in, or renew when it is older than `renew_after_s`."""
        if self._token is not None and self._clock() - self._token_at < self.config.renew_after_s:
            return self._token
        return await self._refresh(self._token)

    async def _refresh(self, stale: str | None) -> str:
        """Renew once for every caller that saw `stale`; concurrent callers share it."""
        async with await self._lock():
            if self._token is not None and self._token != stale:
                return self._token  # someone else renewed while we waited
            token = await self._validate(stale) if stale else None
            if token is None:
                token = await self._login()
            self._token, self._token_at = token, self._clock()
            events.projectx_token(action="renewed" if stale else "login")
            return token

    async def _login(self) -> str:
        """A new token. Raises AuthError when the gateway refuses the user name and key
        (`success: false`, HTTP 401 or 403); a 429, 5xx or transport error as it comes."""
        body = {"userName": self.config.username, "apiKey": self.config.api_key}
        self.logins += 1
        try:
            answer = await self._post(LOGIN_PATH, body, token=None)
        except GatewayError as exc:
            if exc.status in (401, 403):
                raise AuthError(LOGIN_PATH, None, "login refused", exc.status) from None
            raise
        token = answer.get("token")
        if not answer.get("success") or not isinstance(token, str) or not token:
            code = answer.get("errorCode")
            raise AuthError(LOGIN_PATH, code if isinstance(code, int) else None, "login refused")
        return token

    async def _validate(self, token: str) -> str | None:
        try:
            answer = await self._post("/api/Auth/validate", {}, token=token)
        except (GatewayError, httpx.HTTPError):
            return None
        new = answer.get("newToken")
        return new if answer.get("success") and isinstance(new, str) and new else None

    # -- transport -----------------------------------------------------------------------

    async def _post(self, path: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self._http.post(path, json=body, headers=headers)
        if response.status_code >= 400:
            raise GatewayError(
                path,
                None,
                response.reason_phrase,
                response.status_code,
                _retry_after(response.headers.get("Retry-After")),
            )
        answer = response.json()
        if not isinstance(answer, dict):
            raise GatewayError(path, None, "answer is not a JSON object")
        return answer

    async def read(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """An idempotent call: budget (may wait), 401 renew-once, 429/5xx retries."""
        budget = self.history_budget if path == HISTORY_PATH else None
        for attempt in range(1, self.config.read_attempts + 1):
            await self.all_budget.acquire()
            if budget is not None:
                await budget.acquire()
            token = await self.token()
            try:
                return self._checked(path, await self._post(path, body, token))
            except GatewayError as exc:
                if exc.status == 401 and attempt == 1:
                    await self._refresh(token)
                    continue
                if exc.status in (429, 500, 502, 503, 504) and attempt < self.config.read_attempts:
                    wait = exc.retry_after_s if exc.retry_after_s is not None else 0.25 * 2**attempt
                    events.projectx_retry(endpoint=path, status=exc.status, wait_s=min(wait, 60.0))
                    await asyncio.sleep(min(wait, 60.0))  # honour Retry-After (capped)
                    continue
                raise
            except httpx.TransportError:
                if attempt >= self.config.read_attempts:
                    raise
                await asyncio.sleep(min(10.0, 0.25 * 2**attempt))
        raise GatewayError(path, None, "retries exhausted")

    async def place(self, body: dict[str, Any]) -> int:
        """`Order/place` once. Raises BudgetExceeded (provably unsent), GatewayError
        (definitive refusal) or AmbiguousOrder (may have been accepted)."""
        if not self.all_budget.try_acquire():
            raise BudgetExceeded("local budget of 200 requests / 60 s is used up")
        token = await self.token()
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(self.config.order_timeout_s):
                    response = await self._http.post(
                        PLACE_PATH, json=body, headers={"Authorization": f"Bearer {token}"}
                    )
            except (TimeoutError, httpx.TransportError) as exc:
                raise AmbiguousOrder(f"{PLACE_PATH}: {type(exc).__name__}") from None
            status = response.status_code
            if status == 401 and attempt == 1:  # refused before processing
                token = await self._refresh(token)
                continue
            if status >= 429:
                raise AmbiguousOrder(f"{PLACE_PATH}: HTTP {status}")
            if status >= 400:  # refused before processing (model binding, 403 ...)
                raise GatewayError(PLACE_PATH, None, response.reason_phrase, status)
            return _placed(place_answer(response.content))
        raise AmbiguousOrder(f"{PLACE_PATH}: unauthorised twice")

    @staticmethod
    def _checked(path: str, answer: dict[str, Any]) -> dict[str, Any]:
        if answer.get("success") is not True:
            code = answer.get("errorCode")
            raise GatewayError(
                path,
                code if isinstance(code, int) else None,
                str(answer.get("errorMessage") or "success: false"),
            )
        return answer

    # -- calls ---------------------------------------------------------------------------

    async def hub_token(self) -> str:
        """The newest token for a user-hub (re)connect: one cheap REST read first, so a
        token the gateway stopped accepting (401) is renewed before the hub refuses it."""
        await self.accounts()
        return await self.token()

    async def accounts(self) -> list[dict[str, Any]]:
        answer = await self.read("/api/Account/search", {"onlyActiveAccounts": True})
        return list(answer.get("accounts") or [])

    async def contracts(self, search: str) -> list[dict[str, Any]]:
        answer = await self.read("/api/Contract/search", {"searchText": search, "live": False})
        return list(answer.get("contracts") or [])

    async def open_positions(self, account_id: int) -> list[dict[str, Any]]:
        answer = await self.read("/api/Position/searchOpen", {"accountId": account_id})
        return list(answer.get("positions") or [])

    async def trades(
        self, account_id: int, start: str, end: str | None = None
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"accountId": account_id, "startTimestamp": start}
        if end:
            body["endTimestamp"] = end
        return list((await self.read("/api/Trade/search", body)).get("trades") or [])

    async def orders(
        self, account_id: int, start: str, end: str | None = None
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"accountId": account_id, "startTimestamp": start}
        if end:
            body["endTimestamp"] = end
        return list((await self.read("/api/Order/search", body)).get("orders") or [])


def _placed(answer: PlaceAnswer) -> int:
    """The orderId of an accepted placement; a refusal only on an explicit success:false
    with an error code; anything else may have been booked: ambiguous."""
    if answer.order_id is not None:
        return answer.order_id
    if answer.error_code is not None:
        raise GatewayError(PLACE_PATH, answer.error_code, answer.message)
    raise AmbiguousOrder(f"{PLACE_PATH}: {answer.unclear}")


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form); None when absent or odd."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
