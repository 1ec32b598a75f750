"""Paper round trips: the record of one (trades.jsonl, `paper_exit`) and their totals."""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.model import Side
from engine.timefmt import iso


@dataclass(frozen=True, slots=True)
class PaperTrade:
    """One round trip. Times epoch s UTC, prices in points, money in USD."""

    account: str
    symbol: str
    side: Side  # side of the entry
    size: int
    entry_time: int
    entry_price: float
    exit_time: int  # open time of the minute that touched the stop or target
    exit_price: float
    exit_reason: str  # "stop" or "target"
    ticks: int  # per contract: -stop_ticks or +target_ticks
    gross: float  # ticks * tick_value * size
    fees: float  # 2 * fee_per_side * size
    net: float
    tag: str  # the entry's idempotency tag (customTag live)


def trade_record(trade: PaperTrade) -> dict[str, object]:
    """One round trip as a trades.jsonl line and the `paper_exit` log fields. Times ISO
    8601 UTC, prices in points, money in USD, `duration_s` from fill to exit minute."""
    return {
        "account": trade.account,
        "symbol": trade.symbol,
        "side": trade.side.value,  # buy or sell, as the order lines name it
        "size": trade.size,
        "entry_time": iso(trade.entry_time),
        "entry_price": trade.entry_price,
        "exit_time": iso(trade.exit_time),
        "exit_price": trade.exit_price,
        "exit_reason": trade.exit_reason,
        "ticks": trade.ticks,
        "gross": trade.gross,
        "fees": trade.fees,
        "net": trade.net,
        "duration_s": trade.exit_time - trade.entry_time,
        "tag": trade.tag,
    }


def money(x: float) -> float:
    return round(x, 2) + 0.0  # cents; + 0.0 turns -0.0 into 0.0


def stats(trades: list[PaperTrade]) -> dict[str, object]:
    peak = equity = drawdown = 0.0
    for trade in trades:
        equity += trade.net
        peak = max(peak, equity)
        drawdown = max(drawdown, peak - equity)
    return {
        "trades": len(trades),
        "wins": sum(1 for t in trades if t.net > 0),
        "losses": sum(1 for t in trades if t.net < 0),
        "gross": money(math.fsum(t.gross for t in trades)),
        "fees": money(math.fsum(t.fees for t in trades)),
        "net": money(math.fsum(t.net for t in trades)),
        "max_drawdown": money(drawdown),
    }
