"""Raw `tv_datafeed` row -> `Bar1m` or `Rejection`. Never raises on bad input."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Final

from engine.model import Bar1m, Rejection

# Final: compiled, a module constant is a C static, not a dict lookup per use.
_PRICE_FIELDS: Final = ("o", "h", "l", "c")
_ONE_MINUTE_TIMEFRAMES: Final = frozenset({"1", "1.0", "1m"})
_MS_THRESHOLD: Final = 10_000_000_000  # epoch values above this are milliseconds
_INF: Final = float("inf")
_new: Final = tuple.__new__
_BAR1M: Final = Bar1m  # an imported name is a dict lookup per use; this is not


def normalize_row(
    row: Mapping[str, object],
    symbols: Collection[str] = (),
    tolerance_s: float = 50.0,
) -> Bar1m | Rejection:
    """Normalize one raw row (numbers may be strings). `symbols` (upper case) empty =
    accept all. A row's symbol is compared and kept upper-cased: `mes` is MES."""
    try:
        return normalize_fields(
            row.get("symbol"),
            row.get("timeframe"),
            row.get("ts"),
            row.get("o"),
            row.get("h"),
            row.get("l"),
            row.get("c"),
            row.get("v"),
            row.get("bar_time"),
            symbols,
            tolerance_s,
        )
    except Exception as exc:  # noqa: BLE001 -- bad input must never escape the engine
        return Rejection("unparsable_row", f"{type(exc).__name__}")


def normalize_fields(
    symbol: object,
    timeframe: object,
    ts: object,
    o: object,
    h: object,
    low: object,
    c: object,
    v: object,
    bar_time: object,
    symbols: Collection[str],
    tolerance_s: float,
) -> Bar1m | Rejection:
    if type(symbol) is not str or not (symbol := symbol.strip().upper()):
        return Rejection("missing_field", "symbol")
    if symbols and symbol not in symbols:
        return Rejection("other_symbol", symbol, ignored=True)
    if timeframe != "1" and (tf_reason := _check_timeframe(timeframe)) is not None:
        return tf_reason
    if type(o) is str and type(h) is str and type(low) is str and type(c) is str:
        # Fast path for text columns (CSV, PostgREST numeric): one float() each, then one
        # chained comparison that is False for NaN, inf, non-positive and broken ranges.
        try:
            po, ph, pl, pc = float(o), float(h), float(low), float(c)
            volume = float(v) if type(v) is str and v else None
        except ValueError:
            pass
        else:
            if (
                volume is not None
                and 0.0 < pl <= po <= ph < _INF
                and pl <= pc <= ph
                and 0.0 <= volume < _INF
            ):
                return _timed_bar(symbol, ts, bar_time, po, ph, pl, pc, volume, tolerance_s)
    elif (
        # Typed columns (JSON numbers, a columnar CSV reader): the same single comparison.
        type(o) is float
        and type(h) is float
        and type(low) is float
        and type(c) is float
        and type(v) is float
        and 0.0 < low <= o <= h < _INF
        and low <= c <= h
        and 0.0 <= v < _INF
    ):
        return _timed_bar(symbol, ts, bar_time, o, h, low, c, v, tolerance_s)
    return _checked_prices(symbol, ts, o, h, low, c, v, bar_time, tolerance_s)


def _checked_prices(
    symbol: str,
    ts: object,
    o: object,
    h: object,
    low: object,
    c: object,
    v: object,
    bar_time: object,
    tolerance_s: float,
) -> Bar1m | Rejection:
    """The careful path: finds which rule a row breaks (or accepts an unusual shape)."""
    prices = []
    for name, raw in zip(_PRICE_FIELDS, (o, h, low, c), strict=True):
        value = _number(raw)
        if value is None:
            return Rejection("missing_field" if _empty(raw) else "unparsable_field", name)
        if not math.isfinite(value):
            return Rejection("non_finite_price", name)
        if value <= 0.0:
            return Rejection("non_positive_price", name)
        prices.append(value)
    po, ph, pl, pc = prices
    if ph < po or ph < pc or ph < pl:
        return Rejection("high_below_range", f"h={ph}")
    if pl > po or pl > pc:
        return Rejection("low_above_range", f"l={pl}")
    volume = 0.0 if _empty(v) else _number(v)
    if volume is None:
        return Rejection("unparsable_field", "v")
    if not math.isfinite(volume):
        return Rejection("non_finite_volume", "v")
    if volume < 0.0:
        return Rejection("negative_volume", "v")
    return _timed_bar(symbol, ts, bar_time, po, ph, pl, pc, volume, tolerance_s)


def _timed_bar(
    symbol: str,
    ts: object,
    bar_time: object,
    o: object,
    h: object,
    low: object,
    c: object,
    v: object,
    tolerance_s: float,
) -> Bar1m | Rejection:
    """The bar of checked prices (floats; `object` so that compiled code passes the
    caller's float objects on instead of boxing new ones)."""
    if bar_time is not None and bar_time != "" and not _empty(bar_time):
        open_time = _instant(bar_time)
        if open_time is None:
            return Rejection("unparsable_field", "bar_time")
        if open_time % 60:
            return Rejection("misaligned_bar_time", str(bar_time))
        received = None if _empty(ts) else _instant(ts)
        return _new(_BAR1M, (symbol, int(open_time), o, h, low, c, v, False, received))
    if type(ts) is float and -_MS_THRESHOLD < ts < _MS_THRESHOLD:
        # Epoch seconds, as `_instant` reads a number this size: the caller's float object
        # is kept as the receipt (compiled, a `float` variable would box a new one).
        return _inferred_bar(symbol, ts, ts, o, h, low, c, v, tolerance_s)
    receipt: float | None = None
    if type(ts) is str:
        try:  # fast path: the database's own ISO 8601 rendering
            moment = datetime.fromisoformat(ts)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                receipt = moment.timestamp()
    if receipt is None:
        if _empty(ts):
            return Rejection("missing_field", "ts")
        receipt = _instant(ts)
    if receipt is None:
        return Rejection("unparsable_field", "ts")
    return _inferred_bar(symbol, receipt, receipt, o, h, low, c, v, tolerance_s)


def _inferred_bar(
    symbol: str,
    received: object,
    receipt: float,
    o: object,
    h: object,
    low: object,
    c: object,
    v: object,
    tolerance_s: float,
) -> Bar1m:
    """The bar of the minute that ended at or before `receipt` (epoch s; `received` is
    the same value as the object to keep)."""
    open_time = int(receipt // 60) * 60 - 60
    ambiguous = receipt - (open_time + 60) > tolerance_s
    # tuple.__new__ skips NamedTuple's Python-level __new__ (a third of a row's cost).
    return _new(_BAR1M, (symbol, open_time, o, h, low, c, v, ambiguous, received))


def _check_timeframe(timeframe: object) -> Rejection | None:
    if isinstance(timeframe, bool) or _empty(timeframe):
        return Rejection("missing_field", "timeframe")
    if isinstance(timeframe, int | float):
        if timeframe == 1:
            return None
    elif isinstance(timeframe, str) and timeframe.strip() in _ONE_MINUTE_TIMEFRAMES:
        return None
    return Rejection("other_timeframe", str(timeframe)[:16], ignored=True)


def _empty(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _number(raw: object) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, float):
        return raw
    if isinstance(raw, int | str):
        try:
            return float(raw)
        except (ValueError, OverflowError):
            return None
    return None


def _instant(raw: object) -> float | None:
    """Epoch seconds from an aware datetime, an ISO 8601 string or epoch s/ms."""
    if type(raw) is str:
        text = raw.strip()
        if not text.lstrip("-").replace(".", "", 1).isdigit():
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return None
            # A naive timestamp is ambiguous about its zone: refuse it rather than guess.
            return parsed.timestamp() if parsed.tzinfo is not None else None
    elif isinstance(raw, datetime):
        return raw.timestamp() if raw.tzinfo is not None else None
    number = _number(raw)
    if number is None or not math.isfinite(number):
        return None
    return number / 1000.0 if abs(number) >= _MS_THRESHOLD else number
