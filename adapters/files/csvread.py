"""Reading `tv_datafeed` CSV exports for replay: rows in file order, normalized.

Kept apart from the sample feed (csvfeed.py): this module is on the compiled hot path
(worker/native.py), which cannot hold async generators.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator
from pathlib import Path

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
        i_ts, i_sym, i_tf, i_o, i_h, i_l, i_c, i_v = [header.index(n) for n in REQUIRED]
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
