"""Replay through the CLI: outputs, determinism, counts, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.feedgen import make_rows, write_csv
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _replay(csv_path: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker", "replay", "--input", str(csv_path), "--symbol", "MES",
         "--out", str(out), "--no-progress", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("feed") / "feed.csv", make_rows(6000))


def test_replay_writes_bars_decisions_and_summary(feed: Path, tmp_path: Path) -> None:
    done = _replay(feed, tmp_path)
    assert done.returncode == 0, done.stderr
    bars = [json.loads(line) for line in (tmp_path / "bars.jsonl").read_text().splitlines()]
    decisions = [json.loads(x) for x in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    summary = json.loads((tmp_path / "summary.json").read_text())

    assert set(bars[0]) == {
        "symbol", "timeframe", "open_time", "close_time", "open", "high", "low", "close",
        "volume", "minutes", "ema", "slope", "regime",
    }  # fmt: skip
    assert {b["timeframe"] for b in bars} == {"5m", "15m", "30m"}
    assert bars[0]["open_time"].endswith("Z") and bars[0]["slope"] is None
    assert set(decisions[0]) == {"symbol", "at", "action", "reason_code", "regimes", "slopes"}
    assert summary["bars_per_timeframe"] == {
        tf: sum(1 for b in bars if b["timeframe"] == tf) for tf in ("5m", "15m", "30m")
    }
    # One decision per distinct close instant, and never two for one instant.
    instants = [d["at"] for d in decisions]
    assert len(instants) == len(set(instants)) == len({b["close_time"] for b in bars})
    assert summary["duplicates"] > 0 and summary["conflicts"] > 0
    assert summary["rejected_by_reason"]["high_below_range"] > 0
    assert summary["ignored_by_reason"] == {
        "other_symbol": summary["ignored_by_reason"]["other_symbol"],
        "other_timeframe": summary["ignored_by_reason"]["other_timeframe"],
    }
    actions = summary["decisions_by_action"]
    assert actions.get("BUY", 0) > 0 and actions.get("SELL", 0) > 0 and actions["HOLD"] > 0
    assert sum(actions.values()) == len(decisions)
    assert summary["rows_per_second"] > 0 and summary["wall_time_s"] >= 0


def test_replay_is_byte_identical_across_runs(feed: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert _replay(feed, first).returncode == 0
    assert _replay(feed, second).returncode == 0
    for name in ("bars.jsonl", "decisions.jsonl"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_replay_parameters_change_the_engine(feed: Path, tmp_path: Path) -> None:
    done = _replay(feed, tmp_path, "--warmup-bars", "30", "--ema-period", "9")
    assert done.returncode == 0, done.stderr
    bars = [json.loads(line) for line in (tmp_path / "bars.jsonl").read_text().splitlines()]
    five = [b for b in bars if b["timeframe"] == "5m"]
    assert five[7]["ema"] is None and five[8]["ema"] is not None  # EMA(9): from the 9th bar
    ready = [b for b in five if b["regime"] != "insufficient"]
    assert ready and ready[0] is five[29]  # warm-up of 30 bars


def test_replay_rejects_a_file_that_is_not_an_export(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,open,close\n1,2,3\n")
    done = _replay(bad, tmp_path / "out")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("config error: --input:")
    assert "Traceback" not in done.stderr


def test_a_failing_replay_keeps_what_it_decided_on_disk(
    feed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure mid-file loses nothing decided before it: the lines on disk are the
    start of a whole replay's, each complete; no summary.json says it finished."""
    import tqdm as tqdm_module

    import worker.replay as replay_module

    replay_module.replay_csv(feed, "MES", tmp_path / "whole", Settings())

    class FailingBar(tqdm_module.tqdm):  # type: ignore[misc]
        def update(self, n: float | None = 1) -> bool | None:
            if self.n >= 3000:
                raise RuntimeError("terminal on fire")
            return super().update(n)  # type: ignore[no-any-return]

    monkeypatch.setattr(replay_module, "tqdm", FailingBar)
    with pytest.raises(RuntimeError, match="terminal on fire"):
        replay_module.replay_csv(feed, "MES", tmp_path / "out", Settings(), progress=True)
    for name in ("bars.jsonl", "decisions.jsonl"):
        written = (tmp_path / "out" / name).read_bytes().splitlines()
        whole = (tmp_path / "whole" / name).read_bytes().splitlines()
        assert 500 < len(written) < len(whole)
        assert written == whole[: len(written)]
    assert not (tmp_path / "out" / "summary.json").exists()
