"""CSV exports of `tv_datafeed`: fast replay reading and the paced sample feed."""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
from collections.abc import AsyncIterator, Collection, Iterator
from pathlib import Path
from typing import Any

from adapters.files.timefmt import parse_iso
from engine.model import Bar1m, Rejection
from engine.normalize import normalize_fields

REQUIRED = ("ts", "symbol", "timeframe", "o", "h", "l", "c", "v")


class CsvFormatError(ValueError):
    """The file is not a `tv_datafeed` export (header lacks a required column)."""


def read_normalized(
    path: Path, symbols: Collection[str], tolerance_s: float
) -> Iterator[tuple[Bar1m | Rejection, list[str]]]:
    """Rows in file order (= arrival order), normalized; extra columns ignored."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise CsvFormatError(f"{path}: header lacks {', '.join(missing)}")
        i_ts, i_sym, i_tf, i_o, i_h, i_l, i_c, i_v = (header.index(n) for n in REQUIRED)
        i_bt = header.index("bar_time") if "bar_time" in header else None
        width = len(header)
        for row in reader:
            if len(row) != width:
                yield Rejection("malformed_csv_row", f"{len(row)} columns"), row
                continue
            yield normalize_fields(
                row[i_sym], row[i_tf], row[i_ts], row[i_o], row[i_h], row[i_l], row[i_c],
                row[i_v], None if i_bt is None else row[i_bt], symbols, tolerance_s,
            ), row  # fmt: skip


def read_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


class SampleFeed:
    """The bundled sample file as a live source: the head is warm-up history, the tail
    streams at `speed` x real time with the rows' own receipt times as the clock."""

    name = "sample feed"

    def __init__(self, path: Path, speed: float, live_rows: int) -> None:
        rows = read_rows(path)
        cut = max(0, len(rows) - live_rows)
        self.path = path
        self.counts: Counter[str] = Counter()  # the live sources' counters; none here
        self._history, self._live = rows[:cut], rows[cut:]
        self._speed = speed

    async def warm_up_rows(self) -> AsyncIterator[dict[str, Any]]:
        for row in self._history:
            yield row

    async def events(self) -> AsyncIterator[tuple[str, dict[str, Any], float | None]]:
        """("row", row, None): arrival None = the row's own receipt time (simulated)."""
        previous: float | None = None
        for row in self._live:
            received = _receipt(row)
            if previous is not None and received is not None and received > previous:
                await asyncio.sleep(min((received - previous) / self._speed, 5.0))
            elif previous is not None:
                await asyncio.sleep(0)
            previous = received if received is not None else previous
            yield "row", row, None


def _receipt(row: dict[str, Any]) -> float | None:
    try:
        return parse_iso(str(row.get("ts") or ""))
    except ValueError:
        return None
