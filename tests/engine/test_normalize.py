"""Table tests of `normalize_row`: raw `tv_datafeed` row -> `Bar1m` or `Rejection`."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.model import Bar1m, Rejection
from engine.normalize import normalize_row

# Monday 2025-06-16 19:00 UTC: the bar's open; it closes at 19:01.
OPEN = int(datetime(2025, 6, 16, 19, 0, tzinfo=UTC).timestamp())
RECEIPT = "2025-06-16T19:01:03.5+00:00"
DROP = object()  # `row(name=DROP)` removes the key


def row(**changes: object) -> dict[str, object]:
    """A valid row; `name=DROP` removes a key."""
    base: dict[str, object] = {
        "ts": RECEIPT, "symbol": "MES", "timeframe": "1",
        "o": 6000.25, "h": 6001.0, "l": 5999.5, "c": 6000.75, "v": 120,
    }  # fmt: skip
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


def accepted(result: Bar1m | Rejection) -> Bar1m:
    assert isinstance(result, Bar1m), result
    return result


# -- accepted rows ---------------------------------------------------------------------------


def test_valid_row() -> None:
    assert normalize_row(row()) == Bar1m(
        "MES", OPEN, 6000.25, 6001.0, 5999.5, 6000.75, 120.0, ambiguous=False,
        received=OPEN + 63.5,
    )  # fmt: skip


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"o": "6000.25", "h": "6001", "l": "5999.5", "c": "6000.75", "v": "120"},
                     id="all_strings"),
        pytest.param({"o": " 6000.25 ", "v": "120.0"}, id="padded_string"),
        pytest.param({"h": 6001, "v": 120.0}, id="ints_and_floats"),
    ],
)  # fmt: skip
def test_numbers_may_be_strings(changes: dict[str, object]) -> None:
    assert normalize_row(row(**changes)) == normalize_row(row())


@pytest.mark.parametrize(
    ("v", "volume"),
    [
        pytest.param(DROP, 0.0, id="missing"),
        pytest.param(None, 0.0, id="null"),
        pytest.param("", 0.0, id="empty"),
        pytest.param("   ", 0.0, id="blank"),
        pytest.param(0, 0.0, id="zero"),
        pytest.param("12.5", 12.5, id="fractional_string"),
        pytest.param(0.25, 0.25, id="fractional"),
    ],
)
def test_volume_missing_empty_or_fractional(v: object, volume: float) -> None:
    assert accepted(normalize_row(row(v=v))).volume == volume


@pytest.mark.parametrize("timeframe", [1, "1", 1.0, " 1 ", "1.0", "1m"])
def test_one_minute_timeframe_spellings(timeframe: object) -> None:
    accepted(normalize_row(row(timeframe=timeframe)))


@pytest.mark.parametrize(
    ("symbol", "symbols"),
    [("MES", ()), ("MES", ("MES",)), ("ES", ()), (" MES ", ("MES",)), ("MES", {"MES", "ES"}),
     ("mes", ("MES",)), (" Mes", ())],
)  # fmt: skip
def test_symbols_filter(symbol: str, symbols: tuple[str, ...]) -> None:
    """Symbols are compared upper-cased: a row saying `mes` is an MES row."""
    bar = accepted(normalize_row(row(symbol=symbol), symbols))
    assert bar.symbol == symbol.strip().upper()


@pytest.mark.parametrize(
    ("ts", "open_time"),
    [
        pytest.param("2025-06-16T19:01:00+00:00", OPEN, id="exactly_on_the_minute"),
        pytest.param("2025-06-16T19:01:00.000001+00:00", OPEN, id="just_after_the_minute"),
        pytest.param("2025-06-16T19:01:03Z", OPEN, id="zulu"),
        pytest.param("2025-06-16 19:01:03.12345+00", OPEN, id="postgres_text"),
        pytest.param("2025-06-16T14:01:03-05:00", OPEN, id="offset_cdt"),
        pytest.param(datetime(2025, 6, 16, 19, 1, 3, tzinfo=UTC), OPEN, id="aware_datetime"),
        pytest.param(OPEN + 63, OPEN, id="epoch_seconds"),
        pytest.param(OPEN + 63.5, OPEN, id="epoch_seconds_float"),
        pytest.param((OPEN + 63) * 1000, OPEN, id="epoch_ms"),
        pytest.param(str(OPEN + 63), OPEN, id="epoch_seconds_string"),
    ],
)
def test_bar_time_inferred_from_receipt(ts: object, open_time: int) -> None:
    """open = floor(ts to the minute) - 1 minute: the minute that ended at or before ts."""
    bar = accepted(normalize_row(row(ts=ts)))
    assert bar.open_time == open_time
    assert isinstance(bar.open_time, int)
    assert not bar.ambiguous


@pytest.mark.parametrize(
    "bar_time",
    [
        pytest.param(OPEN * 1000, id="epoch_ms"),
        pytest.param(str(OPEN * 1000), id="epoch_ms_string"),
        pytest.param(OPEN, id="epoch_seconds"),
        pytest.param("2025-06-16T19:00:00Z", id="iso_zulu"),
        pytest.param("2025-06-16T14:00:00-05:00", id="iso_offset"),
        pytest.param(datetime(2025, 6, 16, 19, 0, tzinfo=UTC), id="aware_datetime"),
    ],
)
@pytest.mark.parametrize(
    "ts",
    [
        pytest.param("2025-06-16T19:09:03Z", id="ts_9_minutes_later"),
        pytest.param("2025-06-16T19:01:55Z", id="ts_ambiguous"),
        pytest.param(DROP, id="no_ts"),
        pytest.param("garbage", id="garbage_ts"),
    ],
)
def test_bar_time_column_wins_over_ts(bar_time: object, ts: object) -> None:
    bar = accepted(normalize_row(row(bar_time=bar_time, ts=ts)))
    assert (bar.open_time, bar.ambiguous) == (OPEN, False)
    assert isinstance(bar.open_time, int)


@pytest.mark.parametrize("bar_time", [None, "", "  "])
def test_empty_bar_time_falls_back_to_ts(bar_time: object) -> None:
    assert accepted(normalize_row(row(bar_time=bar_time))).open_time == OPEN


# -- the ambiguity flag --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds_after_close", "tolerance", "ambiguous"),
    [
        pytest.param(0.0, 50.0, False, id="at_close"),
        pytest.param(49.999, 50.0, False, id="49.999s"),
        pytest.param(50.0, 50.0, False, id="50s_inclusive"),
        pytest.param(50.001, 50.0, True, id="50.001s"),
        pytest.param(59.999, 50.0, True, id="59.999s"),
        pytest.param(30.0, 30.0, False, id="tolerance_30_at_30s"),
        pytest.param(30.5, 30.0, True, id="tolerance_30_at_30.5s"),
        pytest.param(0.0, 0.0, False, id="tolerance_0_at_close"),
        pytest.param(0.001, 0.0, True, id="tolerance_0_at_1ms"),
        pytest.param(55.0, 59.0, False, id="tolerance_59_at_55s"),
    ],
)
def test_ambiguity_flag_at_the_tolerance_boundary(
    seconds_after_close: float, tolerance: float, ambiguous: bool
) -> None:
    close = datetime.fromtimestamp(OPEN + 60, UTC)
    ts = (close + timedelta(seconds=seconds_after_close)).isoformat()
    bar = accepted(normalize_row(row(ts=ts), tolerance_s=tolerance))
    assert (bar.open_time, bar.ambiguous) == (OPEN, ambiguous)


def test_default_tolerance_is_50_seconds() -> None:
    assert not accepted(normalize_row(row(ts="2025-06-16T19:01:50Z"))).ambiguous
    assert accepted(normalize_row(row(ts="2025-06-16T19:01:50.5Z"))).ambiguous


# -- rejections ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason", "detail"),
    [
        # missing_field
        pytest.param({"symbol": DROP}, "missing_field", "symbol", id="no_symbol"),
        pytest.param({"symbol": "  "}, "missing_field", "symbol", id="blank_symbol"),
        pytest.param({"symbol": None}, "missing_field", "symbol", id="null_symbol"),
        pytest.param({"timeframe": DROP}, "missing_field", "timeframe", id="no_timeframe"),
        pytest.param({"timeframe": ""}, "missing_field", "timeframe", id="empty_timeframe"),
        pytest.param({"o": DROP}, "missing_field", "o", id="no_open"),
        pytest.param({"h": None}, "missing_field", "h", id="null_high"),
        pytest.param({"l": ""}, "missing_field", "l", id="empty_low"),
        pytest.param({"c": " "}, "missing_field", "c", id="blank_close"),
        pytest.param({"ts": DROP}, "missing_field", "ts", id="no_ts"),
        pytest.param({"ts": None}, "missing_field", "ts", id="null_ts"),
        # unparsable_field
        pytest.param({"o": "abc"}, "unparsable_field", "o", id="text_open"),
        pytest.param({"h": "6,001.00"}, "unparsable_field", "h", id="thousands_separator"),
        pytest.param({"c": [6000.0]}, "unparsable_field", "c", id="list_close"),
        pytest.param({"l": True}, "unparsable_field", "l", id="bool_low"),
        pytest.param({"o": 10**400}, "unparsable_field", "o", id="int_too_big_for_float"),
        pytest.param({"v": "lots"}, "unparsable_field", "v", id="text_volume"),
        pytest.param({"v": {"n": 1}}, "unparsable_field", "v", id="dict_volume"),
        pytest.param({"ts": "yesterday"}, "unparsable_field", "ts", id="text_ts"),
        pytest.param({"ts": "2025-06-16T19:01:03"}, "unparsable_field", "ts", id="naive_iso_ts"),
        pytest.param({"ts": datetime(2025, 6, 16, 19, 1, 3)}, "unparsable_field", "ts",  # noqa: DTZ001 -- the naive input under test
                     id="naive_datetime_ts"),
        pytest.param({"ts": math.nan}, "unparsable_field", "ts", id="nan_ts"),
        pytest.param({"ts": "inf"}, "unparsable_field", "ts", id="inf_ts"),
        pytest.param({"bar_time": "soon"}, "unparsable_field", "bar_time", id="text_bar_time"),
        pytest.param({"bar_time": [OPEN]}, "unparsable_field", "bar_time", id="list_bar_time"),
        # non_finite_price (checked before the sign)
        pytest.param({"o": math.nan}, "non_finite_price", "o", id="nan_open"),
        pytest.param({"h": "inf"}, "non_finite_price", "h", id="inf_string_high"),
        pytest.param({"l": -math.inf}, "non_finite_price", "l", id="minus_inf_low"),
        pytest.param({"c": "NaN"}, "non_finite_price", "c", id="nan_string_close"),
        pytest.param({"h": "1e400"}, "non_finite_price", "h", id="overflowing_string"),
        # non_positive_price
        pytest.param({"o": 0}, "non_positive_price", "o", id="zero_open"),
        pytest.param({"l": "-1.5"}, "non_positive_price", "l", id="negative_low"),
        pytest.param({"c": -0.0}, "non_positive_price", "c", id="negative_zero_close"),
        # volume
        pytest.param({"v": -1}, "negative_volume", "v", id="negative_volume"),
        pytest.param({"v": "-0.5"}, "negative_volume", "v", id="negative_string_volume"),
        pytest.param({"v": math.nan}, "non_finite_volume", "v", id="nan_volume"),
        pytest.param({"v": "inf"}, "non_finite_volume", "v", id="inf_volume"),
        # high below max(o, c, l); low above min(o, c, h)
        pytest.param({"h": 6000.5}, "high_below_range", None, id="high_below_close"),
        pytest.param({"h": 6000.0, "c": 5999.75}, "high_below_range", None,
                     id="high_below_open"),
        pytest.param({"o": 5999.0, "c": 5999.0, "h": 5999.0, "l": 5999.25}, "high_below_range",
                     None, id="high_below_low"),
        pytest.param({"l": 6000.5}, "low_above_range", None, id="low_above_open"),
        pytest.param({"o": 6000.0, "l": 6000.5}, "low_above_range", None,
                     id="low_above_open_only"),
        pytest.param({"c": 6000.0, "o": 6000.5, "l": 6000.25}, "low_above_range", None,
                     id="low_above_close"),
        # misaligned bar_time
        pytest.param({"bar_time": OPEN * 1000 + 500}, "misaligned_bar_time", None,
                     id="ms_not_on_the_minute"),
        pytest.param({"bar_time": "2025-06-16T19:00:30Z"}, "misaligned_bar_time", None,
                     id="iso_not_on_the_minute"),
        pytest.param({"bar_time": OPEN + 1}, "misaligned_bar_time", None,
                     id="seconds_not_on_the_minute"),
    ],
)  # fmt: skip
def test_rejection_reasons(changes: dict[str, object], reason: str, detail: str | None) -> None:
    result = normalize_row(row(**changes))
    assert isinstance(result, Rejection), result
    assert (result.reason, result.ignored) == (reason, False)
    if detail is not None:
        assert result.detail == detail


@pytest.mark.parametrize(
    ("changes", "symbols", "reason"),
    [
        pytest.param({"timeframe": "5"}, (), "other_timeframe", id="tf_5_text"),
        pytest.param({"timeframe": 5}, (), "other_timeframe", id="tf_5_int"),
        pytest.param({"timeframe": "60"}, (), "other_timeframe", id="tf_60"),
        pytest.param({"timeframe": "1D"}, (), "other_timeframe", id="tf_1D"),
        pytest.param({"timeframe": "10"}, (), "other_timeframe", id="tf_10"),
        pytest.param({"symbol": "ES"}, ("MES",), "other_symbol", id="other_symbol"),
        pytest.param({"symbol": "ES", "o": "junk"}, ("MES",), "other_symbol",
                     id="other_symbol_not_parsed_further"),
        pytest.param({"symbol": "mnq"}, ("MES",), "other_symbol", id="other_symbol_lower_case"),
    ],
)  # fmt: skip
def test_rows_for_someone_else_are_ignored(
    changes: dict[str, object], symbols: tuple[str, ...], reason: str
) -> None:
    result = normalize_row(row(**changes), symbols)
    assert isinstance(result, Rejection), result
    assert (result.reason, result.ignored) == (reason, True)


def test_first_failing_check_decides_the_reason() -> None:
    """Order: symbol, timeframe, each price o/h/l/c, range, volume, time."""
    assert normalize_row(row(symbol=None, timeframe="5")).reason == "missing_field"
    assert normalize_row(row(timeframe="5", o="x")).reason == "other_timeframe"
    assert normalize_row(row(o="x", h=math.nan)).detail == "o"
    assert normalize_row(row(h=1.0, v=-1)).reason == "high_below_range"
    assert normalize_row(row(v=-1, ts="junk")).reason == "negative_volume"


@pytest.mark.parametrize(
    "ts",
    [
        datetime(2025, 6, 16, 14, 1, 3, tzinfo=timezone(timedelta(hours=-5))),
        "2025-06-16T19:01:03.999999+00:00",
    ],
)
def test_accepted_bars_are_plain_values(ts: object) -> None:
    bar = accepted(normalize_row(row(ts=ts, o="6000.25", v="7")))
    assert all(type(x) is float for x in bar[2:7])
    assert type(bar.open_time) is int
    assert bar.open_time % 60 == 0


@pytest.mark.parametrize(
    ("ts", "received"),
    [
        pytest.param(RECEIPT, OPEN + 63.5, id="iso"),
        pytest.param(OPEN + 70, OPEN + 70, id="epoch_seconds"),
        pytest.param(DROP, None, id="no_ts"),
        pytest.param("garbage", None, id="garbage_ts"),
    ],
)
def test_receipt_instant_is_kept_beside_the_bar_time(ts: object, received: float | None) -> None:
    bar = accepted(normalize_row(row(ts=ts, bar_time=OPEN * 1000)))
    assert (bar.open_time, bar.received) == (OPEN, received)
    if ts is not DROP and received is not None:
        assert accepted(normalize_row(row(ts=ts))).received == received
