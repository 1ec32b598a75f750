"""`make run` with the paper broker: what the simulated book does is on the log — a
`paper_fill` per entry, a `paper_exit` per round trip, its P&L in `worker_stopped`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.feedgen import make_rows, write_csv

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    feed = write_csv(tmp_path_factory.mktemp("feed") / "feed.csv", make_rows(5000))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE", "TRADING"))}
    env.update({"LOG_FORMAT": "json", "SAMPLE_SPEED": "10000000", "BROKER": "paper",
                "SAMPLE_FEED": str(feed), "SAMPLE_LIVE_ROWS": "2500"})  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "worker", "run"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


def test_every_skipped_order_is_filled_on_paper_and_logged(events: list[dict[str, Any]]) -> None:
    skipped, fills = _named(events, "order_skipped"), _named(events, "paper_fill")
    assert skipped and len(fills) == len(skipped)
    for skip, fill in zip(skipped, fills, strict=True):
        assert (fill["account"], fill["symbol"], fill["side"], fill["size"], fill["tag"]) == (
            skip["account"], skip["symbol"], skip["side"], skip["size"], skip["tag"],
        )  # fmt: skip
        assert fill["at"] >= skip["at"]  # the next minute's open, at or after the decision
        assert math.isfinite(fill["price"]) and fill["price"] > 0
        away = 1 if fill["side"] == "buy" else -1
        assert away * (fill["target"] - fill["price"]) > 0 > away * (fill["stop"] - fill["price"])


def test_every_round_trip_logs_its_exit_and_the_summary_adds_up(
    events: list[dict[str, Any]],
) -> None:
    fills, exits = _named(events, "paper_fill"), _named(events, "paper_exit")
    assert exits, "the feed should close at least one paper trade"
    by_tag = {f["tag"]: f for f in fills}
    for exit_ in exits:
        fill = by_tag[exit_["tag"]]
        assert exit_["account"] == fill["account"] and exit_["entry_price"] == fill["price"]
        assert exit_["exit_reason"] in ("stop", "target")
        level = fill["stop"] if exit_["exit_reason"] == "stop" else fill["target"]
        assert exit_["exit_price"] == level
        assert exit_["net"] == round(exit_["gross"] - exit_["fees"], 2) and exit_["fees"] > 0
        assert exit_["duration_s"] >= 0
    stopped = events[-1]
    assert stopped["event"] == "worker_stopped"
    paper = stopped["paper"]
    assert paper["trades"] == len(exits)
    assert paper["net"] == round(math.fsum(e["net"] for e in exits), 2)
    assert paper["fees"] == round(math.fsum(e["fees"] for e in exits), 2)
    assert paper["wins"] == sum(1 for e in exits if e["net"] > 0)
    assert paper["open_positions"] == len(fills) - len(exits)
