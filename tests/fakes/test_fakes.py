"""Contract tests: the fakes speak their protocols to the real clients (realtime-py,
httpx) over real sockets, backed by a real PostgreSQL database."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from realtime import AsyncRealtimeClient, RealtimeSubscribeStates
from websockets.exceptions import InvalidStatus

from tests.fakes.clients import Listener, subscribe
from tests.fakes.pg import insert_rows
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.realtime_server import FakeRealtime
from tests.fakes.wait import eventually, never

SUBSCRIBED = RealtimeSubscribeStates.SUBSCRIBED
CHANNEL_ERROR = RealtimeSubscribeStates.CHANNEL_ERROR
AUTH = {"apikey": API_KEY, "Authorization": f"Bearer {API_KEY}"}


def bar(symbol: str = "MES", **extra: object) -> dict[str, object]:
    return {"symbol": symbol, "timeframe": "1", "o": "18250.250000", "h": 18251,
            "l": 18249.5, "c": 18250.75, "v": 12, **extra}  # fmt: skip


@pytest.fixture
async def clients(fake_realtime: FakeRealtime) -> AsyncIterator[list[AsyncRealtimeClient]]:
    """Clients to close before the server stops (so none retries against a dead port)."""
    opened: list[AsyncRealtimeClient] = []
    yield opened
    for client in opened:
        await client.close()


async def test_realtime_delivers_matching_inserts_only(
    pg_dsn: str, fake_realtime: FakeRealtime, clients: list[AsyncRealtimeClient]
) -> None:
    listener = Listener()
    clients.append(await subscribe(fake_realtime, listener, key=API_KEY))
    assert listener.states == [SUBSCRIBED]
    [join] = fake_realtime.joins
    assert join.topic == "realtime:tv"
    assert join.payload["config"]["postgres_changes"] == [
        {"event": "INSERT", "schema": "public", "table": "tv_datafeed", "filter": "symbol=eq.MES"}
    ]

    mnq_id, mes_id = insert_rows(pg_dsn, [bar("MNQ"), bar("MES")])

    await eventually(lambda: len(listener.payloads) == 1)
    await never(lambda: len(listener.payloads) > 1, within=0.2)
    data = listener.payloads[0]["data"]
    record = listener.records[0]
    assert (record["id"], record["symbol"], record["timeframe"]) == (mes_id, "MES", "1")
    assert mnq_id != mes_id
    assert (record["o"], record["c"], record["v"], record["ema21"]) == (
        18250.25,
        18250.75,
        12,
        None,
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", record["ts"])
    assert (data["schema"], data["table"], data["type"], data["errors"]) == (
        "public", "tv_datafeed", "INSERT", None,
    )  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["commit_timestamp"])
    assert data["columns"][:3] == [
        {"name": "id", "type": "int8"}, {"name": "ts", "type": "timestamptz"},
        {"name": "symbol", "type": "text"},
    ]  # fmt: skip
    assert {"name": "o", "type": "numeric"} in data["columns"]
    assert fake_realtime.heartbeats >= 1  # realtime-py sends one as soon as it connects


async def test_realtime_rejoins_after_abrupt_drop(
    pg_dsn: str, fake_realtime: FakeRealtime, clients: list[AsyncRealtimeClient]
) -> None:
    listener = Listener()
    clients.append(await subscribe(fake_realtime, listener, key=API_KEY))

    await fake_realtime.drop_all()

    await eventually(lambda: listener.states == [SUBSCRIBED, CHANNEL_ERROR, SUBSCRIBED])
    assert fake_realtime.connections == 2
    assert [j.connection for j in fake_realtime.joins] == [1, 2]
    [row_id] = insert_rows(pg_dsn, [bar()])
    await eventually(lambda: [r["id"] for r in listener.records] == [row_id])


async def test_realtime_refuses_a_wrong_key(fake_realtime: FakeRealtime) -> None:
    client = AsyncRealtimeClient(f"{fake_realtime.url}/realtime/v1", "wrong-key", max_retries=1)

    with pytest.raises(InvalidStatus) as refused:
        await client.connect()

    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["Content-Type"] == "application/json"
    assert b"Invalid API key" in refused.value.response.body
    assert (fake_realtime.connection_attempts, fake_realtime.connections) == (1, 0)


async def test_postgrest_filters_orders_limits_and_caps(
    pg_dsn: str, fake_postgrest: FakePostgrest
) -> None:
    fake_postgrest.max_rows = 3
    minutes = [f"2024-05-01T12:0{m}:03+00:00" for m in range(6)]
    insert_rows(pg_dsn, [bar(ts=ts) for ts in reversed(minutes)])
    insert_rows(pg_dsn, [bar("MNQ", ts=minutes[2]), bar(timeframe="5", ts=minutes[2])])
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("select", "id,ts,symbol,o,c,v"), ("symbol", "eq.MES"), ("timeframe", "eq.1"),
        ("ts", f"gte.{minutes[1]}"), ("ts", f"lt.{minutes[5]}"), ("order", "ts.asc,id.asc"),
        ("limit", "10"),
    ]  # fmt: skip

    async with httpx.AsyncClient(base_url=f"{fake_postgrest.url}/rest/v1", headers=AUTH) as http:
        capped = await http.get("/tv_datafeed", params=params)
        rest = await http.get("/tv_datafeed", params=[*params, ("offset", "3")])
        unauthorized = await http.get("/tv_datafeed", headers={"apikey": ""})
        bad_filter = await http.get("/tv_datafeed", params={"symbol": "equals.MES"})

    assert capped.status_code == 200
    rows = capped.json()
    assert [r["ts"] for r in rows] == minutes[1:4]  # 4 rows match, the cap returns 3
    assert list(rows[0]) == ["id", "ts", "symbol", "o", "c", "v"]
    assert (rows[0]["symbol"], rows[0]["o"], rows[0]["c"], rows[0]["v"]) == (
        "MES",
        18250.25,
        18250.75,
        12,
    )
    assert '"o":18250.250000' in capped.text  # numeric keeps its scale, as PostgREST's does
    assert capped.headers["Content-Range"] == "0-2/*"
    assert [r["ts"] for r in rest.json()] == minutes[4:5]
    assert rest.headers["Content-Range"] == "3-3/*"
    assert unauthorized.status_code == 401
    assert set(unauthorized.json()) == {"code", "message", "details", "hint"}
    assert bad_filter.status_code == 400
    assert bad_filter.json()["code"] == "PGRST100"


async def test_postgrest_operators(pg_dsn: str, fake_postgrest: FakePostgrest) -> None:
    ids = insert_rows(pg_dsn, [bar("MES", v=None), bar("MNQ"), bar("M2K", v=3)])

    async def ids_for(**params: str) -> list[int]:
        async with httpx.AsyncClient(headers=AUTH) as http:
            response = await http.get(
                f"{fake_postgrest.url}/rest/v1/tv_datafeed",
                params={"select": "id", "order": "id.desc", **params},
            )
        assert response.status_code == 200, response.text
        return [row["id"] for row in response.json()]

    assert await ids_for(symbol="in.(MES,MNQ)") == [ids[1], ids[0]]
    assert await ids_for(symbol="neq.MES") == [ids[2], ids[1]]
    assert await ids_for(v="is.null") == [ids[0]]
    assert await ids_for(v="not.is.null", symbol="like.M*K") == [ids[2]]
    assert await ids_for(v="gt.5") == [ids[1]]
    assert await ids_for(id=f"lte.{ids[1]}", limit="1", order="id.asc") == [ids[0]]


async def test_postgrest_reports_errors_like_postgrest(fake_postgrest: FakePostgrest) -> None:
    async with httpx.AsyncClient(base_url=f"{fake_postgrest.url}/rest/v1", headers=AUTH) as http:
        no_table = await http.get("/nope")
        no_column = await http.get("/tv_datafeed", params={"select": "id,nope"})
        bad_value = await http.get("/tv_datafeed", params={"ts": "gte.yesterday-ish"})
        bad_bearer = await http.get("/tv_datafeed", headers={"Authorization": "Bearer other"})

    assert (no_table.status_code, no_table.json()["code"]) == (404, "PGRST205")
    assert (no_column.status_code, no_column.json()["code"]) == (400, "42703")
    assert (bad_value.status_code, bad_value.json()["code"]) == (400, "22007")
    assert (bad_bearer.status_code, bad_bearer.json()["code"]) == (401, "PGRST301")
    assert [r.path for r in fake_postgrest.requests] == ["/rest/v1/nope"] + [
        "/rest/v1/tv_datafeed"
    ] * 3
