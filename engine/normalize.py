"""Raw `tv_datafeed` row -> `Bar1m` or `Rejection`.

Every rule a row can break is checked explicitly and named by its reason code; a row
that breaks none is a bar. Bad input never raises; a bug here does (it is not a row's
fault, and hiding it behind a rejection would hide it for good).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import datetime

from engine.model import Bar1m, Rejection

PRICE_FIELDS = (("o", "open"), ("h", "high"), ("l", "low"), ("c", "close"))
ONE_MINUTE_TIMEFRAMES = frozenset({"1", "1.0", "1m"})
MS_THRESHOLD = 10_000_000_000  # epoch values above this are milliseconds
LAST_INSTANT = 253_402_300_800.0  # 10000-01-01: later (or before 1970) is no bar's time


def normalize_row(
    row: Mapping[str, object],
    symbols: Collection[str] = (),
    tolerance_s: float = 50.0,
) -> Bar1m | Rejection:
    """One raw row (numbers may be text). `symbols` (upper case): the symbols served;
    empty = all. A row's symbol is compared and kept upper-cased: `mes` is MES.
    `tolerance_s`: a receipt later than this after the inferred bar's close is flagged
    ambiguous."""
    symbol = row.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        return Rejection("missing_field", "symbol")
    symbol = symbol.strip().upper()
    if symbols and symbol not in symbols:
        return Rejection("other_symbol", symbol, ignored=True)
    timeframe = _check_timeframe(row.get("timeframe"))
    if timeframe is not None:
        return timeframe
    prices = _prices(row)
    if isinstance(prices, Rejection):
        return prices
    volume = _volume(row.get("v"))
    if isinstance(volume, Rejection):
        return volume
    o, h, low, c = prices
    bar_time = row.get("bar_time")
    if bar_time is not None and not _empty(bar_time):
        return _bar_at(symbol, bar_time, row.get("ts"), (o, h, low, c, volume))
    return _bar_received(symbol, row.get("ts"), (o, h, low, c, volume), tolerance_s)


def _check_timeframe(timeframe: object) -> Rejection | None:
    """None for a 1-minute row; a rejection (or an ignored row) otherwise."""
    if isinstance(timeframe, str):
        if timeframe.strip() in ONE_MINUTE_TIMEFRAMES:
            return None
    elif isinstance(timeframe, int | float) and not isinstance(timeframe, bool) and timeframe == 1:
        return None
    if isinstance(timeframe, bool) or _empty(timeframe):
        return Rejection("missing_field", "timeframe")
    return Rejection("other_timeframe", str(timeframe)[:16], ignored=True)


def _prices(row: Mapping[str, object]) -> tuple[float, float, float, float] | Rejection:
    """o, h, l, c: each a positive finite number, and h the highest, l the lowest."""
    values = []
    for name, _ in PRICE_FIELDS:
        raw = row.get(name)
        value = _number(raw)
        if value is None:
            return Rejection("missing_field" if _empty(raw) else "unparsable_field", name)
        if not math.isfinite(value):
            return Rejection("non_finite_price", name)
        if value <= 0.0:
            return Rejection("non_positive_price", name)
        values.append(value)
    o, h, low, c = values
    if h < o or h < c or h < low:
        return Rejection("high_below_range", f"h={h}")
    if low > o or low > c:
        return Rejection("low_above_range", f"l={low}")
    return o, h, low, c


def _volume(raw: object) -> float | Rejection:
    """A missing volume is 0 (TradingView sends none for some symbols); else >= 0, finite."""
    if _empty(raw):
        return 0.0
    volume = _number(raw)
    if volume is None:
        return Rejection("unparsable_field", "v")
    if not math.isfinite(volume):
        return Rejection("non_finite_volume", "v")
    if volume < 0.0:
        return Rejection("negative_volume", "v")
    return volume


Ohlcv = tuple[float, float, float, float, float]


def _bar_at(symbol: str, bar_time: object, ts: object, ohlcv: Ohlcv) -> Bar1m | Rejection:
    """A row that names its bar (`bar_time`, the bar's open): that wins over `ts`."""
    open_time = _instant(bar_time)
    if open_time is None:
        return Rejection("unparsable_field", "bar_time")
    if open_time % 60:
        return Rejection("misaligned_bar_time", str(bar_time))
    received = None if _empty(ts) else _instant(ts)
    o, h, low, c, v = ohlcv
    return Bar1m(symbol, int(open_time), o, h, low, c, v, False, received)


def _bar_received(symbol: str, ts: object, ohlcv: Ohlcv, tolerance_s: float) -> Bar1m | Rejection:
    """The bar of the minute that ended at or before the receipt `ts`; flagged ambiguous
    when the receipt is more than `tolerance_s` after that close."""
    received = _instant(ts)
    if received is None:
        return Rejection("missing_field" if _empty(ts) else "unparsable_field", "ts")
    open_time = int(received // 60) * 60 - 60
    ambiguous = received - (open_time + 60) > tolerance_s
    o, h, low, c, v = ohlcv
    return Bar1m(symbol, open_time, o, h, low, c, v, ambiguous, received)


def _empty(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _number(raw: object) -> float | None:
    """A float from a JSON number or its text; None for anything else (bools included)."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return float(raw)  # type: ignore[arg-type]  # anything else is a TypeError
    except (TypeError, ValueError, OverflowError):
        return None


def _instant(raw: object) -> float | None:
    """Epoch seconds from an aware datetime, ISO 8601 text with an offset, or epoch s/ms.
    A naive time is ambiguous about its zone: refused (None) rather than guessed."""
    moment: datetime | None = None
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, str) and not _numeric_text(raw):
        try:
            moment = datetime.fromisoformat(raw.strip())
        except ValueError:
            return None
    if moment is not None:
        return _plausible(moment.timestamp()) if moment.tzinfo is not None else None
    number = _number(raw)
    if number is None or not math.isfinite(number):
        return None
    return _plausible(number / 1000.0 if abs(number) >= MS_THRESHOLD else number)


def _plausible(t: float) -> float | None:
    return t if 0.0 <= t < LAST_INSTANT else None


def _numeric_text(text: str) -> bool:
    return text.strip().lstrip("-").replace(".", "", 1).isdigit()
