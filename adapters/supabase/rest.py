"""PostgREST history reads of `tv_datafeed` (plain httpx, keyset paging on ts, id).

Plain `httpx` rather than the `postgrest` client: we need exactly one read route with
explicit timeouts, our own retry policy and keyset paging; `postgrest` would add a
dependency tree for a query builder we would use one way (see PLANS.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from adapters.files.timefmt import iso
from adapters.supabase.http import postgrest_client

COLUMNS = "id,ts,symbol,timeframe,o,h,l,c,v"


class HistoryError(RuntimeError):
    """PostgREST answered with an error (its `code`/`message`), or never answered."""


@dataclass(frozen=True, slots=True)
class RestConfig:
    url: str  # https://<project>.supabase.co
    key: str
    table: str = "tv_datafeed"
    schema: str = "public"
    page_size: int = 1000  # Supabase caps responses at 1000 rows, silently
    timeout_s: float = 10.0
    attempts: int = 5
    bar_time_column: bool = False  # select `bar_time` too (deployments that add it)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in (408, 429) or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


class HistoryClient:
    """Reads rows ordered by (ts, id) for a symbol and time range. Reads only."""

    def __init__(self, config: RestConfig, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        self._http = postgrest_client(
            config.url, config.key, config.schema, timeout_s=config.timeout_s, transport=transport
        )
        self._log = structlog.get_logger("history")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def rows(
        self, symbol: str, since: float, until: float | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of rows with since <= ts (< until), in (ts, id) order, each row once.

        Keyset paging on (ts, id) with AND-filters only: after a page ending at (T, I),
        first drain `ts = T and id > I`, then continue with `ts > T`. Offsets would skip
        or repeat rows as new ones commit; ts alone breaks on rows sharing a ts."""
        page = await self._page(symbol, [("ts", f"gte.{iso(since)}")], until)
        draining = False  # is `page` the rest of one ts?
        while page:
            yield page
            last_ts, last_id = page[-1].get("ts"), page[-1].get("id")
            if not isinstance(last_ts, str) or not isinstance(last_id, int):
                raise HistoryError("history rows need text `ts` and integer `id` columns")
            if len(page) == self.config.page_size:
                same_ts = [("ts", f"eq.{last_ts}"), ("id", f"gt.{last_id}")]
                page = await self._page(symbol, same_ts, until)
                if page:
                    draining = True
                    continue
            elif not draining:
                return  # a short page of the main scan: the end
            page, draining = await self._page(symbol, [("ts", f"gt.{last_ts}")], until), False

    async def _page(
        self, symbol: str, bounds: list[tuple[str, str]], until: float | None
    ) -> list[Any]:
        select = COLUMNS + (",bar_time" if self.config.bar_time_column else "")
        params: list[tuple[str, str]] = [
            ("select", select),
            ("symbol", f"eq.{symbol}"),
            ("timeframe", "eq.1"),
            *bounds,
            ("order", "ts.asc,id.asc"),
            ("limit", str(self.config.page_size)),
        ]
        if until is not None:
            params.append(("ts", f"lt.{iso(until)}"))
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.config.attempts),
            wait=wait_exponential_jitter(multiplier=0.5, max=10),
            reraise=True,
        ):
            with attempt:
                response = await self._http.get(f"/{self.config.table}", params=params)
                if response.status_code >= 400:
                    self._log.warning(
                        "history_error", status=response.status_code, body=response.text[:200]
                    )
                    response.raise_for_status()
                body = response.json()
        if not isinstance(body, list):
            raise HistoryError(f"unexpected history answer: {str(body)[:120]}")
        return body
