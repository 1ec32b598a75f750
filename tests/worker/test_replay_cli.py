"""`python -m worker replay` refuses what it cannot do in one stderr line and exit 2 (no
traceback), and never leaves output that looks complete when it is not: summary.json is
written last, atomically, and one left by an earlier run is removed at start."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.livekit import insert_now, recent_rows
from tests.e2e.test_worker_config import clean_env, run_cli
from tests.fakes.pg_fixtures import API_KEY
from tests.fakes.ports import ReservedPort
from tests.fakes.postgrest import FakePostgrest
from tests.feedgen import make_rows, write_csv


def replay(*args: str) -> list[str]:
    return ["replay", "--symbol", "MES", "--no-progress", *args]


def assert_one_line(result: subprocess.CompletedProcess[str], prefix: str, *words: str) -> None:
    shown = f"rc={result.returncode}\nstdout={result.stdout[-1500:]}\nstderr={result.stderr!r}"
    assert "Traceback" not in result.stderr + result.stdout, shown
    assert result.returncode == 2, shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1, shown
    assert lines[0].startswith(prefix), shown
    assert all(word in lines[0] for word in words), shown


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "feed.csv", make_rows(400))


def unwritable(tmp_path: Path) -> Path:
    """A directory this process cannot write into (root writes anywhere but sysfs)."""
    if os.geteuid() == 0:
        return Path("/sys/kernel/reduction-trigger-test-out")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    return locked / "out"


@pytest.mark.parametrize("case", ["is_a_file", "under_a_file", "not_writable"])
def test_an_out_that_cannot_hold_the_output_is_one_line(
    case: str, feed: Path, tmp_path: Path
) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("not a directory\n")
    out = {"is_a_file": a_file, "under_a_file": a_file / "out",
           "not_writable": unwritable(tmp_path)}[case]  # fmt: skip
    result = run_cli(replay("--input", str(feed), "--out", str(out)), clean_env(), tmp_path)
    assert_one_line(result, "config error: --out: ", str(out))
    assert a_file.read_text() == "not a directory\n"


@pytest.mark.parametrize(
    ("case", "words"),
    [("a_directory", ("directory",)), ("missing", ("no such file",)), ("absent", ("required",))],
)
def test_an_input_that_is_not_a_file_is_one_line(
    case: str, words: tuple[str, ...], tmp_path: Path
) -> None:
    given = {"a_directory": ["--input", str(tmp_path)],
             "missing": ["--input", str(tmp_path / "nope.csv")], "absent": []}[case]  # fmt: skip
    out = tmp_path / "out"
    result = run_cli(replay(*given, "--out", str(out)), clean_env(), tmp_path)
    assert_one_line(result, "config error: --input: ", *words)
    assert not out.exists()  # refused before anything was written


async def test_supabase_unreachable_or_refusing_is_one_line(
    pg_dsn: str, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    since = ["--source", "supabase", "--since", "2025-06-16T00:00:00Z"]
    with ReservedPort() as down:
        env = clean_env(SUPABASE_URL=down.url, SUPABASE_KEY=API_KEY)
        result = await asyncio.to_thread(
            run_cli, replay(*since, "--out", str(tmp_path / "a")), env, tmp_path
        )
    assert_one_line(result, "replay error: SUPABASE_URL: ", "ConnectError")
    env = clean_env(SUPABASE_URL=fake_postgrest.url, SUPABASE_KEY="wrong-key")
    result = await asyncio.to_thread(
        run_cli, replay(*since, "--out", str(tmp_path / "b")), env, tmp_path
    )
    assert_one_line(result, "config error: SUPABASE_KEY: ", "401")
    assert "wrong-key" not in result.stdout + result.stderr
    assert not (tmp_path / "a" / "summary.json").exists()
    assert not (tmp_path / "b" / "summary.json").exists()


async def test_a_replay_that_stops_midway_leaves_no_summary(
    pg_dsn: str, fake_postgrest: FakePostgrest, tmp_path: Path
) -> None:
    """A summary.json from an earlier, complete run is gone before the new one reads a
    row; the new one fails on its third page: its lines so far stay, no summary."""
    rows = recent_rows(300, seed=4)
    insert_now(pg_dsn, rows)
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"rows_read": 12345}\n')
    fake_postgrest.fail_next(1, status=500, after=2)
    env = clean_env(SUPABASE_URL=fake_postgrest.url, SUPABASE_KEY=API_KEY, HISTORY_PAGE_SIZE="50")
    args = replay("--source", "supabase", "--since", rows[0]["ts"], "--out", str(out))
    result = await asyncio.to_thread(run_cli, args, env, tmp_path)
    assert_one_line(result, "replay error: SUPABASE_URL: ", "500", "no summary.json")
    assert not (out / "summary.json").exists()
    assert (out / "bars.jsonl").read_text().count("\n") > 0  # the first 100 rows' bars
    assert sorted(p.name for p in out.iterdir()) == ["bars.jsonl", "decisions.jsonl", "run.json"]


def test_a_complete_replay_writes_its_summary_last(feed: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(replay("--input", str(feed), "--out", str(out)), clean_env(), tmp_path)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["bars.jsonl", "decisions.jsonl", "run.json", "summary.json"]  # no temporary
    summary = out / "summary.json"
    assert all(summary.stat().st_mtime_ns >= (out / n).stat().st_mtime_ns for n in names)
    data_lines = len(feed.read_text().splitlines()) - 1
    assert json.loads(summary.read_text())["rows_read"] == data_lines


def test_a_field_over_the_csv_limit_is_one_rejected_row(tmp_path: Path) -> None:
    rows = make_rows(2000, quirks=False)
    huge = list(rows[1000])
    huge[2] = "M" * (csv.field_size_limit() + 1)  # the symbol cell
    with_huge = write_csv(tmp_path / "huge.csv", [*rows[:1000], huge, *rows[1000:]])
    plain = write_csv(tmp_path / "plain.csv", rows)
    results = {}
    for name, path in (("huge", with_huge), ("plain", plain)):
        out = tmp_path / name
        done = run_cli(replay("--input", str(path), "--out", str(out)), clean_env(), tmp_path)
        assert done.returncode == 0, done.stderr
        results[name] = out
    summary = json.loads((results["huge"] / "summary.json").read_text())
    assert summary["rejected_by_reason"] == {"field_too_large": 1}
    for name in ("bars.jsonl", "decisions.jsonl"):
        assert (results["huge"] / name).read_bytes() == (results["plain"] / name).read_bytes()
