"""`replay --broker paper` on the bundled sample: trades, P&L, summary; deterministic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from worker.settings import SAMPLE_FEED

ROOT = Path(__file__).resolve().parents[2]


def _paper_replay(out: Path) -> dict:
    _run_paper_replay(out)
    return json.loads((out / "summary.json").read_text())


def _run_paper_replay(out: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "worker", "replay", "--input", str(SAMPLE_FEED), "--symbol",
         "MES", "--out", str(out), "--broker", "paper", "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def test_paper_replay_trades_and_is_deterministic(tmp_path: Path) -> None:
    first = _paper_replay(tmp_path / "a")
    second = _paper_replay(tmp_path / "b")
    paper = first["paper"]
    assert paper["trades"] > 0 and paper["wins"] + paper["losses"] <= paper["trades"]
    assert paper["net"] == round(paper["gross"] - paper["fees"], 2)
    assert first["decisions_by_reason"].get("HOLD.position_open", 0) > 0  # the book gates
    assert paper == second["paper"]
    for name in ("bars.jsonl", "decisions.jsonl", "trades.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_paper_replay_writes_one_line_per_round_trip_and_keeps_stdout_quiet(
    tmp_path: Path,
) -> None:
    done = _run_paper_replay(tmp_path)
    paper = json.loads((tmp_path / "summary.json").read_text())["paper"]
    trades = [json.loads(line) for line in (tmp_path / "trades.jsonl").read_text().splitlines()]
    assert len(trades) == paper["trades"] > 0
    assert list(trades[0]) == [
        "account", "symbol", "side", "size", "entry_time", "entry_price", "exit_time",
        "exit_price", "exit_reason", "ticks", "gross", "fees", "net", "duration_s", "tag",
    ]  # fmt: skip
    for trade in trades:
        assert trade["side"] in ("buy", "sell") and trade["exit_reason"] in ("stop", "target")
        assert trade["ticks"] == (80 if trade["exit_reason"] == "target" else -40)
        assert trade["gross"] == trade["ticks"] * 1.25 * trade["size"]
        assert trade["net"] == round(trade["gross"] - trade["fees"], 2)
        away = 1 if trade["side"] == "buy" else -1
        assert away * (trade["exit_price"] - trade["entry_price"]) == trade["ticks"] * 0.25
        assert trade["exit_time"] >= trade["entry_time"] and trade["duration_s"] >= 0
        assert trade["tag"].startswith("rt-replay-MES-")
    assert round(sum(t["net"] for t in trades), 2) == paper["net"]
    assert [t["exit_time"] for t in trades] == sorted(t["exit_time"] for t in trades)
    # The file is the record: no log line per fill or exit (nor per decision) on stdout.
    names = [json.loads(line)["event"] for line in done.stdout.splitlines() if line.strip()]
    assert names and all(name.startswith(("replay_", "row_")) for name in names), names
