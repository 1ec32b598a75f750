"""`tv_datafeed` CSV exports as sources: a replay's input, and the bundled sample feed.

One reader, the csv module: rows in file order, each a dict of the header's columns
(the first column of a repeated name wins; extra columns travel along unread), with the
line it starts on. A line that is no row — the wrong number of cells, or a cell over
the csv module's size limit — is a `RowUnreadable`, rejected and counted downstream;
reading goes on at the next line. Invalid UTF-8 becomes U+FFFD in its cell.
"""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from operator import itemgetter
from pathlib import Path

from engine.ports import RowReceived, RowUnreadable, SourceEvent
from engine.timefmt import parse_iso

REQUIRED = ("ts", "symbol", "timeframe", "o", "h", "l", "c", "v")


class CsvFormatError(ValueError):
    """The file is not a `tv_datafeed` export (its header lacks a required column)."""


class CsvRows:
    """The rows of one export, as source events, each with its file line (header = 1)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        header = self._header()
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise CsvFormatError(f"{path}: header lacks {', '.join(missing)}")
        self.width = len(header)
        self.names = list(dict.fromkeys(header))  # each name once, where it first stands
        self.cells_of = itemgetter(*(header.index(name) for name in self.names))

    def _header(self) -> list[str]:
        with self.path.open(newline="", encoding="utf-8", errors="replace") as handle:
            try:
                return [name.strip().lower() for name in next(csv.reader(handle), [])]
            except csv.Error as exc:
                raise CsvFormatError(f"{self.path}: unreadable header ({exc})") from None

    def __iter__(self) -> Iterator[RowReceived | RowUnreadable]:
        with self.path.open(newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle)
            next(reader, None)  # the header
            while True:
                line = reader.line_num + 1  # a quoted cell may span lines: where it starts
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:  # a cell over csv.field_size_limit()
                    too_large = "field larger than field limit" in str(exc)
                    reason = "field_too_large" if too_large else "malformed_csv_row"
                    yield RowUnreadable(line, reason, str(exc)[:200])
                    continue
                if len(cells) != self.width:
                    detail = f"{len(cells)} columns"
                    yield RowUnreadable(line, "malformed_csv_row", detail, tuple(cells))
                    continue
                row = dict(zip(self.names, self.cells_of(cells), strict=True))
                yield RowReceived(row, line=line)

    def count_lines(self) -> int:
        """Lines in the file (for a progress bar)."""
        with self.path.open("rb") as handle:
            return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


class CsvSource:
    """A replay's input: every row in file order, its own receipt `ts` its time."""

    is_live_feed = False  # time is simulated: orders never follow
    name = "csv"

    def __init__(self, path: Path) -> None:
        self.rows = CsvRows(path)
        self.counts: Counter[str] = Counter()

    async def warm_up(self) -> AsyncIterator[RowReceived | RowUnreadable]:
        return
        yield  # an async generator that yields nothing: a file has no history before it

    async def events(self) -> AsyncIterator[SourceEvent]:
        for event in self.rows:
            yield event


class SampleFeed:
    """The bundled sample file as a live source: the head is warm-up history, the tail
    streams at `speed` x real time with the rows' own receipt times as the clock."""

    is_live_feed = False  # simulated time: orders never follow
    name = "sample feed"

    def __init__(self, path: Path, speed: float, live_rows: int) -> None:
        events = list(CsvRows(path))
        cut = max(0, len(events) - live_rows)
        self.path = path
        self.counts: Counter[str] = Counter()  # the live sources' counters; none here
        self.head, self.tail = events[:cut], events[cut:]  # warm-up history, streamed rows
        self.speed = speed

    async def warm_up(self) -> AsyncIterator[RowReceived | RowUnreadable]:
        for event in self.head:
            yield event

    async def events(self) -> AsyncIterator[SourceEvent]:
        previous: float | None = None
        for event in self.tail:
            received = _receipt(event)
            pause = 0.0
            if previous is not None and received is not None and received > previous:
                pause = min((received - previous) / self.speed, 5.0)
            if previous is not None:
                await asyncio.sleep(pause)
            previous = received if received is not None else previous
            yield event


def _receipt(event: SourceEvent) -> float | None:
    if not isinstance(event, RowReceived):
        return None
    try:
        return parse_iso(str(event.row.get("ts") or ""))
    except ValueError:
        return None
