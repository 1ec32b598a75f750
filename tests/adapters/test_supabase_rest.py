"""HistoryClient against the Postgres-backed fake PostgREST: paging, headers, retries."""

from __future__ import annotations

import httpx
import pytest

from adapters.files.timefmt import parse_iso
from adapters.supabase.rest import HistoryClient, RestConfig
from tests.e2e.livekit import insert_now, recent_rows
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.postgrest import FakePostgrest


async def _all(client: HistoryClient, since: float, until: float | None = None) -> list[dict]:
    out = []
    async for page in client.rows("MES", since, until):
        out.extend(page)
    return out


async def test_pages_past_the_silent_cap_in_ts_id_order_each_row_once(
    pg_dsn: str, fake_postgrest: FakePostgrest
) -> None:
    rows = recent_rows(300, seed=1)
    for row in rows[100:140]:  # many rows sharing one ts straddle page boundaries
        row["ts"] = rows[100]["ts"]
    insert_now(pg_dsn, rows)
    fake_postgrest.max_rows = 25  # the server caps silently, below the page size
    client = HistoryClient(RestConfig(fake_postgrest.url, API_KEY, page_size=25))
    try:
        got = await _all(client, parse_iso(rows[0]["ts"]) - 1)
    finally:
        await client.aclose()
    expected = sorted(
        (r for r in rows if r["symbol"] == "MES" and r["timeframe"] == "1"),
        key=lambda r: parse_iso(r["ts"]),
    )
    assert len(got) == len(expected)
    assert len({r["id"] for r in got}) == len(got)
    assert [parse_iso(r["ts"]) for r in got] == sorted(parse_iso(r["ts"]) for r in got)
    request = fake_postgrest.requests[0]
    assert request.headers["apikey"] == API_KEY
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


async def test_server_errors_are_retried_and_auth_errors_are_not(
    pg_dsn: str, fake_postgrest: FakePostgrest
) -> None:
    rows = recent_rows(50, seed=2)
    insert_now(pg_dsn, rows)
    since = parse_iso(rows[0]["ts"]) - 1
    client = HistoryClient(RestConfig(fake_postgrest.url, API_KEY, attempts=4))
    fake_postgrest.fail_next(2, status=503)
    try:
        assert len(await _all(client, since)) > 40
    finally:
        await client.aclose()
    wrong = HistoryClient(RestConfig(fake_postgrest.url, "wrong-key", attempts=4))
    before = len(fake_postgrest.requests)
    try:
        with pytest.raises(httpx.HTTPStatusError):
            await _all(wrong, since)
    finally:
        await wrong.aclose()
    assert len(fake_postgrest.requests) == before + 1  # a 401 is final
