"""`python -m worker run`: the live loop on a CSV feed, its log contract, and replay parity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.feedgen import make_rows, write_csv

ROOT = Path(__file__).resolve().parents[2]


def _run(env_extra: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE", "TRADING"))}
    env.update({"LOG_FORMAT": "json", "SAMPLE_SPEED": "10000000", "BROKER": "none", **env_extra})
    return subprocess.run(
        [sys.executable, "-m", "worker", "run"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=timeout, check=False,
    )  # fmt: skip


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("feed") / "feed.csv", make_rows(5000))


def test_live_run_equals_replay_of_the_same_rows(feed: Path, tmp_path: Path) -> None:
    live, replayed = tmp_path / "live", tmp_path / "replay"
    done = _run({"SAMPLE_FEED": str(feed), "SAMPLE_LIVE_ROWS": "100000", "OUT_DIR": str(live)})
    assert done.returncode == 0, done.stderr
    replay = subprocess.run(
        [sys.executable, "-m", "worker", "replay", "--input", str(feed), "--symbol", "MES",
         "--out", str(replayed), "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    for name in ("bars.jsonl", "decisions.jsonl"):
        assert (live / name).read_bytes() == (replayed / name).read_bytes(), name
    assert (live / "decisions.jsonl").read_text().count('"BUY"') > 0


def test_live_run_log_contract(feed: Path) -> None:
    done = _run({"SAMPLE_FEED": str(feed), "SAMPLE_LIVE_ROWS": "2500", "BROKER": "paper"})
    assert done.returncode == 0, done.stderr
    events = _events(done.stdout)
    names = [e["event"] for e in events]
    started = events[0]
    assert started["event"] == "worker_started" and started["sample_feed"] is True
    assert started["dry_run"] is True and "SAMPLE FEED" in started["message"]
    assert names.index("warmup_done") < names.index("market_state")
    state = next(e for e in events if e["event"] == "market_state")
    assert set(state["frames"]["5m"]) >= {"close", "ema", "slope", "regime"}
    plans = [e for e in events if e["event"] == "action_plan"]
    assert plans and all(
        {"account", "symbol", "at", "action", "reason_code", "regimes", "slopes"} <= set(p)
        for p in plans
    )
    entries = [p for p in plans if p["action"] in ("BUY", "SELL")]
    skipped = [e for e in events if e["event"] == "order_skipped"]
    assert entries, "the feed should produce at least one BUY/SELL after warm-up"
    assert len(skipped) == len(entries)
    for plan, skip in zip(entries, skipped, strict=True):
        assert skip["reason"] == "trading disabled"
        assert skip["side"] == plan["action"].lower() and skip["at"] == plan["at"]
        assert skip["account"] == "sample" and skip["size"] == 1 and skip["contract"] == "MES"
        assert skip["tag"].startswith("rt-sample-MES-")
    assert len({s["tag"] for s in skipped}) == len(skipped)
    assert names[-1] == "worker_stopped"
    assert all(e["timestamp"].endswith("Z") for e in events)


def test_bad_setting_stops_at_start_with_one_line() -> None:
    done = _run({"WARMUP_BARS": "-3"})
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("config error: WARMUP_BARS:")
    assert "example: WARMUP_BARS=60" in lines[0]


def test_worker_started_states_a_flat_window_across_midnight_in_words() -> None:
    done = _run({"SAMPLE_LIVE_ROWS": "5", "FLAT_WINDOW_START": "22:00", "FLAT_WINDOW_END": "02:00"})
    assert done.returncode == 0, done.stderr
    started = _events(done.stdout)[0]
    assert started["event"] == "worker_started"
    assert started["flat_window"] == "22:00 -> 02:00 America/Chicago, across midnight, 4 h"


def test_check_config_masks_secrets() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE")}
    env |= {"SUPABASE_URL": "https://abcd.supabase.co", "SUPABASE_KEY": "sb-very-secret-key"}
    done = subprocess.run(
        [sys.executable, "-m", "worker", "check-config"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["SUPABASE_KEY"] == "***" and shown["SUPABASE_URL"] == "https://abcd.supabase.co"
    assert "sb-very-secret-key" not in done.stdout + done.stderr


def test_make_run_default_streams_the_bundled_sample_feed() -> None:
    done = _run({"BROKER": ""})  # unset: the default, paper without ProjectX credentials
    assert done.returncode == 0, done.stderr
    events = _events(done.stdout)
    assert events[0]["event"] == "worker_started" and events[0]["sample_feed"] is True
    assert events[0]["broker"] == "paper" and events[0]["trading_enabled"] is False
    names = [e["event"] for e in events]
    assert {"warmup_done", "market_state", "action_plan", "order_skipped"} <= set(names)
    assert names.count("row_rejected") >= 2 and "row_conflict" in names  # its quirks show
    assert names[-1] == "worker_stopped"
