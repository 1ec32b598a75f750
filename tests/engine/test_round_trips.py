"""`engine.round_trips`: flat-to-flat round trips from fills, hand-computed."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from engine.account_state import OrderEvent, TradeEvent
from engine.model import OrderType, Side
from engine.risk import Fill
from engine.round_trips import (
    Book,
    RoundTrip,
    book_of,
    settled_before,
    symbol_of,
    trip_key,
)
from tests.engine.test_account_state import DAY, EXPECTED_A, SCRIPT

MES = "CON.F.US.MES.Z25"
MNQ = "CON.F.US.MNQ.Z25"
BUY, SELL = Side.BUY, Side.SELL


@dataclass(frozen=True, slots=True)
class Order:
    type: OrderType
    custom_tag: str | None = None


ORDERS = {
    1: Order(OrderType.MARKET, "rt-main-MES-20250616T2205Z"),
    2: Order(OrderType.LIMIT),  # target
    3: Order(OrderType.STOP),
    4: Order(OrderType.MARKET),  # untagged (manual)
    5: Order(OrderType.MARKET, "rt-main-MES-20250616T2300Z"),
}


def f(id_: int, at: float, side: Side, size: int, price: float, pnl: float | None = None,
      order: int = 1, voided: bool = False, contract: str = MES) -> Fill:  # fmt: skip
    return Fill(id_, "main", contract, DAY + at, price, pnl, 0.37 * size, side, size, voided,
                order)  # fmt: skip


def book(*fills: Fill) -> Book:
    return book_of(MES, fills, 7, ORDERS)


def only(b: Book) -> RoundTrip:
    (trip,) = b.closed
    assert b.open is None and b.orphans == ()
    return trip


def test_a_long_filled_in_parts_and_closed_by_its_target() -> None:
    trip = only(book(f(1, 0, BUY, 1, 6000.0), f(2, 1, BUY, 2, 6001.0),
                     f(3, 60, SELL, 3, 6004.0, pnl=50.0, order=2)))  # fmt: skip
    assert (trip.side, trip.signal, trip.size, trip.symbol) == (BUY, "BUY", 3, "MES")
    assert trip.entry_price == pytest.approx(6000 + 2 / 3)
    assert (trip.exit_price, trip.gross_pnl, trip.fees, trip.net_pnl) == (6004.0, 50, 2.22, 47.78)
    assert (trip.entry_time, trip.exit_time, trip.duration_s) == (DAY, DAY + 60, 60.0)
    assert (trip.tag, trip.exit_kind, trip.entry_order_id) == (ORDERS[1].custom_tag, "limit", 1)
    assert trip.fill_ids == (1, 2, 3)
    assert trip.key.startswith("7:CON.F.US.MES.Z25:1:3:")


def test_a_short_closed_in_partial_exits_by_target_then_stop() -> None:
    trip = only(book(f(1, 0, SELL, 2, 6000.0, order=5), f(2, 30, BUY, 1, 5990.0, 50.0, order=2),
                     f(3, 90, BUY, 1, 6008.0, -40.0, order=3)))  # fmt: skip
    assert (trip.signal, trip.size, trip.exit_price, trip.exit_kind) == ("SELL", 2, 5999.0, "stop")
    assert (trip.gross_pnl, trip.fees, trip.net_pnl) == (10.0, 1.48, 8.52)
    assert trip.tag == ORDERS[5].custom_tag


def test_scale_in_takes_the_first_tagged_entry_order() -> None:
    trip = only(book(f(1, 0, BUY, 1, 6000.0, order=4), f(2, 10, BUY, 1, 6002.0, order=5),
                     f(3, 20, SELL, 2, 6003.0, 20.0, order=2)))  # fmt: skip
    assert (trip.size, trip.entry_price, trip.tag, trip.entry_order_id) == (
        2, 6001.0, ORDERS[5].custom_tag, 4)  # fmt: skip


def test_a_flip_closes_one_round_trip_and_opens_the_next() -> None:
    b = book(f(1, 0, SELL, 1, 6000.0, order=5), f(2, 60, BUY, 3, 5990.0, 50.0, order=1),
             f(3, 120, SELL, 2, 5995.0, 50.0, order=2))  # fmt: skip
    first, second = b.closed
    assert (first.signal, first.size, first.gross_pnl, first.fees, first.net_pnl) == (
        "SELL", 1, 50.0, 0.74, 49.26)  # fmt: skip
    assert (second.signal, second.size, second.gross_pnl, second.fees, second.net_pnl) == (
        "BUY", 2, 50.0, 1.48, 48.52)  # fmt: skip
    # fill 2 (fees 1.11) is shared 1:2 and appears in both, once each
    assert [(leg.fill.id, leg.size) for leg in first.exits] == [(2, 1)]
    assert [(leg.fill.id, leg.size) for leg in second.entries] == [(2, 2)]
    assert first.exits[0].fees + second.entries[0].fees == pytest.approx(1.11)
    assert (first.tag, second.tag) == (ORDERS[5].custom_tag, ORDERS[1].custom_tag)
    assert first.key.startswith("7:CON.F.US.MES.Z25:1:2:")
    assert second.key.startswith("7:CON.F.US.MES.Z25:2:3:")
    assert second.entry_time == first.exit_time == DAY + 60


def test_a_flip_that_stays_open() -> None:
    b = book(f(1, 0, BUY, 2, 6000.0), f(2, 60, SELL, 3, 6010.0, 100.0, order=2))
    assert [t.size for t in b.closed] == [2]
    assert b.open is not None and b.open.position == -1
    assert [(leg.fill.id, leg.size) for leg in b.open.entries] == [(2, 1)]


def test_voided_fills_take_no_part() -> None:
    trip = only(book(f(1, 0, BUY, 1, 6000.0), f(2, 5, BUY, 1, 6001.0, voided=True),
                     f(3, 60, SELL, 1, 6004.0, pnl=20.0, order=2)))  # fmt: skip
    assert (trip.size, trip.fill_ids, trip.net_pnl) == (1, (1, 3), 19.26)


def test_a_closing_fill_while_flat_is_an_orphan() -> None:
    b = book(f(1, 0, SELL, 1, 6000.0, pnl=15.0, order=3), f(2, 60, BUY, 1, 6001.0),
             f(3, 120, SELL, 1, 6003.0, pnl=10.0, order=2))  # fmt: skip
    assert [o.id for o in b.orphans] == [1]
    assert [t.fill_ids for t in b.closed] == [(2, 3)]


def test_an_open_position_is_not_a_round_trip() -> None:
    b = book(f(1, 0, BUY, 2, 6000.0), f(2, 60, SELL, 1, 6004.0, pnl=20.0, order=2))
    assert b.closed == ()
    assert b.open is not None and b.open.position == 1
    assert [leg.fill.id for leg in b.open.exits] == [2]


def test_other_contracts_and_unknown_orders() -> None:
    fills = [f(1, 0, BUY, 1, 6000.0, order=99), f(2, 1, BUY, 1, 20_000.0, contract=MNQ),
             f(3, 60, SELL, 1, 6001.0, 5.0, order=98)]  # fmt: skip
    trip = only(book(*fills))
    assert (trip.tag, trip.exit_kind, trip.exit_order_type) == (None, None, None)
    assert book_of(MNQ, fills, 7, ORDERS).open is not None


def test_the_result_does_not_depend_on_arrival_order() -> None:
    fills = [f(1, 0, SELL, 1, 6000.0, order=5), f(2, 60, BUY, 3, 5990.0, 50.0),
             f(3, 120, SELL, 2, 5995.0, 50.0, order=2), f(4, 120, BUY, 1, 5995.0)]  # fmt: skip
    expected = book(*fills)
    for seed in range(5):
        shuffled = fills[:]
        random.Random(seed).shuffle(shuffled)
        assert book(*shuffled) == expected


def test_the_key_is_deterministic_and_changes_with_the_fills() -> None:
    a = only(book(f(1, 0, BUY, 2, 6000.0), f(3, 60, SELL, 2, 6004.0, 40.0)))
    b = only(book(f(1, 0, BUY, 2, 6000.0), f(3, 60, SELL, 2, 6004.0, 40.0)))
    c = only(book(f(1, 0, BUY, 2, 6000.0), f(2, 30, SELL, 1, 6004.0, 20.0),
                  f(3, 60, SELL, 1, 6004.0, 20.0)))  # fmt: skip
    assert a.key == b.key == trip_key(7, MES, (*a.entries, *a.exits))
    assert c.key != a.key and c.key.startswith("7:CON.F.US.MES.Z25:1:3:")


@pytest.mark.parametrize(
    ("contract", "symbol"),
    [("CON.F.US.MES.Z25", "MES"), ("CON.F.US.ENQ.H26", "ENQ"), ("MES", "MES")],
)
def test_symbol_of(contract: str, symbol: str) -> None:
    assert symbol_of(contract) == symbol


def test_settled_before_stops_at_the_last_flat_point() -> None:
    fills = [f(1, 0, BUY, 1, 6000.0), f(2, 60, SELL, 2, 6001.0, 5.0),
             f(3, 90, BUY, 1, 5999.0, 10.0), f(4, 100, BUY, 1, 6000.0),
             f(5, 200, SELL, 1, 6002.0, 10.0)]  # fmt: skip
    # 1 opens, 2 flips, 3 closes the flip: flat after 3; 4 opens, 5 (later) closes
    assert settled_before(fills, MES, DAY + 150) == {1, 2, 3}
    assert settled_before(fills, MES, DAY + 95) == {1, 2, 3}
    assert settled_before(fills, MES, DAY + 80) == set()
    assert settled_before(fills, MES, DAY + 300) == {1, 2, 3, 4, 5}


def test_the_scripted_day_of_account_a_from_its_fills_alone() -> None:
    latest = {e.fill.id: e for e in SCRIPT if isinstance(e, TradeEvent) and e.account_id == 101}
    orders = {e.id: e for e in SCRIPT if isinstance(e, OrderEvent) and e.account_id == 101}
    b = book_of(MES, [t.named("main") for t in latest.values()], 101, orders)
    got = [(t.key[: t.key.rindex(":") + 1], t.side, t.size, t.entry_price, t.exit_price,
            t.gross_pnl, t.fees, t.net_pnl, t.entry_time - DAY, t.exit_time - DAY, t.tag,
            t.exit_kind) for t in b.closed]  # fmt: skip
    assert got == EXPECTED_A
    assert b.open is None and b.orphans == ()
