"""The fault-injection and bad-input API of the fakes, seen through the real clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import psycopg
import pytest
from realtime import AsyncRealtimeClient, RealtimeSubscribeStates
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from tests.fakes import realtime_protocol as proto
from tests.fakes.clients import Listener, subscribe
from tests.fakes.pg import insert_rows
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.realtime_server import FakeRealtime
from tests.fakes.wait import eventually, never

SUBSCRIBED = RealtimeSubscribeStates.SUBSCRIBED
CHANNEL_ERROR = RealtimeSubscribeStates.CHANNEL_ERROR
CLOSED = RealtimeSubscribeStates.CLOSED
AUTH = {"apikey": API_KEY, "Authorization": f"Bearer {API_KEY}"}
MES = {"symbol": "MES", "timeframe": "1", "o": 1, "h": 2, "l": 0.5, "c": 1.5}


@pytest.fixture
async def listener(
    fake_realtime: FakeRealtime,
) -> AsyncIterator[tuple[Listener, AsyncRealtimeClient]]:
    seen = Listener()
    client = await subscribe(fake_realtime, seen, key=API_KEY, initial_backoff=0.05)
    yield seen, client
    await client.close()


def ids(seen: Listener) -> list[object]:
    return [r.get("id") for r in seen.records]


async def test_stall_loses_changes_until_resumed(
    pg_dsn: str, fake_realtime: FakeRealtime, listener: tuple[Listener, AsyncRealtimeClient]
) -> None:
    seen, client = listener
    fake_realtime.stall()
    insert_rows(pg_dsn, [MES])
    await eventually(lambda: fake_realtime.lost == 1)
    await never(lambda: bool(seen.payloads), within=0.2)
    assert client.is_connected  # nothing tells the client: the watchdog's job

    fake_realtime.stall(False)
    [later] = insert_rows(pg_dsn, [MES])
    await eventually(lambda: ids(seen) == [later])


async def test_stall_without_pongs_trips_the_websocket_keepalive(
    fake_realtime: FakeRealtime,
) -> None:
    url = f"ws://127.0.0.1:{fake_realtime.port}/realtime/v1/websocket?apikey={API_KEY}"
    async with connect(url, ping_interval=0.1, ping_timeout=0.1, close_timeout=0.1) as ws:
        fake_realtime.stall(pongs=False)
        with pytest.raises(ConnectionClosedError) as closed:
            await asyncio.wait_for(ws.recv(), 3)
    assert closed.value.sent is not None and closed.value.sent.code == 1011


async def test_dropped_changes_and_closed_channels(
    pg_dsn: str, fake_realtime: FakeRealtime, listener: tuple[Listener, AsyncRealtimeClient]
) -> None:
    seen, client = listener
    fake_realtime.drop_next(1)
    dropped, kept = insert_rows(pg_dsn, [MES, MES])
    await eventually(lambda: ids(seen) == [kept])
    assert fake_realtime.lost == 1 and dropped < kept

    assert await fake_realtime.close_channels() == 1
    await eventually(lambda: seen.states == [SUBSCRIBED, CHANNEL_ERROR, CLOSED])
    assert "realtime:tv" not in client.channels  # removed for good: no rejoin follows
    await never(lambda: len(fake_realtime.joins) > 1, within=1.2)
    assert client.is_connected


async def test_delivery_follows_commit_order_not_ts(
    pg_dsn: str, fake_realtime: FakeRealtime, listener: tuple[Listener, AsyncRealtimeClient]
) -> None:
    seen, _ = listener
    with psycopg.connect(pg_dsn) as early, psycopg.connect(pg_dsn) as late:
        insert = (
            "insert into tv_datafeed (symbol, timeframe, o, h, l, c)"
            " values ('MES', '1', 1, 1, 1, 1) returning id"
        )
        first = early.execute(insert).fetchone()
        second = late.execute(insert).fetchone()
        late.commit()
        early.commit()
    assert first is not None and second is not None
    await eventually(lambda: ids(seen) == [second[0], first[0]])
    ts = {r["id"]: datetime.fromisoformat(r["ts"]) for r in seen.records}
    pairs = zip(seen.records, seen.payloads, strict=True)
    commits = {r["id"]: p["data"]["commit_timestamp"] for r, p in pairs}
    assert ts[first[0]] < ts[second[0]]  # ts is the transaction start, not the commit
    assert commits[first[0]] >= commits[second[0]]  # same fixed-width format: text order


async def test_duplicate_reorder_and_delay(
    pg_dsn: str, fake_realtime: FakeRealtime, listener: tuple[Listener, AsyncRealtimeClient]
) -> None:
    seen, _ = listener
    fake_realtime.duplicate_next(1)
    [first] = insert_rows(pg_dsn, [MES])
    await eventually(lambda: ids(seen) == [first, first])

    fake_realtime.reorder_next(3)
    batch = insert_rows(pg_dsn, [MES, MES, MES])
    await eventually(lambda: ids(seen)[2:] == batch[::-1])

    fake_realtime.set_delay(0.3)
    [slow] = insert_rows(pg_dsn, [MES])
    await never(lambda: len(seen.payloads) > 5, within=0.15)
    await eventually(lambda: ids(seen)[-1] == slow)


async def test_rejected_join_is_retried_by_the_client(
    fake_realtime: FakeRealtime, clients_closed: list[AsyncRealtimeClient]
) -> None:
    fake_realtime.reject_joins("Realtime is restarting, please standby")
    seen = Listener()
    clients_closed.append(await subscribe(fake_realtime, seen, key=API_KEY))
    assert seen.states == [CHANNEL_ERROR]
    assert "restarting" in str(seen.errors[0])

    fake_realtime.reject_joins(None)
    await eventually(lambda: seen.states[-1:] == [SUBSCRIBED], timeout=4)  # rejoin after 1 s


async def test_rows_committed_before_the_server_goes_live_are_lost(
    pg_dsn: str, fake_realtime: FakeRealtime, clients_closed: list[AsyncRealtimeClient]
) -> None:
    fake_realtime.set_subscribe_delay(0.3)
    seen = Listener()
    clients_closed.append(await subscribe(fake_realtime, seen, key=API_KEY))
    assert (seen.states, seen.system) == ([SUBSCRIBED], [])  # SUBSCRIBED on the reply
    insert_rows(pg_dsn, [MES])
    await eventually(lambda: seen.system == ["Subscribed to PostgreSQL"])
    [live] = insert_rows(pg_dsn, [MES])
    await eventually(lambda: ids(seen) == [live])


async def test_refused_then_accepted_reconnect(
    fake_realtime: FakeRealtime, listener: tuple[Listener, AsyncRealtimeClient]
) -> None:
    seen, _ = listener
    fake_realtime.refuse_connections()
    await fake_realtime.drop_all()
    await eventually(lambda: fake_realtime.connection_attempts >= 3)
    fake_realtime.refuse_connections(False)
    await eventually(lambda: seen.states == [SUBSCRIBED, CHANNEL_ERROR, SUBSCRIBED])
    assert fake_realtime.connections == 2


async def test_clean_close_also_reconnects(
    fake_realtime: FakeRealtime, listener: tuple[Listener, AsyncRealtimeClient]
) -> None:
    seen, _ = listener
    await fake_realtime.close_all(1000)
    await eventually(lambda: seen.states == [SUBSCRIBED, CHANNEL_ERROR, SUBSCRIBED])


async def test_bad_frames_reach_the_client_and_it_carries_on(
    pg_dsn: str, fake_realtime: FakeRealtime, listener: tuple[Listener, AsyncRealtimeClient]
) -> None:
    seen, _ = listener
    await fake_realtime.send_raw("not json")
    await fake_realtime.send_raw(proto.frame("no_such_event", "realtime:tv", {}))
    assert await fake_realtime.send_change('{"symbol": "MES", "c": "abc", "o": [1]}') == 1
    assert await fake_realtime.send_change({"symbol": "MES"}, errors="Error 413: Payload Too Large")
    await eventually(lambda: len(seen.payloads) == 2)
    assert seen.records[0] == {"symbol": "MES", "c": "abc", "o": [1]}
    assert seen.payloads[1]["data"]["errors"] == "Error 413: Payload Too Large"

    [row] = insert_rows(pg_dsn, [MES])
    await eventually(lambda: ids(seen)[-1:] == [row])


async def test_leave_token_refresh_and_unknown_table(
    fake_realtime: FakeRealtime, listener: tuple[Listener, AsyncRealtimeClient]
) -> None:
    seen, client = listener
    await client.set_auth("refreshed-token")
    await eventually(lambda: fake_realtime.access_tokens == ["refreshed-token"])
    await client.channels["realtime:tv"].unsubscribe()
    await eventually(lambda: seen.states[-1] == CLOSED)
    assert fake_realtime.leaves == ["realtime:tv"]

    typo = Listener()
    other = await subscribe(fake_realtime, typo, key=API_KEY, topic="typo", table="tv_datafed")
    try:
        await eventually(lambda: CHANNEL_ERROR in typo.states)  # system error after the reply
    finally:
        await other.close()


async def test_postgrest_faults_concurrency_and_inserts(
    pg_dsn: str, fake_postgrest: FakePostgrest
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "create table public.results (id bigint generated always as identity primary key,"
            " order_id text not null unique, total_pnl numeric, raw_trades json)"
        )
    url = f"{fake_postgrest.url}/rest/v1/results"
    rows = [{"order_id": "A1", "total_pnl": 12.5, "raw_trades": [{"p": 1}]},
            {"order_id": "B2", "total_pnl": -3, "raw_trades": None}]  # fmt: skip
    ignore = {**AUTH, "Prefer": "return=minimal,resolution=ignore-duplicates"}
    async with httpx.AsyncClient(headers=AUTH) as http:
        fake_postgrest.fail_next(1, status=503)
        failed = await http.post(url, json=rows, headers=ignore)
        first = await http.post(url, params={"on_conflict": "order_id"}, json=rows, headers=ignore)
        again = await http.post(
            url, params={"on_conflict": "order_id"}, json=rows[0], headers=ignore
        )
        clash = await http.post(url, json=rows[0])
        fake_postgrest.delay(0.3)
        started = asyncio.get_running_loop().time()
        reads = await asyncio.gather(*(http.get(url, params={"order": "id"}) for _ in range(5)))
        elapsed = asyncio.get_running_loop().time() - started

    assert failed.status_code == 503
    assert (first.status_code, first.content, again.status_code) == (201, b"", 201)
    assert (clash.status_code, clash.json()["code"]) == (409, "23505")
    assert elapsed < 1.0  # five 0.3 s requests served side by side
    assert all(r.status_code == 200 for r in reads)
    assert [(r["order_id"], r["total_pnl"], r["raw_trades"]) for r in reads[0].json()] == [
        ("A1", 12.5, [{"p": 1}]), ("B2", -3, None),
    ]  # fmt: skip
    assert json.loads(fake_postgrest.requests[1].body) == rows


@pytest.mark.parametrize(
    ("text", "record", "expected"),
    [
        ("symbol=eq.MES", {"symbol": "MES"}, True),
        ("symbol=eq.MES", {"symbol": "MNQ"}, False),
        ("symbol=in.(MNQ,MES)", {"symbol": "MES"}, True),
        ("c=gt.100", {"c": 100.5}, True),
        ("c=lte.100", {"c": 100.5}, False),
        ("v=neq.1", {"v": None}, False),
        ("symbol=eq.MES,timeframe=eq.1", {"symbol": "MES", "timeframe": "5"}, False),
    ],
)
def test_realtime_filter_semantics(text: str, record: dict[str, object], expected: bool) -> None:
    assert all(c.matches(record) for c in proto.parse_filter(text)) is expected


@pytest.fixture
async def clients_closed(fake_realtime: FakeRealtime) -> AsyncIterator[list[AsyncRealtimeClient]]:
    opened: list[AsyncRealtimeClient] = []
    yield opened
    for client in opened:
        await client.close()
