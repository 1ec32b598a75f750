"""The one CSV reader: rows in file order with their line, malformed lines counted as
rejections, nothing a file holds can crash a replay."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.files.csv_source import CsvFormatError, CsvRows
from engine.normalize import normalize_row
from engine.ports import RowReceived, RowUnreadable

SYMBOLS = frozenset({"MES"})


def _plain_rows(n: int, start: int = 1_750_084_262) -> list[str]:
    out = []
    for i in range(n):
        price = 6000 + (i % 40) * 0.25
        stamp = datetime.fromtimestamp(start + 60 * i, UTC).isoformat()
        out.append(f"{i},{stamp},MES,1,{price},{price + 1},{price - 1},{price},{i % 7}")
    return out


def _write(path: Path, lines: list[str], ending: str = "\n") -> Path:
    path.write_text(ending.join(lines) + ending, newline="")
    return path


def _results(path: Path) -> list[object]:
    """Each event normalized (a row) or its rejection reason (a line that is no row)."""
    out: list[object] = []
    for event in CsvRows(path):
        if isinstance(event, RowReceived):
            out.append(normalize_row(event.row, SYMBOLS))
        else:
            out.append(event.reason)
    return out


def test_rows_come_in_file_order_with_their_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "feed.csv", ["id,ts,symbol,timeframe,o,h,l,c,v", *_plain_rows(5)])
    events = list(CsvRows(path))
    assert all(isinstance(e, RowReceived) for e in events)
    assert [e.line for e in events] == [2, 3, 4, 5, 6]
    assert [e.row["id"] for e in events if isinstance(e, RowReceived)] == ["0", "1", "2", "3", "4"]


def test_a_header_without_a_required_column_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "feed.csv", ["id,ts,symbol,o,h,l,c,v", "1,x,MES,1,1,1,1,1"])
    with pytest.raises(CsvFormatError, match="header lacks timeframe"):
        CsvRows(path)


def test_bar_time_column_and_duplicate_names(tmp_path: Path) -> None:
    """The first column of a repeated name is the one read; `bar_time` wins over `ts`."""
    body = [
        "ts,symbol,timeframe,o,h,l,c,v,bar_time,o",
        "2025-06-16T14:31:02Z,MES,1,6000,6001,5999,6000.5,3,1750084200000,1",
        "2025-06-16T14:32:02Z,MES,1,6000,6001,5999,6000.5,3,,1",
        "2025-06-16T14:33:02Z,MES,1,6000,6001,5999,6000.5,3,1e12,1",
        "2025-06-16T14:34:02Z,MES,1,6000,6001,5999,6000.5,3,2025-06-16T14:33:00Z,1",
    ]
    results = _results(_write(tmp_path / "feed.csv", body))
    assert [getattr(r, "open_time", r) for r in results][:2] == [1_750_084_200, 1_750_084_260]
    assert all(getattr(r, "open", None) in (6000.0, None) for r in results)


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_empty_lines_are_malformed_rows_and_any_line_ending_reads(
    tmp_path: Path, ending: str
) -> None:
    head = "id,ts,symbol,timeframe,o,h,l,c,v"
    path = _write(tmp_path / "feed.csv", [head, *_plain_rows(2), "", *_plain_rows(2)], ending)
    results = _results(path)
    assert results[2] == "malformed_csv_row"
    assert [getattr(r, "symbol", None) for r in results] == ["MES", "MES", None, "MES", "MES"]


def test_invalid_utf8_is_one_bad_cell_not_a_crash(tmp_path: Path) -> None:
    lines = [line.encode() + b",ok" for line in _plain_rows(6)]
    lines[2] = lines[2].replace(b",MES,", b",M\xffS,")  # a column the engine reads
    lines[4] = lines[4].replace(b",ok", b",\xfe\xfe")  # a column nobody reads
    path = tmp_path / "feed.csv"
    path.write_bytes(b"\n".join([b"id,ts,symbol,timeframe,o,h,l,c,v,note", *lines]) + b"\n")
    results = _results(path)
    assert getattr(results[2], "reason", None) == "other_symbol"
    assert getattr(results[4], "symbol", None) == "MES"  # the unread bad bytes are harmless


def test_each_row_says_where_it_is_in_the_file(tmp_path: Path) -> None:
    """The line a row starts on (header = line 1) and its cells as the file has them; a
    line with the wrong number of cells gives all its cells."""
    lines = _plain_rows(50)
    lines[40] = "40,2025-06-16T14:31:02Z,MES,1"  # too few cells
    path = _write(tmp_path / "feed.csv", ["id,ts,symbol,timeframe,o,h,l,c,v", *lines])
    events = list(CsvRows(path))
    seventh = events[7]
    assert isinstance(seventh, RowReceived) and seventh.line == 9
    assert seventh.row == dict(
        zip(
            ["id", "ts", "symbol", "timeframe", "o", "h", "l", "c", "v"],
            lines[7].split(","),
            strict=True,
        )
    )
    assert events[40] == RowUnreadable(
        42, "malformed_csv_row", "4 columns", tuple(lines[40].split(","))
    )
    assert events[49].line == 51


def test_a_quoted_line_break_does_not_shift_the_line_numbers(tmp_path: Path) -> None:
    rows = _plain_rows(3)
    body = [
        "id,ts,symbol,timeframe,o,h,l,c,v,note",
        rows[0] + ',"two\nlines"', rows[1] + ",", "", rows[2] + ",",
    ]  # fmt: skip
    events = list(CsvRows(_write(tmp_path / "feed.csv", body)))
    assert [e.line for e in events] == [2, 4, 5, 6]
    assert [e.row["id"] for e in events if isinstance(e, RowReceived)] == ["0", "1", "2"]
    assert events[2] == RowUnreadable(5, "malformed_csv_row", "0 columns", ())


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
@pytest.mark.parametrize("column", [2, 9], ids=["read_column", "extra_column"])
def test_a_field_over_the_csv_size_limit_costs_only_its_row(
    tmp_path: Path, column: int, quoted: bool
) -> None:
    """That row is rejected `field_too_large`; reading goes on, and the other rows give
    what the file without it gives."""
    lines = [f"{line},note" for line in _plain_rows(3000)]
    if quoted:
        lines[10] = lines[10].replace(",note", ',"a note"')
    huge = lines[1500].split(",")
    huge[column] = "X" * (csv.field_size_limit() + 1)
    head = "id,ts,symbol,timeframe,o,h,l,c,v,note"
    path = _write(tmp_path / "feed.csv", [head, *lines[:1500], ",".join(huge), *lines[1501:]])
    without = _write(tmp_path / "without.csv", [head, *lines[:1500], *lines[1501:]])
    results = _results(path)
    assert results[1500] == "field_too_large"
    assert results[:1500] + results[1501:] == _results(without)


def test_a_long_line_of_short_fields_is_one_malformed_row(tmp_path: Path) -> None:
    lines = _plain_rows(20)
    lines[5] += "," + ",".join(["y" * 1000] * 140)  # 140 extra cells: malformed, not huge
    path = _write(tmp_path / "feed.csv", ["id,ts,symbol,timeframe,o,h,l,c,v", *lines])
    results = _results(path)
    assert results[5] == "malformed_csv_row"
    assert sum(1 for r in results if isinstance(r, str)) == 1
