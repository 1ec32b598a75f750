"""`replay --broker paper` on the bundled sample: trades, P&L, summary; deterministic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from worker.settings import SAMPLE_FEED

ROOT = Path(__file__).resolve().parents[2]


def _paper_replay(out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "worker", "replay", "--input", str(SAMPLE_FEED), "--symbol",
         "MES", "--out", str(out), "--broker", "paper", "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads((out / "summary.json").read_text())


def test_paper_replay_trades_and_is_deterministic(tmp_path: Path) -> None:
    first = _paper_replay(tmp_path / "a")
    second = _paper_replay(tmp_path / "b")
    paper = first["paper"]
    assert paper["trades"] > 0 and paper["wins"] + paper["losses"] <= paper["trades"]
    assert paper["net"] == round(paper["gross"] - paper["fees"], 2)
    assert first["decisions_by_reason"].get("HOLD.position_open", 0) > 0  # the book gates
    assert paper == second["paper"]
    for name in ("bars.jsonl", "decisions.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
