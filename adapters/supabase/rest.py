"""PostgREST history reads of `tv_datafeed` (plain httpx, keyset paging on ts, id).

Plain `httpx` rather than the `postgrest` client: we need exactly one read route with
explicit timeouts and keyset paging; `postgrest` would add a dependency tree for a query
builder we would use one way (see PLANS.md). No retries here: a failed read raises at
once (`HistoryError`, or httpx's transport errors), and the caller's one retry policy
decides (the worker's start-up phases, the source's reconnect loop; the replay CLI stops).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from adapters import events
from adapters.supabase.http import postgrest_client
from engine.ports import RowReceived, RowUnreadable, SourceEvent
from engine.timefmt import iso

COLUMNS = "id,ts,symbol,timeframe,o,h,l,c,v"


class HistoryError(RuntimeError):
    """PostgREST answered with an error: the HTTP `status` and PostgREST's error `code`
    (`PGRST301` a bad key, `PGRST205` or `42P01` no such table, ...) when it gave one;
    status None for an answer of the wrong shape."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True, slots=True)
class RestConfig:
    url: str  # https://<project>.supabase.co
    key: str
    table: str = "tv_datafeed"
    schema: str = "public"
    page_size: int = 1000  # Supabase caps responses at 1000 rows, silently
    timeout_s: float = 10.0
    bar_time_column: bool = False  # select `bar_time` too (deployments that add it)


class HistoryClient:
    """Reads rows ordered by (ts, id) for a symbol and time range. Reads only."""

    def __init__(self, config: RestConfig, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        self._http = postgrest_client(
            config.url, config.key, config.schema, timeout_s=config.timeout_s, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def rows(
        self,
        symbol: str,
        since: float,
        until: float | None = None,
        after: tuple[str, int] | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of rows with since <= ts (< until), in (ts, id) order, each row once;
        with `after` = (ts text, id) of a row already read, only the rows after it (a
        read resumed after a failure).

        Keyset paging on (ts, id) with AND-filters only: after a page ending at (T, I),
        first drain `ts = T and id > I`, then continue with `ts > T`. Offsets would skip
        or repeat rows as new ones commit; ts alone breaks on rows sharing a ts."""
        last = after
        draining = after is not None  # reading the rest of one ts?
        bounds = _after(after) if after is not None else [("ts", f"gte.{iso(since)}")]
        while True:
            page = await self._page(symbol, bounds, until)
            if page:
                yield page
                last = row_key(page[-1])
            if last is not None and len(page) == self.config.page_size:
                bounds, draining = _after(last), True  # more rows may share the last ts
            elif last is not None and draining:
                bounds, draining = [("ts", f"gt.{last[0]}")], False
            else:
                return  # a short page of the main scan: the end

    async def _page(
        self, symbol: str, bounds: list[tuple[str, str]], until: float | None
    ) -> list[Any]:
        select = COLUMNS + (",bar_time" if self.config.bar_time_column else "")
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("select", select),
            ("symbol", f"eq.{symbol}"),
            ("timeframe", "eq.1"),
            *bounds,
            ("order", "ts.asc,id.asc"),
            ("limit", str(self.config.page_size)),
        ]
        if until is not None:
            params.append(("ts", f"lt.{iso(until)}"))
        response = await self._http.get(f"/{self.config.table}", params=params)
        if response.status_code >= 400:
            events.history_error(status=response.status_code, body=response.text)
            raise _error(response)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if not isinstance(body, list):
            raise HistoryError(f"unexpected history answer: {str(body)[:120]}")
        return body


def _after(row: tuple[str, int]) -> list[tuple[str, str]]:
    """The filters for the rows after `row` = (ts text, id) that share its ts."""
    return [("ts", f"eq.{row[0]}"), ("id", f"gt.{row[1]}")]


def row_key(row: Any) -> tuple[str, int]:
    """(ts text, id) of a history row: where a resumed read goes on (`rows(after=...)`)."""
    ts, row_id = (row.get("ts"), row.get("id")) if isinstance(row, dict) else (None, None)
    if not isinstance(ts, str) or not isinstance(row_id, int):
        raise HistoryError("history rows need text `ts` and integer `id` columns")
    return ts, row_id


def _error(response: httpx.Response) -> HistoryError:
    """PostgREST's error JSON is {"code", "message", "details", "hint"}; a proxy's may be
    anything: then the status alone speaks."""
    try:
        body = response.json()
    except ValueError:
        body = None
    fields = body if isinstance(body, dict) else {}
    code = fields.get("code")
    message = str(fields.get("message") or response.reason_phrase)[:200]
    return HistoryError(
        f"HTTP {response.status_code} {code or ''} {message}".replace("  ", " "),
        response.status_code,
        str(code) if code is not None else None,
    )


class TableSource:
    """The table's rows for one symbol and time range, as a finite source
    (`replay --source supabase`): each row at its own receipt `ts`."""

    is_live_feed = False  # history: orders never follow
    name = "supabase table"

    def __init__(
        self, client: HistoryClient, symbol: str, since: float, until: float | None
    ) -> None:
        self.client, self.symbol, self.since, self.until = client, symbol, since, until
        self.counts: Counter[str] = Counter()

    async def warm_up(self) -> AsyncIterator[RowReceived | RowUnreadable]:
        return
        yield  # nothing before the range: it is all history

    async def events(self) -> AsyncIterator[SourceEvent]:
        try:
            async for page in self.client.rows(self.symbol, self.since, self.until):
                for row in page:
                    yield RowReceived(row)
        finally:
            await self.client.aclose()
