"""Reading `tv_datafeed` CSV exports for replay: rows in file order, in column batches.

Two readers give the same batches (tested cell by cell, tests/adapters/test_csvread.py):
- the columnar one (adapters/files/arrowcsv.py, pyarrow) for a plain file — no quote
  character, no NUL, no line break first — parses in C++ and hands over numbers and
  receipt times already typed, each exactly the float Python's own parse gives; a cell it
  cannot type that way stays text, for `normalize_fields` to judge as it judges live rows;
- the csv module, row by row, for anything else, and from the first batch the columnar
  reader could not read (a row with the wrong number of cells, an empty line) to the end.
Which reader reads, and from which row the csv module takes over, is logged
(`replay_reader`).

Kept apart from the sample feed (csvfeed.py): this module is on the compiled hot path
(worker/native.py), which cannot hold async generators.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Protocol

import structlog

from engine.model import Bar1m, Rejection
from engine.normalize import normalize_fields

REQUIRED = ("ts", "symbol", "timeframe", "o", "h", "l", "c", "v")
OPTIONAL = ("bar_time",)
BATCH_ROWS = 65_536


class CsvFormatError(ValueError):
    """The file is not a `tv_datafeed` export (header lacks a required column)."""


class Layout:
    """Where the columns the engine reads sit in a file, from its header."""

    def __init__(self, path: Path) -> None:
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            try:
                header = [name.strip().lower() for name in next(csv.reader(handle), [])]
            except csv.Error as exc:
                raise CsvFormatError(f"{path}: unreadable header ({exc})") from None
            sample = handle.read(65_536)
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise CsvFormatError(f"{path}: header lacks {', '.join(missing)}")
        self.width = len(header)
        # First occurrence of each name, in REQUIRED order, then bar_time when present.
        self.picks = [header.index(name) for name in REQUIRED]
        self.bar_time: int | None = header.index("bar_time") if "bar_time" in header else None
        self.id: int | None = header.index("id") if "id" in header else None
        # The cells a rejected row's log line shows, by name, in this order (`Columns.source`).
        self.shown = list(zip(REQUIRED, self.picks, strict=True))
        if self.bar_time is not None:
            self.shown.append(("bar_time", self.bar_time))
        if self.id is not None:
            self.shown.append(("id", self.id))
        lines = sample.count("\n")
        self.line_bytes = len(sample.encode()) / lines if lines else 64.0


@dataclass
class Columns:
    """A batch of consecutive rows, one list per column the engine reads.

    A cell is text as the file has it, or (columnar reader) the float its text parses to.
    `malformed` maps a row's index in the batch to its rejection when the csv module
    could not give the row as the header has it: a wrong cell count, or a field over its
    size limit (the row's cells are then empty placeholders). `source(i)` is row i as the
    file has it, for a log line: `line` (the file line it starts on; the header is line
    1), its `id` and the cells the engine reads as text by column name (`Layout.shown`),
    or, for a malformed row, all its `cells`."""

    n: int
    symbol: list[object]
    timeframe: list[object]
    ts: list[object]
    o: list[object]
    h: list[object]
    low: list[object]
    c: list[object]
    v: list[object]
    bar_time: list[object] | None
    malformed: dict[int, Rejection]
    source: Callable[[int], dict[str, object]]


def read_columns(
    path: Path, columnar: bool = True, batch_rows: int = BATCH_ROWS
) -> Iterator[Columns]:
    """Every data row of `path` in file order, in batches. Raises CsvFormatError first
    when the header lacks a required column."""
    layout = Layout(path)
    log = structlog.get_logger("replay")
    done = 0
    if columnar:
        from adapters.files import arrowcsv

        if arrowcsv.plain(path):
            log.info("replay_reader", reader="columnar")
            try:
                for batch in arrowcsv.batches(path, layout, batch_rows):
                    yield batch
                    done += batch.n
                return
            except arrowcsv.ReadError as exc:  # this and every later row: the csv module's
                log.info(
                    "replay_reader", reader="csv_module", from_row=done + 1,
                    reason=str(exc)[:200],
                )  # fmt: skip
        else:
            log.info("replay_reader", reader="csv_module", from_row=1,
                     reason="not plain: a quote, a NUL or a line break first")  # fmt: skip
    yield from _csv_batches(path, layout, done, batch_rows)


def _csv_batches(path: Path, layout: Layout, skip: int, batch_rows: int) -> Iterator[Columns]:
    width, bar_time = layout.width, layout.bar_time
    i_ts, i_sym, i_tf, i_o, i_h, i_l, i_c, i_v = layout.picks
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        rows = islice(_numbered(reader), skip, None)
        while True:
            numbered = list(islice(rows, batch_rows))
            if not numbered:
                return
            lines = [line for line, _ in numbered]
            malformed: dict[int, Rejection] = {}
            raw: dict[int, list[str]] = {}  # the cells of a row of the wrong width
            chunk: list[list[str]] = []
            for index, (_, row) in enumerate(numbered):
                if isinstance(row, Rejection):
                    malformed[index] = row
                elif len(row) != width:
                    malformed[index] = malformed_row(len(row))
                    raw[index] = row
                else:
                    chunk.append(row)
                    continue
                chunk.append([""] * width)
            yield Columns(
                len(chunk),
                [row[i_sym] for row in chunk],
                [row[i_tf] for row in chunk],
                [row[i_ts] for row in chunk],
                [row[i_o] for row in chunk],
                [row[i_h] for row in chunk],
                [row[i_l] for row in chunk],
                [row[i_c] for row in chunk],
                [row[i_v] for row in chunk],
                None if bar_time is None else [row[bar_time] for row in chunk],
                malformed,
                _row_source(layout, lines, chunk, raw, malformed),
            )


class _LineReader(Protocol):
    """A csv module reader: rows, and how many lines it has read so far."""

    @property
    def line_num(self) -> int: ...

    def __iter__(self) -> Iterator[list[str]]: ...


def _numbered(reader: _LineReader) -> Iterator[tuple[int, list[str] | Rejection]]:
    """(file line the row starts on, row): a quoted cell may span lines. A row the csv
    module refuses (a field over `csv.field_size_limit()`) is a rejection in its place,
    and reading goes on at the next line."""
    rows = iter(reader)
    while True:
        line = reader.line_num + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            too_large = "field larger than field limit" in str(exc)
            yield line, Rejection("field_too_large" if too_large else "malformed_csv_row", str(exc))
            continue
        yield line, row


def _row_source(
    layout: Layout,
    lines: list[int],
    chunk: list[list[str]],
    raw: dict[int, list[str]],
    malformed: dict[int, Rejection],
) -> Callable[[int], dict[str, object]]:
    def source(index: int) -> dict[str, object]:
        out: dict[str, object] = {"line": lines[index]}
        cells = raw.get(index)
        if cells is not None:
            out["cells"] = cells
        elif index not in malformed:  # a refused row has no cells to show
            row = chunk[index]
            out.update((name, row[i]) for name, i in layout.shown)
        return out

    return source


def malformed_row(cells: int) -> Rejection:
    return Rejection("malformed_csv_row", f"{cells} columns")


def normalize_batch(
    batch: Columns, symbols: Collection[str], tolerance_s: float
) -> list[Bar1m | Rejection]:
    """Each row of a batch through the live `normalize_fields`."""
    out: list[Bar1m | Rejection] = []
    bar_time, malformed = batch.bar_time, batch.malformed
    for i in range(batch.n):
        if malformed and i in malformed:
            out.append(malformed[i])
            continue
        out.append(
            normalize_fields(
                batch.symbol[i], batch.timeframe[i], batch.ts[i], batch.o[i], batch.h[i],
                batch.low[i], batch.c[i], batch.v[i], None if bar_time is None else bar_time[i],
                symbols, tolerance_s,
            )
        )  # fmt: skip
    return out


def read_normalized(
    path: Path, symbols: Collection[str], tolerance_s: float, columnar: bool = True
) -> Iterator[Bar1m | Rejection]:
    """Rows in file order (= arrival order), normalized; extra columns ignored."""
    for batch in read_columns(path, columnar):
        yield from normalize_batch(batch, symbols, tolerance_s)
