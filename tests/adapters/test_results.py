"""`trade_result_row`: the `trade_results` columns and values of a round trip, exactly as
the previous bot's table has them (raw fills in the gateway's field names and codes)."""

from __future__ import annotations

from adapters.supabase.results import trade_result_row
from engine.model import OrderType, Side
from engine.risk import Fill
from engine.round_trips import Leg, RoundTrip
from tests.adapters.test_outbox import ROWS

FIRST = {
    "result_key": "101:CON.F.US.MES.Z25:1:3:0ec495b8",
    "strategy": "reduction_trigger",
    "signal": "BUY",
    "symbol": "MES",
    "account": "main",
    "size": 2,
    "ai_decision_id": "rt-main-MES-20250616T2205Z",
    "entry_time": "2025-06-16T22:05:00Z",
    "exit_time": "2025-06-16T22:15:00Z",
    "duration_sec": 600.0,
    "alert": "BUY 2 MES closed by target",
    "total_pnl": 97.27,
    "raw_trades": [
        {
            "id": 1,
            "accountId": 101,
            "contractId": "CON.F.US.MES.Z25",
            "creationTimestamp": "2025-06-16T22:05:00Z",
            "price": 6000.0,
            "profitAndLoss": None,
            "fees": 0.37,
            "side": 0,
            "size": 1,
            "voided": False,
            "orderId": 1001,
            "role": "entry",
            "legSize": 1,
        },
        {
            "id": 2,
            "accountId": 101,
            "contractId": "CON.F.US.MES.Z25",
            "creationTimestamp": "2025-06-16T22:05:01Z",
            "price": 6000.25,
            "profitAndLoss": None,
            "fees": 0.37,
            "side": 0,
            "size": 1,
            "voided": False,
            "orderId": 1001,
            "role": "entry",
            "legSize": 1,
        },
        {
            "id": 3,
            "accountId": 101,
            "contractId": "CON.F.US.MES.Z25",
            "creationTimestamp": "2025-06-16T22:15:00Z",
            "price": 6010.0,
            "profitAndLoss": 98.75,
            "fees": 0.74,
            "side": 1,
            "size": 2,
            "voided": False,
            "orderId": 1003,
            "role": "exit",
            "legSize": 2,
        },
    ],
    "order_id": "1001",
    "comment": "CON.F.US.MES.Z25 entry 6000.1250 exit 6010.0000 gross 98.75 fees 1.48 net 97.27",
    "trade_ids": "1,2,3",
}


def test_a_round_trips_row_column_by_column() -> None:
    assert ROWS[0] == FIRST
    assert list(ROWS[0]) == list(FIRST)  # the column order of the insert, too


def test_every_row_of_the_scripted_day_names_its_exit_and_codes_its_sides() -> None:
    got = [(row["alert"], [(t["id"], t["role"], t["side"]) for t in row["raw_trades"]])
           for row in ROWS]  # fmt: skip
    assert got == [
        ("BUY 2 MES closed by target", [(1, "entry", 0), (2, "entry", 0), (3, "exit", 1)]),
        ("SELL 1 MES closed by stop", [(4, "entry", 1), (5, "exit", 0)]),
        ("BUY 1 MES closed by stop", [(7, "entry", 0), (8, "exit", 1)]),
        ("SELL 1 MES closed by market", [(9, "entry", 1), (10, "exit", 0)]),
        ("BUY 2 MES closed by target", [(10, "entry", 0), (11, "exit", 1)]),
        ("BUY 2 MES closed by stop",
         [(21, "entry", 0), (22, "entry", 0), (23, "exit", 1), (24, "exit", 1)]),
    ]  # fmt: skip
    assert all(type(t["side"]) is int for row in ROWS for t in row["raw_trades"])


def _trip(exit_type: OrderType | None) -> RoundTrip:
    entry = Fill(1, "main", "CON.F.US.MES.Z25", 0.0, 6000.0, None, 0.37, Side.SELL, 1, False, 7)
    exit_ = Fill(2, "main", "CON.F.US.MES.Z25", 60.0, 5990.0, 50.0, 0.37, Side.BUY, 1, False, 8)
    return RoundTrip(
        key="k", account="main", account_id=7, contract="CON.F.US.MES.Z25", symbol="MES",
        side=Side.SELL, size=1, entries=(Leg(entry, 1, 0.0, 0.37),),
        exits=(Leg(exit_, 1, 50.0, 0.37),), entry_price=6000.0, exit_price=5990.0,
        gross_pnl=50.0, fees=0.74, net_pnl=49.26, tag=None, exit_order_type=exit_type,
    )  # fmt: skip


def test_how_a_round_trip_ended_is_named_by_its_exit_orders_type() -> None:
    alerts = {kind: trade_result_row(_trip(kind))["alert"] for kind in (*OrderType, None)}
    assert alerts == {
        OrderType.UNKNOWN: "SELL 1 MES closed by other",
        OrderType.LIMIT: "SELL 1 MES closed by target",
        OrderType.MARKET: "SELL 1 MES closed by market",
        OrderType.STOP_LIMIT: "SELL 1 MES closed by stop",
        OrderType.STOP: "SELL 1 MES closed by stop",
        OrderType.TRAILING_STOP: "SELL 1 MES closed by stop",
        OrderType.JOIN_BID: "SELL 1 MES closed by other",
        OrderType.JOIN_ASK: "SELL 1 MES closed by other",
        None: "SELL 1 MES closed by unknown",
    }
