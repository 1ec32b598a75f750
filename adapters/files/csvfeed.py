"""The bundled sample feed: a CSV export of `tv_datafeed` played as a live source."""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from adapters.files.timefmt import parse_iso


def read_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


class SampleFeed:
    """The bundled sample file as a live source: the head is warm-up history, the tail
    streams at `speed` x real time with the rows' own receipt times as the clock."""

    name = "sample feed"
    is_live_feed = False  # simulated time: orders never follow

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
