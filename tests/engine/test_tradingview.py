"""The engine against real TradingView exports of CME_MINI:ES1! (validation data only).

The CSVs live outside the repository (no licence to ship them): `../shared/data/
tradingview/` next to the checkout. Without that folder these tests are skipped.
"""

from __future__ import annotations

import csv
import math
import os
from datetime import datetime
from pathlib import Path

import pytest

from engine.aggregator import SymbolEngine
from engine.config import EngineConfig
from engine.indicators import Ema
from engine.model import Bar1m, ClosedBar

DATA = Path(
    os.environ.get("TRADINGVIEW_DATA")  # a clone elsewhere can point at the exports
    or Path(__file__).resolve().parents[3] / "shared" / "data" / "tradingview"
)
pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"TradingView exports not found at {DATA} (local validation data)"
)
REL = 1e-9  # README: the seeded EMA matches TradingView to ~1e-11

Row = dict[str, str]


def read(name: str) -> list[Row]:
    with (DATA / name).open(newline="") as f:
        return list(csv.DictReader(f))


def epoch(row: Row) -> int:
    """`time` is Unix seconds (2025 exports) or ISO 8601 with offset (2022 exports)."""
    text = row["time"]
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None
    return int(moment.timestamp())


def bar_of(row: Row, open_time: int) -> Bar1m:
    return Bar1m(
        "ES1", open_time, float(row["open"]), float(row["high"]), float(row["low"]),
        float(row["close"]), float(row["Volume"]),
    )  # fmt: skip


def engine_bars(rows: list[Row], config: EngineConfig) -> list[ClosedBar]:
    engine = SymbolEngine("ES1", config)
    closed: list[ClosedBar] = []
    for row in rows:
        t = epoch(row)
        _, states = engine.add(bar_of(row, t), t + 62.0)
        closed += [bar for state in states for bar in state.closed]
    closed += [bar for state in engine.flush() for bar in state.closed]
    return closed


# -- (a) 5/15/30m bars built from 1m equal TradingView's own 5/15/30m exports -----------------

ONE_MINUTE = {
    "2025": ("ES1_1m_tv_ohlcv_20250615-20250707.csv", True),  # last row may still be forming
    "2022": ("ES1_1m_tv_ema5-10-60_20220116-20220128.csv", False),
}


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[list[ClosedBar], int, int]]:
    """Per 1m file: engine bars, and the [first open, last close) the file covers."""
    out = {}
    for key, (name, drop_last) in ONE_MINUTE.items():
        rows = read(name)[:-1] if drop_last else read(name)
        out[key] = (engine_bars(rows, EngineConfig()), epoch(rows[0]), epoch(rows[-1]) + 60)
    return out


@pytest.mark.parametrize(
    ("source", "timeframe", "export", "at_least"),
    [
        ("2025", 5, "ES1_5m_tv_ohlcv_2025.csv", 4100),
        ("2025", 15, "ES1_15m_tv_ohlcv_2025.csv", 1360),
        ("2025", 30, "ES1_30m_tv_ohlcv_20230102-20250707.csv", 680),
        ("2022", 5, "ES1_5m_tv_ema5-10-60_20211205-20220128.csv", 2712),
    ],
)
def test_bars_from_1m_equal_tradingview_exports(
    built: dict[str, tuple[list[ClosedBar], int, int]],
    source: str,
    timeframe: int,
    export: str,
    at_least: int,
) -> None:
    bars, first, end = built[source]
    size = timeframe * 60
    ours = {
        b.open_time: (b.open, b.high, b.low, b.close, b.volume)
        for b in bars
        if b.timeframe == timeframe and first <= b.open_time and b.close_time <= end
    }
    theirs = {}
    for row in read(export):
        t = epoch(row)
        if first <= t and t + size <= end:  # bars the 1m file covers in full
            b = bar_of(row, t)
            theirs[t] = (b.open, b.high, b.low, b.close, b.volume)
    assert len(theirs) >= at_least
    assert sorted(ours) == sorted(theirs), (
        f"only ours: {sorted(set(ours) - set(theirs))[:5]}, "
        f"only TradingView's: {sorted(set(theirs) - set(ours))[:5]}"
    )
    wrong = [(t, ours[t], theirs[t]) for t in sorted(theirs) if ours[t] != theirs[t]]
    assert not wrong, f"{len(wrong)} of {len(theirs)} bars differ, first: {wrong[:3]}"


# -- (b) EMA against TradingView's plotted EMA(5), EMA(10), EMA(60) -------------------------

FIVE_MINUTE_EMA = "ES1_5m_tv_ema5-10-60_20211205-20220128.csv"


def _matches(ours: list[float | None], column: list[str], period: int) -> None:
    expected = [float(x) for x in column]
    assert len(ours) == len(expected)
    undefined = [i for i, x in enumerate(expected) if math.isnan(x)]
    assert undefined == list(range(period - 1))  # TradingView: na for the first n-1 bars
    assert [i for i, x in enumerate(ours) if x is None] == undefined
    wrong = [
        (i, got, want)
        for i, (got, want) in enumerate(zip(ours, expected, strict=True))
        if got is not None and not math.isclose(got, want, rel_tol=REL)
    ]
    assert not wrong, f"{len(wrong)} values differ, first: {wrong[:3]}"


def test_engine_ema60_on_5m_matches_tradingview() -> None:
    """5m bars fed as their final minute close at once; their EMA(60) is TradingView's."""
    rows = read(FIVE_MINUTE_EMA)
    config = EngineConfig(ema_period=60, warmup_bars=0)
    engine = SymbolEngine("ES1", config)
    five: list[ClosedBar] = []
    for row in rows:
        t = epoch(row)
        _, states = engine.add(bar_of(row, t + 240), t + 302.0)
        five += [b for s in states for b in s.closed if b.timeframe == 5]
    assert [b.open_time for b in five] == [epoch(r) for r in rows]
    assert [b.close for b in five] == [float(r["close"]) for r in rows]
    _matches([b.ema for b in five], [r["MA #3"] for r in rows], 60)
    warm = [
        (b.ema, float(r["MA #3"])) for b, r in zip(five, rows, strict=True) if b.bars_seen > 300
    ]
    assert len(warm) > 10_000
    assert all(math.isclose(got, want, rel_tol=1e-6) for got, want in warm)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("export", "period", "column"),
    [
        (FIVE_MINUTE_EMA, 5, "MA #1"),
        (FIVE_MINUTE_EMA, 10, "MA #2"),
        (FIVE_MINUTE_EMA, 60, "MA #3"),
        ("ES1_1m_tv_ema5-10-60_20220116-20220128.csv", 5, "MA #1"),
        ("ES1_1m_tv_ema5-10-60_20220116-20220128.csv", 10, "MA #2"),
        ("ES1_1m_tv_ema5-10-60_20220116-20220128.csv", 60, "MA #3"),
    ],
)
def test_ema_matches_tradingview(export: str, period: int, column: str) -> None:
    rows = read(export)
    ema = Ema(period)
    _matches([ema.update(float(r["close"])) for r in rows], [r[column] for r in rows], period)
