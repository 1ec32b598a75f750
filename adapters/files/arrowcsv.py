"""Columnar reading of a plain `tv_datafeed` CSV export with pyarrow (replay only).

pyarrow parses the file in C++ (on the machine's other core while the engine runs) and
types whole columns at once; a cell is handed over as a float only when that float is
exactly what the live path's own parse of the same text gives:
- prices and volume: arrow's text -> float64 cast (correctly rounded, as `float()` is)
  where it succeeds and gives a finite number. Text it refuses (' 5', '1_000', '') or that
  is not finite ('nan(1)', which `float()` refuses but arrow reads as NaN) stays text;
- receipt `ts`: arrow's ISO 8601 cast to UTC microseconds, which accepts only text
  `datetime.fromisoformat` reads to the same instant and refuses zone-less text; then
  µs / 1e6, the division `datetime.timestamp()` makes. Instants whose microseconds are
  not exact in a float64 (beyond 2255) or that `normalize` would read as milliseconds stay
  text.
A column that fails its cast is cut in halves until the failing cells are found; those
stay text. Symbol, timeframe, bar_time and id stay text. Tested against the csv module's
reading cell by cell, by hypothesis (tests/adapters/test_csvread.py).

"Plain" = no quote character, no NUL byte, not starting with a line break, no line
longer than the csv module's field size limit: then a row is a line and a cell is the
text between commas, for arrow as for the csv module —
but for empty lines, which arrow reads as a row of empty cells and the csv module as a
row of none. So a batch holding a row whose every read cell is empty (an empty line, or
a line of commas) is left to the csv module, as is any row arrow refuses (wrong cell
count, invalid UTF-8 in a column read): from that batch on, the csv module reads
(csvread.py). A lone CR ends a row for both.
"""

from __future__ import annotations

import csv
import mmap
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pcsv  # type: ignore[import-untyped]

from adapters.files.csvread import Columns, Layout

_EXACT_US = 2**53  # |µs| below this converts to float64 exactly
_MS_THRESHOLD = 1e10  # engine.normalize reads numbers this large as epoch milliseconds
_SMALLEST_CUT = 1  # cut down to the failing cells themselves
_CUTS = 256  # failed casts a column may take before its failing slices stay text
_AHEAD = 2  # batches parsed ahead of the engine
_SCAN = 1 << 24  # bytes per step of the long-line scan


class ReadError(Exception):
    """Arrow could not read a row; the caller reads from the last batch on by csv module."""


def plain(path: Path) -> bool:
    """No quote, no NUL, not empty, no line break first (two memchr passes: the empty
    lines are found per batch, by `_blank_row`, on the reading thread), and no line
    longer than the csv module's field size limit: such a line may hold a field the csv
    module refuses (`field_too_large`), so the csv module reads that file."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[:1] in (b"\r", b"\n") or data.find(b'"') >= 0 or data.find(b"\0") >= 0:
                return False
            return _longest_line(data) <= csv.field_size_limit()


def _longest_line(data: mmap.mmap) -> int:
    """Bytes of the longest line, between two line breaks (LF or CR: either ends a row).
    A UTF-8 line has at least as many bytes as characters. Scanned in `_SCAN` steps so
    that the memory it takes stays small."""
    longest, line_start = 0, 0
    for offset in range(0, len(data), _SCAN):
        view = np.frombuffer(data, np.uint8, min(_SCAN, len(data) - offset), offset)
        ends = np.flatnonzero((view == ord("\n")) | (view == ord("\r"))) + offset
        del view  # the mmap cannot close while a view of it lives
        if len(ends):
            starts = np.concatenate(([line_start], ends[:-1] + 1))
            longest = max(longest, int((ends - starts).max()))
            line_start = int(ends[-1]) + 1
    return max(longest, len(data) - line_start)


class BlankRow(Exception):
    """A batch holds a row of empty cells: an empty line, maybe (see the module doc)."""


def _blank_row(record: pa.RecordBatch) -> bool:
    """Is any row's every cell empty? (Arrow compute, without the GIL.)"""
    first = record.column(0)
    if not pc.any(pc.equal(pc.binary_length(first), 0)).as_py():
        return False  # the common case: one pass over one column
    total = pc.binary_length(first)
    for column in record.columns[1:]:
        total = pc.add(total, pc.binary_length(column))
    return bool(pc.any(pc.equal(total, 0)).as_py())


def batches(path: Path, layout: Layout, batch_rows: int) -> Iterator[Columns]:
    """Typed column batches. A helper thread parses and casts (C++, without the GIL, two
    calls a batch so that it seldom waits for the GIL) at most `_AHEAD` batches ahead;
    the Python lists are built here. Raises ReadError at the first batch arrow cannot
    read."""
    first_line = 2  # of the batch's first row: a plain file's header is line 1, a row a line
    out: queue.Queue[Any] = queue.Queue(maxsize=_AHEAD)
    stop = threading.Event()
    worker = threading.Thread(
        target=_produce, args=(path, layout, batch_rows, out, stop), daemon=True,
        name="arrowcsv",
    )  # fmt: skip
    worker.start()
    try:
        while True:
            item = out.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise ReadError(str(item)) from item
            texts, typed = item
            columns = _columns(texts, typed, first_line)
            first_line += columns.n
            yield columns
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                out.get_nowait()
            except queue.Empty:
                worker.join(0.01)


def _produce(
    path: Path, layout: Layout, batch_rows: int, out: queue.Queue[Any], stop: threading.Event
) -> None:
    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        for batch in _arrow_batches(path, layout, batch_rows):
            if not put(batch):
                return
        put(None)
    except Exception as exc:  # noqa: BLE001 -- handed to the reader, which falls back
        put(exc)


def _arrow_batches(
    path: Path, layout: Layout, batch_rows: int
) -> Iterator[tuple[pa.RecordBatch, pa.RecordBatch | None]]:
    """(text columns, the same typed or None when a cell would not cast) per batch."""
    names = [f"c{i}" for i in range(layout.width)]
    wanted = [names[i] for _, i in layout.shown]  # REQUIRED, then bar_time and id if present
    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(
            column_names=names, skip_rows=1, block_size=max(1 << 16, batch_rows * 64)
        ),
        parse_options=pcsv.ParseOptions(ignore_empty_lines=False, newlines_in_values=False),
        convert_options=pcsv.ConvertOptions(
            include_columns=wanted,
            column_types=dict.fromkeys(wanted, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    rows = 0
    typed_schema = pa.schema(
        [pa.field(wanted[0], _INSTANT)] + [pa.field(name, pa.float64()) for name in wanted[3:8]]
    )
    for record in reader:
        if _blank_row(record):
            raise BlankRow(f"a row of empty cells after ~{rows} rows")
        rows += record.num_rows
        texts = record.rename_columns([name for name, _ in layout.shown])
        try:
            typed = record.select([0, 3, 4, 5, 6, 7]).cast(typed_schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            typed = None  # the columns are typed one by one, cut where a cell fails
        yield texts, typed


def _columns(texts: pa.RecordBatch, typed: pa.RecordBatch | None, first_line: int) -> Columns:
    def cells(name: str, convert: Callable[[pa.Array], Exact]) -> list[object]:
        if typed is None:
            return _typed(texts.column(name), convert)
        column = _NUMBERS.get(name, name)
        return _exact(texts.column(name), convert(typed.column(column)))

    return Columns(
        texts.num_rows,
        _text(texts.column("symbol")),
        _text(texts.column("timeframe")),
        cells("ts", _seconds),
        cells("o", _floats),
        cells("h", _floats),
        cells("l", _floats),
        cells("c", _floats),
        cells("v", _floats),
        _text(texts.column("bar_time")) if "bar_time" in texts.schema.names else None,
        {},
        lambda index: _source(texts, first_line, index),
    )


def _source(texts: pa.RecordBatch, first_line: int, index: int) -> dict[str, object]:
    """Row `index` of a batch as the file has it (see `Columns.source`)."""
    out: dict[str, object] = {"line": first_line + index}
    for name, column in zip(texts.schema.names, texts.columns, strict=True):
        out[name] = column[index].as_py()
    return out


def _text(col: pa.Array) -> list[object]:
    if len(col) and pc.all(pc.equal(col, col[0])).as_py():
        return [col[0].as_py()] * len(col)  # one shared str, as a column of one symbol
    return list(col.to_pylist())


Exact = tuple[np.ndarray, np.ndarray]  # values, and where each is exact
_INSTANT = pa.timestamp("us", tz="UTC")
# The typed batch keeps the text batch's column order: ts, o, h, l, c, v.
_NUMBERS = {"ts": 0, "o": 1, "h": 2, "l": 3, "c": 4, "v": 5}


def _floats(col: pa.Array) -> Exact:
    if col.type != pa.float64():
        col = pc.cast(col, pa.float64())
    values = col.to_numpy(zero_copy_only=False)
    return values, np.isfinite(values)


def _seconds(col: pa.Array) -> Exact:
    if col.type != _INSTANT:
        col = pc.cast(col, _INSTANT)
    micros = col.cast(pa.int64()).to_numpy()
    seconds = micros / 1e6  # float64(µs) is exact below 2**53; one correctly rounded division
    return seconds, (np.abs(micros) < _EXACT_US) & (np.abs(seconds) < _MS_THRESHOLD)


def _typed(
    col: pa.Array, convert: Callable[[pa.Array], Exact], budget: list[int] | None = None
) -> list[object]:
    """Floats where exact, text elsewhere (see the module docstring): a column that fails
    its cast is cut in halves until the failing cells are found — up to `_CUTS` failed
    casts a column; past that (a column of epoch numbers for `ts`, say) the slices still
    failing stay text."""
    budget = [_CUTS] if budget is None else budget
    try:
        converted = convert(col)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        budget[0] -= 1
        if len(col) <= _SMALLEST_CUT or budget[0] <= 0:
            return list(col.to_pylist())
        half = len(col) // 2
        return _typed(col.slice(0, half), convert, budget) + _typed(
            col.slice(half), convert, budget
        )
    return _exact(col, converted)


def _exact(text: pa.Array, converted: Exact) -> list[object]:
    values, exact = converted
    out: list[object] = values.tolist()
    if not exact.all():
        inexact = np.flatnonzero(~exact)
        for index, cell in zip(inexact.tolist(), text.take(inexact).to_pylist(), strict=True):
            out[index] = cell
    return out
