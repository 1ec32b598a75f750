"""Replay through the CLI, plain and fully quoted files: one row dated 2030 costs only
itself, a genuine outage costs nothing, and `--symbol mes` is MES."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.feedgen import HEADER, iso, make_rows, write_csv

ROOT = Path(__file__).resolve().parents[2]
BAD_ROW = ["99999", "2030-01-01T00:00:30+00:00", "MES", "1", "6000", "6001", "5999", "6000", "5"]
FORMS = ("plain", "quoted")


def _write(path: Path, rows: list[list[str]], form: str) -> Path:
    """A plain export, or the same rows with every cell quoted."""
    if form == "plain":
        return write_csv(path, rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _replay(path: Path, out: Path, symbol: str = "MES") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "worker", "replay", "--input", str(path), "--symbol", symbol,
         "--out", str(out), "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        "summary": json.loads((out / "summary.json").read_text()),
        "bars": (out / "bars.jsonl").read_bytes(),
        "decisions": (out / "decisions.jsonl").read_bytes(),
    }


@pytest.fixture(scope="module")
def rows() -> list[list[str]]:
    return make_rows(6000)


@pytest.mark.parametrize("form", FORMS)
def test_one_2030_row_gives_the_same_bars_and_decisions_plus_one_rejection(
    rows: list[list[str]], form: str, tmp_path: Path
) -> None:
    middle = len(rows) // 2
    base = _replay(_write(tmp_path / "base.csv", rows, form), tmp_path / "base")
    bad = [*rows[:middle], BAD_ROW, *rows[middle:]]
    got = _replay(_write(tmp_path / "bad.csv", bad, form), tmp_path / "bad")
    assert got["bars"] == base["bars"]
    assert got["decisions"] == base["decisions"]
    assert b'"at":"2030' not in got["decisions"]
    summary, reference = got["summary"], base["summary"]
    assert isinstance(summary, dict) and isinstance(reference, dict)
    assert summary["rejected_by_reason"] == {**reference["rejected_by_reason"], "time_jump": 1}
    assert summary["late"] == reference["late"] == 0


@pytest.mark.parametrize("form", FORMS)
def test_a_ten_day_outage_rejects_nothing(form: str, tmp_path: Path) -> None:
    before = make_rows(3000, quirks=False)
    after = make_rows(3000, quirks=False, seed=8, start=1_750_024_800 + 3000 * 60 + 10 * 86_400)
    for i, row in enumerate(after):
        row[0] = str(len(before) + i + 1)
    got = _replay(_write(tmp_path / "outage.csv", before + after, form), tmp_path / "out")
    summary = got["summary"]
    assert isinstance(summary, dict)
    assert summary["rows_rejected"] == 0 and summary["late"] == 0
    assert summary["rows_accepted"] == 6000
    lines = got["decisions"]
    assert isinstance(lines, bytes)
    last_close = 1_750_024_800 + 3000 * 60 + 10 * 86_400 + 3000 * 60
    assert json.loads(lines.splitlines()[-1])["at"] == iso(last_close)[:19] + "Z"


def test_symbol_given_in_lower_case_is_served(rows: list[list[str]], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "feed.csv", rows[:1000])
    upper = _replay(path, tmp_path / "upper")
    lower = _replay(path, tmp_path / "lower", symbol="mes")
    assert lower["bars"] == upper["bars"] and upper["bars"]
    assert lower["decisions"] == upper["decisions"]
