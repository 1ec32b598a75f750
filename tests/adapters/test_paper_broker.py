"""`PaperBroker`: fills at the next minute's open, the OCO bracket, gates as live."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adapters.paper import PaperBroker, PaperConfig, PaperPosition, PaperTrade
from adapters.paper.trades import trade_record
from engine.execution import PlaceEntry, entry_tag
from engine.model import Bar1m, MarketState, PositionContext, Side
from engine.ports import ContextProvider, Executor
from engine.products import PRODUCTS, Product
from engine.risk import DayMetrics, RiskLimits

CDT = timezone(timedelta(hours=-5))
T = int(datetime(2025, 6, 16, 10, 0, tzinfo=CDT).timestamp())  # Monday, mid-session
CONTRACT = "CON.F.US.MES.U25"


def minute(at: int, o: float, h: float, lo: float, c: float, symbol: str = "MES") -> Bar1m:
    return Bar1m(symbol, at, o, h, lo, c, 100.0)


def flat(at: int, price: float = 6000.0, symbol: str = "MES") -> Bar1m:
    return minute(at, price, price + 1.0, price - 1.0, price, symbol)


def entry(at: int = T, side: Side = Side.BUY, account: str = "acct", tag: str = "") -> PlaceEntry:
    tag = tag or entry_tag(account, "MES", at)
    return PlaceEntry(account, "MES", CONTRACT, side, 1, tag, at)


async def submit(broker: PaperBroker, e: PlaceEntry) -> None:
    await broker.submit(e, MarketState(e.symbol, e.at, (), ()))


async def context(broker: PaperBroker, account: str = "acct") -> PositionContext:
    return await broker.context(account, "MES")


async def round_trip(broker: PaperBroker, at: int, win: bool, account: str = "acct") -> None:
    """A long entered at `at` (open 6000) and closed by the next minute at its level."""
    await submit(broker, entry(at, account=account))
    broker.on_minute(flat(at))
    if win:
        broker.on_minute(minute(at + 60, 6000.0, 6020.0, 5999.0, 6019.0))
    else:
        broker.on_minute(minute(at + 60, 6000.0, 6001.0, 5990.0, 5991.0))


# -- fills and the bracket -----------------------------------------------------------------


def test_satisfies_the_ports() -> None:
    broker = PaperBroker()
    contexts: ContextProvider = broker
    executor: Executor = broker
    assert contexts is executor


async def test_entry_fills_at_the_open_of_the_next_minute() -> None:
    broker = PaperBroker()
    broker.on_minute(flat(T - 60, 5990.0))  # the minute that closed the bucket at T
    await submit(broker, entry())
    assert broker.positions() == () and len(broker.pending()) == 1
    broker.on_minute(minute(T, 6000.25, 6002.0, 5999.0, 6001.0))
    assert broker.pending() == ()
    assert broker.positions() == (
        PaperPosition("acct", "MES", CONTRACT, Side.BUY, 1, entry().tag, 1, T, 6000.25,
                      stop=5990.25, target=6020.25),
    )  # fmt: skip
    assert [(f.at, f.price, f.pnl, f.fees, f.side) for f in broker.fills("acct")] == [
        (T, 6000.25, None, 0.37, Side.BUY)
    ]


async def test_minute_already_given_before_the_decision_fills_on_submit() -> None:
    broker = PaperBroker()
    broker.on_minute(flat(T, 6000.0))  # first minute of the next bucket closed the one at T
    await submit(broker, entry())
    assert [p.entry_price for p in broker.positions()] == [6000.0]
    broker.on_minute(flat(T + 60, 6001.0))
    assert len(broker.positions()) == 1


LONG, SHORT = Side.BUY, Side.SELL
CLOSED_BY = {LONG: SHORT, SHORT: LONG}  # the side of the fill that closes each


@pytest.mark.parametrize(
    ("side", "bar", "reason", "exit_price", "gross"),
    [
        pytest.param(LONG, (6001, 6020, 5995, 6010), "target", 6020.0, 100.0, id="long_target"),
        pytest.param(LONG, (5999, 6005, 5990, 5992), "stop", 5990.0, -50.0, id="long_stop"),
        pytest.param(SHORT, (5999, 6001, 5980, 5985), "target", 5980.0, 100.0, id="short_target"),
        pytest.param(SHORT, (6001, 6010, 5995, 6005), "stop", 6010.0, -50.0, id="short_stop"),
        pytest.param(LONG, (6000, 6020, 5990, 6000), "stop", 5990.0, -50.0, id="both_long"),
        pytest.param(SHORT, (6000, 6010, 5980, 6000), "stop", 6010.0, -50.0, id="both_short"),
    ],
)
async def test_bracket_exits(
    side: Side, bar: tuple[float, float, float, float], reason: str, exit_price: float, gross: float
) -> None:
    broker = PaperBroker()
    await submit(broker, entry(side=side))
    broker.on_minute(flat(T, 6000.0))  # fills at 6000, touches nothing
    broker.on_minute(flat(T + 60, 6000.0))
    broker.on_minute(minute(T + 120, *bar))
    assert broker.trades == (
        PaperTrade("acct", "MES", side, 1, T, 6000.0, T + 120, exit_price, reason,
                   -40 if reason == "stop" else 80, gross, 0.74, round(gross - 0.74, 2),
                   entry_tag("acct", "MES", T)),
    )  # fmt: skip
    assert broker.positions() == ()
    closing = broker.fills("acct")[-1]
    assert (closing.pnl, closing.fees, closing.side) == (gross, 0.37, CLOSED_BY[side])
    assert closing.price == exit_price


async def test_fill_minute_itself_can_exit_after_the_open() -> None:
    broker = PaperBroker()
    await submit(broker, entry())
    broker.on_minute(minute(T, 6000.0, 6000.5, 5989.0, 5990.0))
    assert [(t.entry_time, t.exit_time, t.exit_reason) for t in broker.trades] == [(T, T, "stop")]


async def test_minutes_of_other_symbols_and_earlier_minutes_do_not_touch_a_position() -> None:
    broker = PaperBroker()
    await submit(broker, entry())
    broker.on_minute(flat(T, 6000.0))
    broker.on_minute(minute(T + 60, 6000.0, 7000.0, 5000.0, 6000.0, symbol="MNQ"))
    broker.on_minute(minute(T - 60, 6000.0, 7000.0, 5000.0, 6000.0))  # out of order, before
    assert broker.trades == () and len(broker.positions()) == 1


async def test_size_scales_pnl_and_fees() -> None:
    broker = PaperBroker()
    await broker.submit(
        PlaceEntry("acct", "MES", CONTRACT, Side.BUY, 3, "t", T), MarketState("MES", T, (), ())
    )
    broker.on_minute(flat(T, 6000.0))
    broker.on_minute(minute(T + 60, 6000.0, 6020.0, 5999.0, 6019.0))
    (trade,) = broker.trades
    assert (trade.gross, trade.fees, trade.net) == (300.0, 2.22, 297.78)


# -- one position per account, idempotent tags -------------------------------------------


async def test_pending_entry_blocks_a_second_entry() -> None:
    broker = PaperBroker()
    await submit(broker, entry())
    assert await context(broker) == PositionContext("acct", position_open=True)
    assert await context(broker, "other") == PositionContext("other")
    await submit(broker, entry(T + 300, side=Side.SELL))
    assert broker.counts["refused_busy"] == 1 and len(broker.pending()) == 1
    broker.on_minute(flat(T, 6000.0))
    assert (await context(broker)).position_open
    await submit(broker, entry(T + 300))
    assert broker.counts["refused_busy"] == 2 and len(broker.positions()) == 1


async def test_duplicate_tag_is_ignored_and_counted() -> None:
    broker = PaperBroker()
    await submit(broker, entry())
    await submit(broker, entry())
    broker.on_minute(flat(T, 6000.0))
    await submit(broker, entry())
    assert broker.counts["duplicate"] == 2 and broker.counts["submitted"] == 1
    assert len(broker.positions()) == 1 and len(broker.fills("acct")) == 1


def test_invalid_entry_fails_fast() -> None:
    with pytest.raises(ValueError, match="invalid entry"):
        PaperBroker().place(PlaceEntry("acct", "MES", CONTRACT, 2, 1, "t", T))


# -- account gates, as live ----------------------------------------------------------------


async def test_loss_streak_closes_the_gate() -> None:
    broker = PaperBroker()
    for i in range(2):
        await round_trip(broker, T + 600 * i, win=False)
    assert await context(broker) == PositionContext("acct")
    await round_trip(broker, T + 1200, win=False)
    assert await context(broker) == PositionContext(
        "acct", gate_open=False, gate_reason="consecutive_losses"
    )
    assert broker.metrics("acct") == DayMetrics(-152.22, 3, 3, 2.22)
    assert await context(broker, "other") == PositionContext("other")


async def test_a_win_resets_the_streak() -> None:
    broker = PaperBroker()
    for i, win in enumerate([False, False, True, False, False]):
        await round_trip(broker, T + 600 * i, win)
    assert broker.metrics("acct") == DayMetrics(-103.7, 2, 5, 3.7)
    assert (await context(broker)).gate_open


async def test_daily_loss_limit_closes_the_gate() -> None:
    config = PaperConfig(stop_ticks=400, limits=RiskLimits(max_consecutive_losses=0))
    broker = PaperBroker(config)
    await submit(broker, entry())
    broker.on_minute(flat(T, 6000.0))
    broker.on_minute(minute(T + 60, 6000.0, 6001.0, 5900.0, 5901.0))
    assert broker.metrics("acct").net_pnl == -500.74
    assert await context(broker) == PositionContext(
        "acct", gate_open=False, gate_reason="daily_loss_limit"
    )


async def test_profit_target_closes_the_gate() -> None:
    broker = PaperBroker(PaperConfig(limits=RiskLimits(daily_profit_target=198.52)))
    await round_trip(broker, T, win=True)
    assert (await context(broker)).gate_open
    await round_trip(broker, T + 600, win=True)
    assert await context(broker) == PositionContext(
        "acct", gate_open=False, gate_reason="daily_profit_target"
    )


async def test_new_trading_day_at_17_ct_resets_the_gate() -> None:
    broker = PaperBroker()
    for i in range(3):
        await round_trip(broker, T + 600 * i, win=False)
    last_minute = int(datetime(2025, 6, 16, 15, 59, tzinfo=CDT).timestamp())
    broker.on_minute(flat(last_minute))
    assert (await context(broker)).gate_reason == "consecutive_losses"
    broker.on_minute(flat(last_minute + 61 * 60))  # 17:00 CDT, the next trading day
    assert await context(broker) == PositionContext("acct")
    assert broker.metrics("acct") == DayMetrics(0.0, 0, 0, 0.0)
    assert len(broker.fills("acct")) == 6  # history is kept, only the day's metrics reset


async def test_round_trip_across_17_ct_splits_fees_like_live() -> None:
    broker = PaperBroker()
    before = int(datetime(2025, 6, 16, 15, 59, tzinfo=CDT).timestamp())
    await submit(broker, entry(before))
    broker.on_minute(flat(before, 6000.0))
    broker.on_minute(minute(before + 61 * 60, 6000.0, 6001.0, 5990.0, 5995.0))  # 17:00
    assert broker.metrics("acct") == DayMetrics(-50.37, 1, 1, 0.37)


# -- results -------------------------------------------------------------------------------


async def test_summary_counts_and_drawdown_and_leaves_open_positions_open() -> None:
    broker = PaperBroker()
    for i, win in enumerate([True, False, False, True]):
        await round_trip(broker, T + 600 * i, win)
    await round_trip(broker, T + 2400, win=False, account="b")
    await submit(broker, entry(T + 3000))
    broker.on_minute(flat(T + 3000))
    await submit(broker, entry(T + 3600, account="c"))
    await submit(broker, entry(T + 3600, account="c"))
    summary = broker.summary()
    assert {k: summary[k] for k in ("trades", "wins", "losses", "gross", "fees", "net")} == {
        "trades": 5, "wins": 2, "losses": 3, "gross": 50.0, "fees": 3.7, "net": 46.3,
    }  # fmt: skip
    assert summary["max_drawdown"] == 101.48  # from the first win (99.26) to -2.22
    assert summary["accounts"] == {
        "acct": {"trades": 4, "wins": 2, "losses": 2, "gross": 100.0, "fees": 2.96, "net": 97.04,
                 "max_drawdown": 101.48},
        "b": {"trades": 1, "wins": 0, "losses": 1, "gross": -50.0, "fees": 0.74, "net": -50.74,
              "max_drawdown": 50.74},
    }  # fmt: skip
    assert (summary["entries"], summary["duplicates"], summary["refused_busy"]) == (7, 1, 0)
    open_positions, pending = summary["open_positions"], summary["pending_entries"]
    assert isinstance(open_positions, list) and isinstance(pending, list)
    assert [(p["account"], p["entry_time"]) for p in open_positions] == [("acct", T + 3000)]
    assert [(e["account"], e["tag"]) for e in pending] == [("c", entry(T + 3600, account="c").tag)]
    assert [p["side"] for p in open_positions] == [e["side"] for e in pending] == ["buy"]


async def test_empty_broker() -> None:
    broker = PaperBroker()
    assert await context(broker) == PositionContext("acct")
    assert broker.summary()["trades"] == 0 and broker.summary()["max_drawdown"] == 0.0


async def run_session(seed: int) -> tuple[tuple[PaperTrade, ...], dict[str, object]]:
    rng = random.Random(seed)
    broker = PaperBroker(PaperConfig(stop_ticks=8, target_ticks=16))
    price = 6000.0
    for i in range(2000):
        at = T + 60 * i
        if i % 5 == 0:
            for account in ("a", "b"):
                ctx = await broker.context(account, "MES")
                if not ctx.position_open and ctx.gate_open:
                    await submit(broker, entry(at, rng.choice([Side.BUY, Side.SELL]), account))
        step = rng.choice([-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0])
        o, c = price, price + step
        high = max(o, c) + rng.choice([0.0, 0.25, 1.0, 3.0])
        low = min(o, c) - rng.choice([0.0, 0.25, 1.0, 3.0])
        broker.on_minute(minute(at, o, high, low, c))
        price = c
    return broker.trades, broker.summary()


async def test_deterministic() -> None:
    first, second = await run_session(7), await run_session(7)
    assert first == second and len(first[0]) > 10
    assert first[1]["trades"] == len(first[0])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stop_ticks": 0},
        {"target_ticks": -1},
        {"market_tz": "Mars/Olympus"},
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises((ValueError, KeyError)):
        PaperConfig(**kwargs)


# -- what it logs --------------------------------------------------------------------------


@pytest.mark.parametrize("log_trades", [True, False])
async def test_fills_and_exits_are_logged_only_when_asked(log_trades: bool) -> None:
    broker = PaperBroker(log_trades=log_trades)
    with capture_logs() as logs:
        await submit(broker, entry(side=Side.SELL))
        broker.on_minute(flat(T, 6000.0))
        broker.on_minute(minute(T + 60, 5999.0, 6001.0, 5980.0, 5985.0))  # short target
    if not log_trades:
        assert logs == []  # a replay: trades.jsonl is the record, stdout stays quiet
        return
    tag = entry_tag("acct", "MES", T)
    fill, exit_ = logs
    assert fill == {
        "event": "paper_fill", "log_level": "info", "account": "acct", "symbol": "MES",
        "side": "sell", "price": 6000.0, "size": 1, "at": "2025-06-16T15:00:00Z",
        "stop": 6010.0, "target": 5980.0, "tag": tag,
    }  # fmt: skip
    assert exit_ == {
        "event": "paper_exit", "log_level": "info", "account": "acct", "symbol": "MES",
        "side": "sell", "size": 1, "entry_time": "2025-06-16T15:00:00Z", "entry_price": 6000.0,
        "exit_time": "2025-06-16T15:01:00Z", "exit_price": 5980.0, "exit_reason": "target",
        "ticks": 80, "gross": 100.0, "fees": 0.74, "net": 99.26, "duration_s": 60, "tag": tag,
        "day_net": 99.26,
    }  # fmt: skip
    assert broker.totals() == {
        "trades": 1, "wins": 1, "losses": 0, "gross": 100.0, "fees": 0.74, "net": 99.26,
        "max_drawdown": 0.0, "open_positions": 0, "pending_entries": 0,
    }  # fmt: skip


# -- money by product ----------------------------------------------------------------------


async def test_ticks_are_valued_by_the_symbols_product() -> None:
    """ES: 40 ticks of 0.25 = 10 points, $12.50 a tick, $1.40 a side (MES: $1.25, $0.37)."""
    broker = PaperBroker()
    es = PlaceEntry("acct", "ES", "CON.F.US.EP.U25", Side.BUY, 2, "t-es", T)
    await broker.submit(es, MarketState("ES", T, (), ()))
    broker.on_minute(flat(T, symbol="ES"))
    broker.on_minute(minute(T + 60, 6000.0, 6001.0, 5989.0, 5990.0, symbol="ES"))
    (trade,) = broker.trades
    assert (trade.exit_reason, trade.exit_price, trade.ticks) == ("stop", 5990.0, -40)
    assert (trade.gross, trade.fees, trade.net) == (-1000.0, 5.6, -1005.6)


async def test_a_product_of_the_config_overrides_the_table() -> None:
    products = {**PRODUCTS, "MES": Product("MES", 0.25, 1.25, 0.5)}
    broker = PaperBroker(PaperConfig(products=products))
    await round_trip(broker, T, win=True)
    assert broker.trades[0].fees == 1.0


async def test_a_symbol_without_a_product_is_refused() -> None:
    broker = PaperBroker()
    odd = PlaceEntry("acct", "ZZ", "CON.F.US.ZZ.U25", Side.BUY, 1, "t-zz", T)
    with pytest.raises(ValueError, match="no tick size and tick value for ZZ"):
        await broker.submit(odd, MarketState("ZZ", T, (), ()))


async def test_a_trades_file_gets_a_line_at_each_exit(tmp_path: Path) -> None:
    """Live with OUT_DIR: trades.jsonl grows as trades close (emptied at the start)."""
    path = tmp_path / "out" / "trades.jsonl"
    path.parent.mkdir()
    path.write_text("an earlier run's line\n")
    broker = PaperBroker(trades_file=path)
    assert path.read_bytes() == b""
    await round_trip(broker, T, win=True)
    await round_trip(broker, T + 600, win=False)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [json.loads(json.dumps(trade_record(t))) for t in broker.trades]
    assert [line["exit_reason"] for line in lines] == ["target", "stop"]
