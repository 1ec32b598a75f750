"""The replay's progress bar (on stderr) ends at 100% when the whole file was read, even
when its estimate from the first lines' length falls short."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.feedgen import make_rows
from worker.replay import replay_csv
from worker.settings import Settings


def test_the_progress_bar_ends_at_100_percent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = make_rows(3000, quirks=False)
    # Short lines first, long ones after (a wide note column): the bar's bytes-per-row
    # estimate, taken from the first 64 KiB, falls short of the rows to come.
    lines = [",".join([*row, "x" * (200 if i >= 2000 else 0)]) for i, row in enumerate(rows)]
    path = tmp_path / "feed.csv"
    path.write_text("\n".join(["id,ts,symbol,timeframe,o,h,l,c,v,note", *lines]) + "\n")
    replay_csv(path, "MES", tmp_path / "out", Settings(), progress=True)
    err = capsys.readouterr().err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "100%" in last, last
