"""The mypyc-compiled hot path: built by `make`, and indistinguishable from the sources.

The compiled modules are built from the same sources (tools/build_native.py); what could
differ is behaviour mypyc defines differently (type checks at boundaries, int/float
conversions). A replay with quirks (disorder, duplicates, conflicts, bad rows, gaps) run
once compiled and once from a copy of the sources with no compiled module must give the
same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.feedgen import make_rows, write_csv
from worker.native import HOT_MODULES, build_name, native_modules, stale_modules

ROOT = Path(__file__).resolve().parents[2]


def _replay(cwd: Path, csv_path: Path, out: Path, pythonpath: str) -> list[dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    done = subprocess.run(
        [sys.executable, "-m", "worker", "replay", "--input", str(csv_path), "--symbol", "MES",
         "--out", str(out), "--no-progress"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = (
        json.loads(line)
        for line in (done.stdout + done.stderr).splitlines()
        if line.startswith("{")
    )
    return [line for line in lines if "event" in line]


def test_the_build_is_whole_and_ci_runs_it_compiled() -> None:
    assert set(native_modules()) == set(HOT_MODULES)
    assert build_name() != "mixed", native_modules()  # a partial build is never run
    if os.environ.get("CI"):  # `make test` built it; CI's machine has a C compiler
        assert build_name() == "compiled", native_modules()


def test_interpreted_and_compiled_replays_are_byte_identical(tmp_path: Path) -> None:
    feed = write_csv(tmp_path / "feed.csv", make_rows(12_000, seed=7))
    pure = tmp_path / "pure"
    for package in ("engine", "adapters", "worker"):
        shutil.copytree(
            ROOT / package, pure / package,
            ignore=shutil.ignore_patterns("*.so", "__pycache__"),
        )  # fmt: skip
    guard = os.environ.get("PYTHONPATH", "")

    native_logs = _replay(ROOT, feed, tmp_path / "native", guard)
    pure_logs = _replay(pure, feed, tmp_path / "interpreted", os.pathsep.join((str(pure), guard)))

    started = {log["event"]: log for log in pure_logs}["replay_started"]
    assert started["engine_build"] == "interpreted"  # the copy ran, not the compiled build
    native_started = {log["event"]: log for log in native_logs}["replay_started"]
    assert native_started["engine_build"] == build_name()
    for name in ("bars.jsonl", "decisions.jsonl"):
        native = (tmp_path / "native" / name).read_bytes()
        assert native == (tmp_path / "interpreted" / name).read_bytes(), name
        assert native.count(b"\n") > 500
    counts = [
        {k: v for k, v in json.loads((tmp_path / run / "summary.json").read_text()).items()
         if k not in ("wall_time_s", "rows_per_second")}
        for run in ("native", "interpreted")
    ]  # fmt: skip
    assert counts[0] == counts[1]
    assert counts[0]["duplicates"] > 0 and counts[0]["conflicts"] > 0


@pytest.mark.parametrize("name", HOT_MODULES)
def test_every_hot_module_has_its_source(name: str) -> None:
    assert (ROOT / (name.replace(".", "/") + ".py")).is_file()


def _copy_checkout(dest: Path) -> Path:
    for package in ("engine", "adapters", "worker", "tools"):
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("*.so"))
    return dest


def _check_config(checkout: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE", "PROJECTX"))}
    env["PYTHONPATH"] = os.pathsep.join((str(checkout), os.environ.get("PYTHONPATH", "")))
    return subprocess.run(
        [sys.executable, "-m", "worker", "check-config"],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_build_older_than_its_sources_refuses_to_start(tmp_path: Path) -> None:
    """After a `git pull` without a rebuild the compiled modules would run old code."""
    checkout = _copy_checkout(tmp_path)
    built = checkout / "engine" / "aggregator.stale-test.so"  # never importable: a marker
    built.write_bytes(b"")
    source_time = max(
        path.stat().st_mtime for folder in ("engine", "adapters", "worker")
        for path in (checkout / folder).rglob("*.py")
    )  # fmt: skip
    os.utime(built, (source_time + 60, source_time + 60))  # newer than every source
    fresh = _check_config(checkout)
    assert fresh.returncode == 0, fresh.stderr[-2000:]

    os.utime(checkout / "engine" / "model.py", (source_time + 120, source_time + 120))
    old = _check_config(checkout)
    assert old.returncode == 2
    lines = old.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in old.stderr
    assert "older than their sources (engine/aggregator.stale-test.so)" in lines[0]
    assert "make .venv/.native" in lines[0]


def test_no_stale_check_outside_a_source_checkout(tmp_path: Path) -> None:
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "aggregator.py").write_text("")
    (tmp_path / "engine" / "aggregator.x.so").write_bytes(b"")
    os.utime(tmp_path / "engine" / "aggregator.x.so", (0, 0))
    assert stale_modules(tmp_path) == []  # an installed package: nothing built in place
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "build_native.py").write_text("")
    assert stale_modules(tmp_path) == ["engine/aggregator.x.so"]
