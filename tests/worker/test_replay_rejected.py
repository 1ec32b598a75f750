"""A row replay rejects can be found in the file: its `row_rejected` line gives the file
line it starts on, its `id` and its cells, however the file is quoted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.feedgen import make_rows
from worker.replay import replay_csv
from worker.settings import Settings

HEADER = "id,ts,symbol,timeframe,o,h,l,c,v,ema21"


def _lines(quoted: bool) -> list[str]:
    rows = [",".join([*row, ""]) for row in make_rows(400, quirks=False)]
    cells = rows[250].split(",")
    cells[5] = "6000.5x"  # a high that is not a number (o h l c v are cells 4..8)
    rows[250] = ",".join(cells)
    if quoted:  # a quoted cell may span lines
        rows[10] = rows[10][: -len(",")] + ',"a note\nover two lines"'
        rows[300] = rows[300] + ",one too many"
    return [HEADER, *rows]


def _rejected(tmp_path: Path, quoted: bool) -> list[dict[str, Any]]:
    path = tmp_path / "feed.csv"
    path.write_text("\n".join(_lines(quoted)) + "\n")
    with capture_logs() as logs:
        replay_csv(path, "MES", tmp_path / "out", Settings())
    return [e["row"] for e in logs if e["event"] == "row_rejected"]


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_a_rejected_row_logs_its_line_id_and_cells(tmp_path: Path, quoted: bool) -> None:
    lines = _lines(quoted)
    shift = 1 if quoted else 0  # the quoted cell's second line
    bad_price, *others = _rejected(tmp_path, quoted)
    # the header is line 1, data row k (from 0) is line k + 2
    cells = lines[251].split(",")
    assert bad_price == {
        "line": 252 + shift, "id": cells[0], "ts": cells[1], "symbol": "MES", "timeframe": "1",
        "o": cells[4], "h": "6000.5x", "l": cells[6], "c": cells[7], "v": cells[8],
    }  # fmt: skip
    assert (Path(tmp_path / "feed.csv").read_text().splitlines()[251 + shift]).startswith(
        cells[0] + ","
    )  # that line of the file is that row
    if quoted:
        assert others == [{"line": 302 + shift, "cells": lines[301].split(",")}]
    else:
        assert others == []
