"""The columnar CSV reader (pyarrow) gives exactly what the csv module's reading gives.

Replay reads plain files with pyarrow, which hands numbers and receipt times over already
typed. These tests hold it to the row-by-row reading through `normalize_fields` with text
cells: every row's result (bar, rejection and its detail) equal, on messy files.
"""

from __future__ import annotations

import csv
import os
import string
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from adapters.files import arrowcsv
from adapters.files.csvread import Layout, normalize_batch, read_columns, read_normalized

HEADER = "id,ts,symbol,timeframe,o,h,l,c,v,ema21"
SYMBOLS = frozenset({"MES"})

NUMBERS = st.one_of(
    st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False).map(str),
    st.floats(min_value=1e-3, max_value=1e6).map(repr),
    st.sampled_from([
        "5001.25", "5001", "5001.", ".25", "+5001", "-1", "0", "-0", "1e3", "1E400", "1e-400",
        "nan", "NaN", "inf", "-Infinity", "nan(1)", " 5001", "5001 ", "1_000", "", " ",
        "0x10", "5,0", "\u0663", "12e", "1.2.3", "00012.50",
    ]),
)  # fmt: skip
STAMPS = st.one_of(
    st.datetimes(
        min_value=__import__("datetime").datetime(1000, 1, 1),
        max_value=__import__("datetime").datetime(9999, 12, 31),
    ).map(lambda d: d.isoformat() + "+00:00"),
    st.sampled_from([
        "2025-06-16T14:31:02.123456+00:00", "2025-06-16T14:31:02Z", "2025-06-16 14:31:02+00",
        "2025-06-16T14:31:02-05:00", "2025-06-16T14:31:02+05:30", "2025-06-16T14:31:02",
        "2025-06-16", "2025-02-30T00:00:00Z", "2025-06-16T24:00:00Z", "2025-06-16t14:31:02Z",
        "2025-06-16T14:31:02.1234567Z", "20250616T143102Z", "2025-06-16T14:31:02+00:60",
        "2300-01-01T00:00:00Z", "1600-01-01T00:00:00Z", "1750084262", "1750084262000", "",
        "2025-06-16T14:31:02.Z", " 2025-06-16T14:31:02Z",
    ]),
)  # fmt: skip
CELLS = st.one_of(NUMBERS, STAMPS, st.text(alphabet=string.ascii_letters + " ;-", max_size=6))


@st.composite
def rows(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 30)) == 0:  # a line with the wrong number of cells, or none
        return ",".join(draw(st.lists(CELLS, max_size=12)))
    return ",".join([
        str(draw(st.integers(0, 99))),
        draw(STAMPS),
        draw(st.sampled_from(["MES", "MES", "MES", " MES", "ES", ""])),
        draw(st.sampled_from(["1", "1", "1", "5", " 1", "1.0", "", "x"])),
        draw(NUMBERS), draw(NUMBERS), draw(NUMBERS), draw(NUMBERS), draw(NUMBERS),
        draw(st.sampled_from(["", "6001.2", "abc"])),
    ])  # fmt: skip


def _both(path: Path) -> tuple[list[object], list[object]]:
    """Each row normalized by either reader; and both say where each row is alike."""
    columnar = list(read_normalized(path, SYMBOLS, 50.0, columnar=True))
    by_row = list(read_normalized(path, SYMBOLS, 50.0, columnar=False))
    assert _sources(path, columnar=True) == _sources(path, columnar=False)
    return columnar, by_row


def _sources(path: Path, columnar: bool) -> list[dict[str, object]]:
    return [b.source(i) for b in read_columns(path, columnar, batch_rows=7) for i in range(b.n)]


@settings(
    max_examples=int(os.environ.get("CSVREAD_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    lines=st.lists(rows(), min_size=1, max_size=40),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
    last=st.sampled_from(["", "\n"]),
)
def test_columnar_reading_equals_the_csv_module(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], ending: str, last: str
) -> None:
    path = tmp_path_factory.mktemp("csv") / "feed.csv"
    path.write_bytes((ending.join([HEADER, *lines]) + last).encode())
    columnar, by_row = _both(path)
    assert columnar == by_row


def _plain_rows(n: int, start: int = 1_750_084_262) -> list[str]:
    out = []
    for i in range(n):
        price = 6000 + (i % 40) * 0.25
        stamp = __import__("datetime").datetime.fromtimestamp(
            start + 60 * i, __import__("datetime").UTC
        )
        out.append(f"{i},{stamp.isoformat()},MES,1,{price},{price + 1},{price - 1},{price},{i % 7}")
    return out


def test_plain_file_is_typed_by_arrow(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text("\n".join(["id,ts,symbol,timeframe,o,h,l,c,v", *_plain_rows(500)]) + "\n")
    assert arrowcsv.plain(path)
    batch = next(read_columns(path))
    assert all(type(cell) is float for cell in batch.ts + batch.o + batch.v)
    assert batch.o[3] == float("6000.75") and batch.ts[0] == 1_750_084_262.0
    columnar, by_row = _both(path)
    assert columnar == by_row and len(columnar) == 500


def test_cells_arrow_cannot_type_stay_text_exactly_where_they_are(tmp_path: Path) -> None:
    lines = _plain_rows(5000)
    for index, bad in [(7, " 6001"), (2500, "nan(1)"), (2501, "1_000"), (4999, "")]:
        cells = lines[index].split(",")
        cells[4] = bad
        lines[index] = ",".join(cells)
    path = tmp_path / "feed.csv"
    path.write_text("\n".join(["id,ts,symbol,timeframe,o,h,l,c,v", *lines]) + "\n")
    o = [cell for batch in read_columns(path) for cell in batch.o]
    assert [(i, cell) for i, cell in enumerate(o) if type(cell) is str] == [
        (7, " 6001"), (2500, "nan(1)"), (2501, "1_000"), (4999, "")
    ]  # fmt: skip
    columnar, by_row = _both(path)
    assert columnar == by_row


def test_a_row_arrow_refuses_hands_the_rest_to_the_csv_module(tmp_path: Path) -> None:
    lines = _plain_rows(6000)
    lines[5000] = lines[5000] + ",extra"
    lines[5500] = "1,2,3"
    path = tmp_path / "feed.csv"
    path.write_text("\n".join(["id,ts,symbol,timeframe,o,h,l,c,v", *lines]) + "\n")
    batches = list(read_columns(path, batch_rows=1024))
    assert type(batches[0].o[0]) is float  # arrow read the start
    assert type(batches[-1].o[-1]) is str  # the csv module the end
    assert sum(batch.n for batch in batches) == 6000
    columnar, by_row = _both(path)
    assert columnar == by_row
    assert [r for r in columnar if getattr(r, "reason", None) == "malformed_csv_row"] == [
        by_row[5000], by_row[5500]
    ]  # fmt: skip


def test_quoted_file_is_read_by_the_csv_module(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    lines = _plain_rows(10)
    lines[3] = lines[3].replace(",MES,", ',"MES",')
    path.write_text("\n".join(["id,ts,symbol,timeframe,o,h,l,c,v", *lines]) + "\n")
    assert not arrowcsv.plain(path)
    batch = next(read_columns(path))
    assert batch.symbol[3] == "MES" and type(batch.o[0]) is str
    columnar, by_row = _both(path)
    assert columnar == by_row


def test_bar_time_column_and_duplicate_names(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    body = [
        "ts,symbol,timeframe,o,h,l,c,v,bar_time,o",
        "2025-06-16T14:31:02Z,MES,1,6000,6001,5999,6000.5,3,1750084200000,1",
        "2025-06-16T14:32:02Z,MES,1,6000,6001,5999,6000.5,3,,1",
        "2025-06-16T14:33:02Z,MES,1,6000,6001,5999,6000.5,3,1e12,1",
        "2025-06-16T14:34:02Z,MES,1,6000,6001,5999,6000.5,3,2025-06-16T14:33:00Z,1",
    ]
    path.write_text("\n".join(body) + "\n")
    assert Layout(path).bar_time == 8
    columnar, by_row = _both(path)
    assert columnar == by_row
    assert [getattr(r, "open_time", r) for r in columnar][:2] == [1_750_084_200, 1_750_084_260]


def test_empty_lines_go_to_the_csv_module_and_lone_cr_to_arrow(tmp_path: Path) -> None:
    head = "id,ts,symbol,timeframe,o,h,l,c,v"
    path = tmp_path / "feed.csv"
    for body in (
        "\n".join([head, *_plain_rows(3)]) + "\n\n",  # a trailing empty line
        "\n".join([head, *_plain_rows(2), "", *_plain_rows(2)]) + "\n",
        "\r\n".join([head, *_plain_rows(2), "", *_plain_rows(2)]) + "\r\n",
        "\r".join([head, *_plain_rows(3)]) + "\r\r\n",
    ):
        path.write_text(body, newline="")
        assert arrowcsv.plain(path)
        columnar, by_row = _both(path)
        assert columnar == by_row
        assert any(getattr(r, "reason", None) == "malformed_csv_row" for r in columnar), body
        assert all(type(cell) is str for batch in read_columns(path) for cell in batch.o)
    for ending in ("\r", "\r\n"):  # lone CRs end rows for both readers
        path.write_text(ending.join([head, *_plain_rows(3)]) + ending, newline="")
        assert arrowcsv.plain(path)
        columnar, by_row = _both(path)
        assert columnar == by_row
        assert all(type(cell) is float for batch in read_columns(path) for cell in batch.o)


def test_a_blank_line_deep_in_a_file_falls_back_from_its_batch_on(tmp_path: Path) -> None:
    lines = _plain_rows(5000)
    lines.insert(3000, "")
    path = tmp_path / "feed.csv"
    path.write_text("\n".join(["id,ts,symbol,timeframe,o,h,l,c,v", *lines]) + "\n")
    with capture_logs() as logs:
        batches = list(read_columns(path, batch_rows=1024))
    readers = [(e["reader"], e.get("from_row")) for e in logs if e["event"] == "replay_reader"]
    by_arrow = sum(batch.n for batch in batches if type(batch.o[0]) is float)
    assert 0 < by_arrow < 3001  # the blank line is row 3,001
    assert readers == [("columnar", None), ("csv_module", by_arrow + 1)]
    assert type(batches[0].o[0]) is float  # arrow's, up to the batch with the blank line
    assert type(batches[-1].o[-1]) is str  # the csv module's, from there on
    assert sum(batch.n for batch in batches) == 5001
    columnar = [r for batch in batches for r in normalize_batch(batch, SYMBOLS, 50.0)]
    assert columnar == list(read_normalized(path, SYMBOLS, 50.0, columnar=False))
    assert getattr(columnar[3000], "reason", None) == "malformed_csv_row"


def test_a_column_arrow_cannot_type_at_all_is_read_as_text_quickly(tmp_path: Path) -> None:
    """Epoch-second receipts (`_instant` reads them; arrow's ISO cast does not)."""
    lines = []
    for i, line in enumerate(_plain_rows(8000)):
        cells = line.split(",")
        cells[1] = f"{1_750_084_262 + 60 * i}.25"
        lines.append(",".join(cells))
    path = tmp_path / "feed.csv"
    path.write_text("\n".join(["id,ts,symbol,timeframe,o,h,l,c,v", *lines]) + "\n")
    started = time.perf_counter()
    batches = list(read_columns(path, batch_rows=1024))
    assert time.perf_counter() - started < 2.0
    assert len(batches) > 4
    assert all(type(cell) is str for batch in batches for cell in batch.ts)
    assert all(type(cell) is float for batch in batches for cell in batch.o)
    columnar = [r for batch in batches for r in normalize_batch(batch, SYMBOLS, 50.0)]
    assert columnar == list(read_normalized(path, SYMBOLS, 50.0, columnar=False))


def test_plain_means_no_quote_no_nul_and_no_line_break_first(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    cases = {
        b"a,b\nc,d\n": True, b"a,b\r\nc,d\r\n": True, b"a,b\nc,d": True, b"a,b\rc,d\r": True,
        b"a,b\n\nc,d\n": True,  # empty lines: found per batch (`_blank_row`)
        b"": False, b"\na,b\n": False, b"\r\na,b\n": False, b'a,"b"\n': False,
        b"a,\0\n": False,
    }  # fmt: skip
    for data, expected in cases.items():
        path.write_bytes(data)
        assert arrowcsv.plain(path) is expected, data


def test_invalid_utf8_is_one_bad_cell_not_a_crash(tmp_path: Path) -> None:
    lines = [line.encode() + b",ok" for line in _plain_rows(6)]
    lines[2] = lines[2].replace(b",MES,", b",M\xffS,")  # a column the engine reads
    lines[4] = lines[4].replace(b",ok", b",\xfe\xfe")  # a column nobody reads
    path = tmp_path / "feed.csv"
    path.write_bytes(b"\n".join([b"id,ts,symbol,timeframe,o,h,l,c,v,note", *lines]) + b"\n")
    columnar, by_row = _both(path)
    assert columnar == by_row
    assert getattr(columnar[2], "reason", None) == "other_symbol"
    assert getattr(columnar[4], "symbol", None) == "MES"  # the unread bad bytes are harmless


def test_a_file_that_is_not_plain_says_so(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    rows = _plain_rows(3)
    rows[1] = rows[1].replace(",MES,", ',"MES",')
    path.write_text("\n".join(["id,ts,symbol,timeframe,o,h,l,c,v", *rows]) + "\n")
    with capture_logs() as logs:
        assert sum(batch.n for batch in read_columns(path)) == 3
    (event,) = [e for e in logs if e["event"] == "replay_reader"]
    assert (event["reader"], event["from_row"]) == ("csv_module", 1)
    assert "quote" in event["reason"]


def test_each_row_says_where_it_is_in_the_file(tmp_path: Path) -> None:
    """`source(i)`: the line a row starts on (header = line 1), its id and its cells as
    text, from either reader and across the hand-over from arrow to the csv module."""
    lines = _plain_rows(5000)
    lines[4000] = "4000,2025-06-16T14:31:02Z,MES,1"  # too few cells: csv module from here
    path = tmp_path / "feed.csv"
    path.write_text("\n".join(["id,ts,symbol,timeframe,o,h,l,c,v", *lines]) + "\n")
    rows = [(b, i) for b in read_columns(path, batch_rows=1024) for i in range(b.n)]
    batch, i = rows[7]
    assert type(batch.o[i]) is float  # typed by arrow, yet shown as the file has it
    assert batch.source(i) == dict(
        line=9, ts="2025-06-16T14:38:02+00:00", symbol="MES", timeframe="1", o="6001.75",
        h="6002.75", l="6000.75", c="6001.75", v="0", id="7",
    )  # fmt: skip
    batch, i = rows[4000]
    assert batch.source(i) == {"line": 4002, "cells": lines[4000].split(",")}
    batch, i = rows[4999]
    assert type(batch.o[i]) is str and batch.source(i)["line"] == 5001
    assert batch.source(i)["id"] == "4999"


def test_a_quoted_line_break_does_not_shift_the_line_numbers(tmp_path: Path) -> None:
    rows = _plain_rows(3)
    path = tmp_path / "feed.csv"
    body = [
        "id,ts,symbol,timeframe,o,h,l,c,v,note",
        rows[0] + ',"two\nlines"', rows[1] + ",", "", rows[2] + ",",
    ]  # fmt: skip
    path.write_text("\n".join(body) + "\n")
    sources = _sources(path, columnar=True)
    assert [s["line"] for s in sources] == [2, 4, 5, 6]
    assert [s.get("id") for s in sources] == ["0", "1", None, "2"]
    assert sources[2] == {"line": 5, "cells": []}  # the empty line: a row of no cells


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
@pytest.mark.parametrize("column", [2, 9], ids=["read_column", "extra_column"])
def test_a_field_over_the_csv_size_limit_costs_only_its_row(
    tmp_path: Path, column: int, quoted: bool
) -> None:
    """Both readers reject that row `field_too_large` and read on; the other rows give
    what the file without it gives. (A plain file with such a line is the csv module's.)"""
    lines = [f"{line},note" for line in _plain_rows(3000)]
    if quoted:
        lines[10] = lines[10].replace(",note", ',"a note"')
    huge = lines[1500].split(",")
    huge[column] = "X" * (csv.field_size_limit() + 1)
    path, without = tmp_path / "feed.csv", tmp_path / "without.csv"
    head = "id,ts,symbol,timeframe,o,h,l,c,v,note"
    path.write_text("\n".join([head, *lines[:1500], ",".join(huge), *lines[1501:]]) + "\n")
    without.write_text("\n".join([head, *lines[:1500], *lines[1501:]]) + "\n")
    assert not arrowcsv.plain(path) and arrowcsv.plain(without) is not quoted
    columnar, by_row = _both(path)
    assert columnar == by_row
    assert getattr(columnar[1500], "reason", None) == "field_too_large"
    assert columnar[:1500] + columnar[1501:] == _both(without)[0]


def test_a_long_line_of_short_fields_keeps_a_plain_file_correct(tmp_path: Path) -> None:
    """A line over the limit whose fields are each under it: read by the csv module, as
    any long line is, and the row is fine."""
    lines = _plain_rows(20)
    lines[5] += "," + ",".join(["y" * 1000] * 140)  # 140 extra cells: malformed, not huge
    path = tmp_path / "feed.csv"
    path.write_text("\n".join(["id,ts,symbol,timeframe,o,h,l,c,v", *lines]) + "\n")
    assert not arrowcsv.plain(path)
    columnar, by_row = _both(path)
    assert columnar == by_row
    assert getattr(columnar[5], "reason", None) == "malformed_csv_row"
