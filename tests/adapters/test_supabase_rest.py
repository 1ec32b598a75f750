"""HistoryClient against the Postgres-backed fake PostgREST: paging, headers, errors."""

from __future__ import annotations

import pytest

from adapters.supabase.rest import HistoryClient, HistoryError, RestConfig, row_key
from engine.timefmt import parse_iso
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


async def test_errors_raise_at_once_with_the_status_and_postgrest_code(
    pg_dsn: str, fake_postgrest: FakePostgrest
) -> None:
    """No retry inside the client (the caller's one policy retries): each failure is one
    request and one typed error carrying what the worker needs to classify it."""
    rows = recent_rows(50, seed=2)
    insert_now(pg_dsn, rows)
    since = parse_iso(rows[0]["ts"]) - 1
    cases = [
        (RestConfig(fake_postgrest.url, API_KEY), 503, "PGRST000"),  # injected below
        (RestConfig(fake_postgrest.url, "wrong-key"), 401, "PGRST301"),
        (RestConfig(fake_postgrest.url, API_KEY, table="tv_missing"), 404, "PGRST205"),
    ]
    fake_postgrest.fail_next(1, status=503)
    for config, status, code in cases:
        client = HistoryClient(config)
        before = len(fake_postgrest.requests)
        try:
            with pytest.raises(HistoryError) as info:
                await _all(client, since)
        finally:
            await client.aclose()
        assert (info.value.status, info.value.code) == (status, code)
        assert len(fake_postgrest.requests) == before + 1


async def test_a_read_resumes_after_the_last_row_it_gave(
    pg_dsn: str, fake_postgrest: FakePostgrest
) -> None:
    """`rows(after=(ts, id))` gives exactly the rows after that one, also when it sits
    inside a run of rows sharing one ts that straddles pages."""
    rows = recent_rows(120, seed=3)
    for row in rows[40:70]:
        row["ts"] = rows[40]["ts"]
    insert_now(pg_dsn, rows)
    client = HistoryClient(RestConfig(fake_postgrest.url, API_KEY, page_size=10))
    since = parse_iso(rows[0]["ts"]) - 1
    try:
        everything = await _all(client, since)
        for cut in (0, 9, 45, 55, 69, len(everything) - 1):
            rest = []
            async for page in client.rows("MES", since, after=row_key(everything[cut])):
                rest.extend(page)
            assert [r["id"] for r in rest] == [r["id"] for r in everything[cut + 1 :]], cut
    finally:
        await client.aclose()
