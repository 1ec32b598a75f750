"""Order/place answers that are neither success nor refusal, and lookups in a gateway that
returns no customTag: the order is found, never refused for good, never sent twice."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adapters.projectx.client import ProjectXClient, ProjectXConfig
from adapters.projectx.execution import ProjectXExecutor, order_body
from adapters.projectx.intents import IntentStore
from adapters.projectx.lookup import find_order
from adapters.projectx.parsing import PlaceAnswer, place_answer
from engine.execution import PlaceEntry
from engine.model import MarketState, Side
from tests.fakes.projectx_gateway import FakeProjectX

ACCOUNT, ACCOUNT_ID, CONTRACT = "main", 1001, "CON.F.US.MES.Z25"
STATE = MarketState("MES", 0, (), ())


def entry(tag: str = "rt-main-MES-now") -> PlaceEntry:
    at = int(time.time()) // 60 * 60
    return PlaceEntry(ACCOUNT, "MES", CONTRACT, Side.BUY, 1, tag, at)


@pytest.fixture
async def gateway() -> AsyncIterator[FakeProjectX]:
    async with FakeProjectX(hang_seconds=5.0) as gw:
        yield gw


@pytest.fixture
async def tagless() -> AsyncIterator[FakeProjectX]:
    """A gateway of the older revision: Order/search answers carry no customTag."""
    async with FakeProjectX(hang_seconds=5.0, order_tags=False) as gw:
        yield gw


async def run(gw: FakeProjectX, db: Path, *entries: PlaceEntry) -> tuple[ProjectXExecutor, list]:
    client = ProjectXClient(
        ProjectXConfig(gw.url, "user", "key", timeout_s=2.0, order_timeout_s=0.5)
    )
    ex = ProjectXExecutor(client, IntentStore(db), {ACCOUNT: ACCOUNT_ID}, (0.05, 0.1, 0.2))
    await client.token()
    with capture_logs() as logs:
        for the in entries:
            await ex.submit(the, STATE)
    await client.aclose()
    return ex, [e for e in logs if e["event"].startswith("order_")]


def tagged(gw: FakeProjectX, tag: str) -> list[dict]:
    return [o for o in gw.orders(ACCOUNT_ID) if o["customTag"] == tag]


UNCLEAR_BODIES = [
    b"<html><body>OK</body></html>",  # a proxy's page
    b"",  # an empty 200
    b"[]",  # JSON, not an object
    b"null",
    b'"accepted"',
    b'{"success": false}',  # a refusal without an error code
    b'{"success": false, "errorCode": 0}',  # errorCode 0 means success
    b'{"orderId": 7000001}',  # no envelope
]


@pytest.mark.parametrize("body", UNCLEAR_BODIES)
async def test_a_booked_order_with_an_unclear_answer_ends_placed_by_its_tag(
    gateway: FakeProjectX, tmp_path: Path, body: bytes
) -> None:
    gateway.fail_next_place("body_after", body=body)
    the = entry()
    ex, logs = await run(gateway, tmp_path / "i.db", the, the)
    assert [e["event"] for e in logs] == ["order_ambiguous", "order_placed", "order_skipped"]
    assert logs[1]["resolved"] == "found_by_tag"
    assert len(tagged(gateway, the.tag)) == 1
    assert gateway.place_calls == 1  # never sent twice
    known = ex.store.get(the.tag)
    assert known is not None and known.state == "placed"
    assert known.order_id == tagged(gateway, the.tag)[0]["id"]


async def test_an_unbooked_order_with_an_unclear_answer_is_sent_again_once(
    gateway: FakeProjectX, tmp_path: Path
) -> None:
    gateway.fail_next_place("body_before", body=b"<html>Bad gateway</html>")
    the = entry()
    ex, logs = await run(gateway, tmp_path / "i.db", the)
    assert [e["event"] for e in logs] == ["order_ambiguous", "order_resend", "order_placed"]
    assert len(tagged(gateway, the.tag)) == 1 and gateway.place_calls == 2
    assert ex.store.get(the.tag).state == "placed"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"success": true, "orderId": 9, "errorCode": 0}', PlaceAnswer(order_id=9)),
        (b'{"success": false, "errorCode": 2, "errorMessage": "no margin"}',
         PlaceAnswer(error_code=2, message="no margin")),
        (b'{"success": false, "errorCode": 2}',
         PlaceAnswer(error_code=2, message="success: false")),
        (b'{"success": true, "orderId": "9"}', None),
        (b'{"success": true, "orderId": true}', None),
        (b'{"success": true}', None),
        (b'{"success": "false", "errorCode": 2}', None),
        (b'{"success": false, "errorCode": "2"}', None),
        (b"\xff\xfe", None),
        *[(body, None) for body in UNCLEAR_BODIES],
    ],
)  # fmt: skip
def test_place_answer_reads_only_clear_success_or_clear_refusal(
    body: bytes, expected: PlaceAnswer | None
) -> None:
    got = place_answer(body)
    if expected is None:
        assert got.order_id is None and got.error_code is None and got.unclear
    else:
        assert got == expected


# ----- a gateway whose Order/search carries no customTag


async def test_tagless_search_finds_the_order_by_match_and_never_resends(
    tagless: FakeProjectX, tmp_path: Path
) -> None:
    tagless.fail_next_place("hang_after")
    the = entry()
    ex, logs = await run(tagless, tmp_path / "i.db", the)
    assert [e["event"] for e in logs] == ["order_ambiguous", "order_placed"]
    placed = logs[1]
    assert placed["resolved"] == "found_by_match"
    assert placed["match"] | {"created_from": None, "created_to": None} == {
        "account_id": ACCOUNT_ID, "contract": CONTRACT, "side": 0, "size": 1,
        "created_from": None, "created_to": None,
    }  # fmt: skip
    assert placed["order_id"] == tagged(tagless, the.tag)[0]["id"]
    assert tagless.place_calls == 1  # no second Order/place
    assert ex.store.get(the.tag).state == "placed"
    assert all("customTag" not in o for o in await _searched(tagless))


async def test_tagless_search_without_a_candidate_is_provably_absent(
    tagless: FakeProjectX, tmp_path: Path
) -> None:
    tagless.fail_next_place("500_before")
    the = entry()
    ex, logs = await run(tagless, tmp_path / "i.db", the)
    assert [e["event"] for e in logs] == ["order_ambiguous", "order_resend", "order_placed"]
    assert len(tagged(tagless, the.tag)) == 1 and tagless.place_calls == 2
    assert ex.store.get(the.tag).state == "placed"


async def test_two_candidates_leave_the_entry_unresolved_and_unsent(
    tagless: FakeProjectX, tmp_path: Path
) -> None:
    the = entry()
    manual = await _place_other(tagless, the)  # the same order by hand, a moment earlier
    tagless.fail_next_place("hang_after")
    ex, logs = await run(tagless, tmp_path / "i.db", the)
    assert [e["event"] for e in logs] == ["order_ambiguous", "order_unresolved"]
    assert logs[1]["reason"] == "several_candidates"
    assert sorted(logs[1]["candidates"]) == sorted([manual, tagged(tagless, the.tag)[0]["id"]])
    assert tagless.place_calls == 2  # the manual one and ours: no resend
    assert ex.store.get(the.tag).state == "sending"  # unresolved, looked at again at start


SENT = 1_765_000_000.0  # epoch s of the send


def order(order_id: int, created: float | str, **changes: object) -> dict:
    stamp = created if isinstance(created, str) else datetime.fromtimestamp(created, UTC)
    base = {"id": order_id, "accountId": ACCOUNT_ID, "contractId": CONTRACT, "side": 0,
            "size": 1, "type": 2, "creationTimestamp": str(stamp).replace(" ", "T")}  # fmt: skip
    return base | changes


@pytest.mark.parametrize(
    ("orders", "rule", "found"),
    [
        ([], "absent", None),
        ([order(1, SENT - 5.0)], "found_by_match", 1),  # the window's edges are inside
        ([order(1, SENT + 120.0)], "found_by_match", 1),
        ([order(1, SENT - 5.5)], "absent", None),
        ([order(1, SENT + 120.5)], "absent", None),
        ([order(1, SENT + 1, side=1), order(2, SENT + 1, size=2), order(3, SENT + 1,
          contractId="CON.F.US.MES.H26"), order(4, SENT + 1, accountId=7)], "absent", None),
        ([order(1, "yesterday-ish")], "found_by_match", 1),  # unreadable time: cannot rule out
        ([order(1, "2025-12-06T05:46:41.1234567Z")], "found_by_match", 1),  # .NET's 7 digits
        ([order(1, SENT), order(2, SENT + 3)], "several_candidates", None),
        # Tags are served and ours is absent: the tag is the proof, a look-alike is not ours.
        ([order(1, SENT, customTag=None)], "absent", None),
        ([order(1, SENT, customTag="other"), order(2, SENT, customTag="rt-main-MES-now")],
         "found_by_tag", 2),
    ],
)  # fmt: skip
def test_find_order_rules(orders: list[dict], rule: str, found: int | None) -> None:
    got = find_order(orders, entry(), ACCOUNT_ID, SENT)
    assert (got.rule, got.order_id) == (rule, found)


async def _place_other(gw: FakeProjectX, like: PlaceEntry) -> int:
    client = ProjectXClient(ProjectXConfig(gw.url, "user", "key", timeout_s=2.0))
    order_id = await client.place(order_body(replace(like, tag="by-hand"), ACCOUNT_ID))
    await client.aclose()
    return order_id


async def _searched(gw: FakeProjectX) -> list[dict]:
    client = ProjectXClient(ProjectXConfig(gw.url, "user", "key", timeout_s=2.0))
    orders = await client.orders(ACCOUNT_ID, "2000-01-01T00:00:00Z")
    await client.aclose()
    return orders
