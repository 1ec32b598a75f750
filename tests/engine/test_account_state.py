"""`engine.account_state`: a scripted trading day for two accounts, hand-computed.

Account 101 ("main") on MES: a partially filled entry closed by its bracket target, a
short stopped out, a fill voided after a later one arrived, a flip, and a long closed
at its target. Account 202 ("alt"): a scale-in, a partial target then the stop, and a
short still open at the end of the script. MES is $5 a point; fees $0.37 a contract.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.account_state import (
    AccountEvent,
    AccountState,
    CloseWithoutEntry,
    Effect,
    Event,
    EventIgnored,
    OrderEvent,
    Position,
    PositionEvent,
    RoundTripClosed,
    RoundTripRevoked,
    TradeEvent,
    reconcile,
    reduce,
    start_day,
)
from engine.model import OrderStatus, OrderType, PositionType, Side
from engine.risk import DayMetrics, Fill

DAY = 1_750_111_200.0  # 2025-06-16 17:00 CDT (22:00Z), the trading day's start
MES = "CON.F.US.MES.Z25"
A, B = 101, 202
BUY, SELL = Side.BUY, Side.SELL
MARKET, LIMIT, STOP = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP
LONG, SHORT = PositionType.LONG, PositionType.SHORT
FILLED, WORKING = OrderStatus.FILLED, OrderStatus.OPEN


def order(id_: int, account: int, side: Side, size: int, type_: OrderType = MARKET,
          tag: str | None = None, status: OrderStatus = FILLED) -> OrderEvent:  # fmt: skip
    return OrderEvent(id_, account, MES, DAY, None, status, type_, side, size, custom_tag=tag)


def trade(id_: int, account: int, order_id: int, at: float, side: Side, size: int, price: float,
          pnl: float | None = None, voided: bool = False) -> TradeEvent:  # fmt: skip
    fill = Fill(id_, "", MES, DAY + at, price, pnl, round(0.37 * size, 2), side, size, voided,
                order_id)  # fmt: skip
    return TradeEvent(account, fill)


def tag(account: str, stamp: str) -> str:
    return f"rt-{account}-MES-{stamp}"


# (account, event) in arrival order; both accounts' events on one stream
SCRIPT: list[Event] = [
    AccountEvent(A, "50KTC-A", 50_000.0, True),
    AccountEvent(B, "50KTC-B", 50_000.0, True),
    # A1: long 2 in two partial fills, target (limit) fills both
    order(1001, A, BUY, 2, tag=tag("main", "20250616T2205Z")),
    trade(1, A, 1001, 300, BUY, 1, 6000.00),
    trade(2, A, 1001, 301, BUY, 1, 6000.25),
    PositionEvent(9001, A, MES, DAY + 300, LONG, 2, 6000.125),
    order(1002, A, SELL, 2, STOP),
    order(1003, A, SELL, 2, LIMIT),
    # B1: long 1 + scale-in 1, target fills 1, then the stop takes the other
    order(2001, B, BUY, 1, tag=tag("alt", "20250616T2210Z")),
    trade(21, B, 2001, 600, BUY, 1, 6001.00),
    trade(3, A, 1003, 900, SELL, 2, 6010.00, pnl=98.75),
    PositionEvent(9001, A, MES, DAY + 300, LONG, 0, 0.0),
    order(2002, B, BUY, 1, tag=tag("alt", "20250616T2220Z")),
    trade(22, B, 2002, 1200, BUY, 1, 6003.00),
    order(2003, B, SELL, 2, LIMIT),
    order(2004, B, SELL, 2, STOP),
    trade(23, B, 2003, 1800, SELL, 1, 6008.00, pnl=30.00),
    trade(24, B, 2004, 2400, SELL, 1, 5995.00, pnl=-35.00),
    # B: a short left open
    order(2005, B, SELL, 1, tag=tag("alt", "20250616T2250Z")),
    trade(25, B, 2005, 3000, SELL, 1, 5990.00),
    order(2006, B, BUY, 1, STOP, status=WORKING),  # its protective stop, still working
    PositionEvent(9002, B, MES, DAY + 3000, SHORT, 1, 5990.0),
    AccountEvent(B, "50KTC-B", 49_993.15, False),
    # A2: short 1 stopped out
    order(1004, A, SELL, 1, tag=tag("main", "20250616T2300Z")),
    trade(4, A, 1004, 3600, SELL, 1, 6020.00),
    order(1005, A, BUY, 1, STOP),
    trade(5, A, 1005, 4200, BUY, 1, 6025.00, pnl=-25.00),
    # A3: fill 6 is voided after fills 7 and 8 arrived; 7 + 8 are the round trip
    order(1006, A, BUY, 1, tag=tag("main", "20250617T0000Z")),
    trade(6, A, 1006, 7200, BUY, 1, 6030.00),
    order(1007, A, BUY, 1, tag=tag("main", "20250617T0010Z")),
    trade(7, A, 1007, 7800, BUY, 1, 6031.00),
    order(1008, A, SELL, 1, STOP),
    trade(8, A, 1008, 8400, SELL, 1, 6029.00, pnl=-10.00),
    trade(6, A, 1006, 7200, BUY, 1, 6030.00, voided=True),
    # A4/A5: short 1, then a buy of 3 flips to long 2, closed at the target
    order(1009, A, SELL, 1, tag=tag("main", "20250617T0100Z")),
    trade(9, A, 1009, 10_800, SELL, 1, 6040.00),
    order(1010, A, BUY, 3, tag=tag("main", "20250617T0130Z")),
    trade(10, A, 1010, 12_600, BUY, 3, 6035.00, pnl=25.00),
    order(1011, A, SELL, 2, LIMIT),
    trade(11, A, 1011, 14_400, SELL, 2, 6045.00, pnl=100.00),
]

# key prefix, side, size, entry price, exit price, gross, fees, net, entry, exit, tag, exit kind
EXPECTED_A = [
    ("101:CON.F.US.MES.Z25:1:3:", BUY, 2, 6000.125, 6010.0, 98.75, 1.48, 97.27, 300, 900,
     tag("main", "20250616T2205Z"), "limit"),
    ("101:CON.F.US.MES.Z25:4:5:", SELL, 1, 6020.0, 6025.0, -25.0, 0.74, -25.74, 3600, 4200,
     tag("main", "20250616T2300Z"), "stop"),
    ("101:CON.F.US.MES.Z25:7:8:", BUY, 1, 6031.0, 6029.0, -10.0, 0.74, -10.74, 7800, 8400,
     tag("main", "20250617T0010Z"), "stop"),
    ("101:CON.F.US.MES.Z25:9:10:", SELL, 1, 6040.0, 6035.0, 25.0, 0.74, 24.26, 10_800, 12_600,
     tag("main", "20250617T0100Z"), "market"),
    ("101:CON.F.US.MES.Z25:10:11:", BUY, 2, 6035.0, 6045.0, 100.0, 1.48, 98.52, 12_600,
     14_400, tag("main", "20250617T0130Z"), "limit"),
]  # fmt: skip
EXPECTED_B = [
    ("202:CON.F.US.MES.Z25:21:24:", BUY, 2, 6002.0, 6001.5, -5.0, 1.48, -6.48, 600, 2400,
     tag("alt", "20250616T2210Z"), "stop"),
]  # fmt: skip


def run(state: AccountState, events: list[Event]) -> tuple[AccountState, list[Effect]]:
    effects: list[Effect] = []
    for event in events:
        state, out = reduce(state, event)
        effects += out
    return state, effects


def summary(effect: Effect) -> tuple[object, ...]:
    assert isinstance(effect, RoundTripClosed)
    t = effect.trip
    return (t.key[: t.key.rindex(":") + 1], t.side, t.size, t.entry_price, t.exit_price,
            t.gross_pnl, t.fees, t.net_pnl, t.entry_time - DAY, t.exit_time - DAY, t.tag,
            t.exit_kind)  # fmt: skip


def fresh(account_id: int) -> AccountState:
    return AccountState(account_id, "main" if account_id == A else "alt", DAY)


@pytest.fixture(scope="module")
def day() -> dict[int, tuple[AccountState, list[Effect]]]:
    return {i: run(fresh(i), SCRIPT) for i in (A, B)}


@pytest.mark.parametrize(("account_id", "expected"), [(A, EXPECTED_A), (B, EXPECTED_B)])
def test_the_day_announces_exactly_the_hand_computed_round_trips(
    day: dict[int, tuple[AccountState, list[Effect]]],
    account_id: int,
    expected: list[tuple[object, ...]],
) -> None:
    _, effects = day[account_id]
    announced = [e for e in effects if not isinstance(e, EventIgnored)]
    assert [summary(e) for e in announced] == expected
    ignored = [e for e in effects if isinstance(e, EventIgnored)]
    assert ignored and all(e.reason == "other_account" for e in ignored)


def test_account_a_state_at_the_end_of_the_day(
    day: dict[int, tuple[AccountState, list[Effect]]],
) -> None:
    state, _ = day[A]
    assert (state.name, state.balance, state.can_trade) == ("50KTC-A", 50_000.0, True)
    assert state.positions == {}
    # gross 98.75 - 25 - 10 + 25 + 100; fees 10 counted fills: 7 x 0.37 + 0.74 + 1.11 + 0.74
    assert state.metrics == DayMetrics(net_pnl=183.57, consecutive_losses=0, trades=5, fees=5.18)
    assert [f.id for f in state.closing_fills] == [3, 5, 8, 10, 11]
    assert state.fills[6].voided
    assert state.book(MES).open is None
    assert sum(t.net_pnl for t in state.announced.values()) == pytest.approx(state.net_pnl)


def test_account_b_state_at_the_end_of_the_day(
    day: dict[int, tuple[AccountState, list[Effect]]],
) -> None:
    state, _ = day[B]
    assert (state.balance, state.can_trade) == (49_993.15, False)
    assert state.positions == {MES: Position(MES, -1, 5990.0, DAY + 3000)}
    # gross 30 - 35, fees 5 x 0.37; the last close lost 35.37
    assert state.metrics == DayMetrics(net_pnl=-6.85, consecutive_losses=1, trades=2, fees=1.85)
    still_open = state.book(MES).open
    assert still_open is not None and still_open.position == -1
    assert [leg.fill.id for leg in still_open.entries] == [25]


@pytest.mark.parametrize("account_id", [A, B])
def test_replaying_every_event_again_changes_nothing(
    day: dict[int, tuple[AccountState, list[Effect]]], account_id: int
) -> None:
    state, _ = day[account_id]
    again, effects = run(state, SCRIPT)
    assert again == state
    assert all(isinstance(e, EventIgnored) for e in effects)


def _snapshot(
    account_id: int, upto: int | None = None
) -> tuple[list[TradeEvent], list[OrderEvent]]:
    events = SCRIPT[:upto]
    latest = {
        e.fill.id: e for e in events if isinstance(e, TradeEvent) and e.account_id == account_id
    }
    orders = [e for e in events if isinstance(e, OrderEvent) and e.account_id == account_id]
    return list(latest.values()), orders


@pytest.mark.parametrize("account_id", [A, B])
def test_a_rest_snapshot_alone_gives_the_same_day(
    day: dict[int, tuple[AccountState, list[Effect]]], account_id: int
) -> None:
    state, effects = day[account_id]
    fills, orders = _snapshot(account_id)
    positions = [e for e in SCRIPT if isinstance(e, PositionEvent) and e.account_id == account_id]
    got, got_effects = reconcile(fresh(account_id), positions[-1:], fills, orders)
    assert got.announced.keys() == state.announced.keys()
    assert got.metrics == state.metrics
    assert got.positions == state.positions
    closed = [e for e in effects if isinstance(e, RoundTripClosed)]
    assert sorted(map(summary, got_effects)) == sorted(map(summary, closed))
    # the hub then delivers the same fills again: nothing new
    _, later = run(got, [e for e in SCRIPT if isinstance(e, TradeEvent)])
    assert all(isinstance(e, EventIgnored) for e in later)


def test_a_reconcile_after_a_disconnect_announces_what_the_hub_missed() -> None:
    exit_fill = SCRIPT.index(trade(3, A, 1003, 900, SELL, 2, 6010.00, pnl=98.75))
    missed = [e for e in SCRIPT[: exit_fill + 1] if e is not SCRIPT[exit_fill]]
    state, effects = run(fresh(A), missed)
    assert not [e for e in effects if isinstance(e, RoundTripClosed)]
    fills, orders = _snapshot(A, exit_fill + 1)
    state, effects = reconcile(state, [], fills, orders)
    assert [summary(e) for e in effects] == EXPECTED_A[:1]
    assert state.positions == {}
    state, effects = reconcile(state, [], fills, orders)  # twice: nothing new
    assert effects == ()


def test_a_void_after_the_announcement_revokes_the_round_trip() -> None:
    target = trade(3, A, 1003, 900, SELL, 2, 6010.00, pnl=98.75)
    state, _ = run(fresh(A), SCRIPT[: SCRIPT.index(target) + 1])
    (trip,) = state.announced.values()
    state, effects = reduce(state, trade(3, A, 1003, 900, SELL, 2, 6010.00, 98.75, voided=True))
    assert effects == (RoundTripRevoked(trip),)
    assert state.announced == {}
    assert state.metrics.trades == 0
    assert state.book(MES).open is not None  # the entry is open again as far as fills say
    # a snapshot taken before the void cannot revive the fill
    state, effects = reconcile(state, [], [trade(3, A, 1003, 900, SELL, 2, 6010.00, 98.75)])
    assert effects == ()
    assert state.fills[3].voided


def test_a_close_of_a_position_opened_before_the_known_fills_is_reported_once() -> None:
    lone = trade(40, A, 1040, 60, SELL, 1, 6000.0, pnl=12.5)
    state, effects = reduce(fresh(A), lone)
    assert effects == (CloseWithoutEntry(lone.named("main")),)
    assert state.metrics.net_pnl == 12.13  # it still counts for the day's P&L
    state, effects = reconcile(state, [], [lone])
    assert effects == ()


def test_start_day_forgets_settled_history_and_keeps_the_open_round_trip(
    day: dict[int, tuple[AccountState, list[Effect]]],
) -> None:
    state, _ = day[B]
    tomorrow = start_day(state, DAY + 86_400)
    assert set(tomorrow.fills) == {25}  # the open short's entry
    assert set(tomorrow.orders) == {2005, 2006}  # its order and the working stop
    assert tomorrow.announced == {}
    assert tomorrow.metrics == DayMetrics()
    closing = trade(26, B, 2006, 86_400 + 60, BUY, 1, 5980.0, pnl=50.0)
    tomorrow, effects = reduce(tomorrow, closing)
    (closed,) = effects
    assert isinstance(closed, RoundTripClosed)
    assert closed.trip.key.startswith("202:CON.F.US.MES.Z25:25:26:")
    assert closed.trip.net_pnl == 49.26
    assert tomorrow.metrics.net_pnl == 49.63  # the entry's fee belongs to yesterday


def test_a_position_update_with_size_zero_removes_the_position() -> None:
    state, _ = reduce(fresh(A), PositionEvent(1, A, MES, DAY, SHORT, 3, 6000.0))
    assert state.positions[MES].size == -3
    state, _ = reduce(state, replace(PositionEvent(1, A, MES, DAY, SHORT, 3, 6000.0), size=0))
    assert state.positions == {}
