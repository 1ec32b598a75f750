"""What the replay's speed rests on, checked so that it cannot silently stop holding."""

from __future__ import annotations

import gc
from pathlib import Path

from engine.config import DecisionConfig, EngineConfig
from tests.feedgen import make_rows, write_csv
from worker.replay import replay_csv


def _garbage_after_replay(path: Path, out: Path) -> int:
    """Objects in reference cycles left by one replay (the collector paused throughout)."""
    gc.collect()
    gc.disable()
    try:
        replay_csv(path, "MES", out, EngineConfig(), DecisionConfig())
        return gc.collect()
    finally:
        gc.enable()


def test_the_row_path_makes_no_reference_cycles(tmp_path: Path) -> None:
    """Replay pauses the cycle collector while it runs; that is only sound while nothing
    per row (normalize, engine, decision, lines, logs of bad rows) makes a cycle: 4x the
    rows must leave no more cyclic garbage than 1x (what is left is per run: event loop)."""
    found = []
    for minutes in (300, 2000, 8000):  # the first run also leaves what importing left
        rows = make_rows(minutes)  # quirks: rejected, duplicate, conflicting, foreign rows
        found.append(_garbage_after_replay(
            write_csv(tmp_path / f"{minutes}.csv", rows), tmp_path / str(minutes)
        ))  # fmt: skip
    assert found[2] <= found[1] + 10, found


def test_replay_leaves_the_collector_as_it_found_it(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "feed.csv", make_rows(300))
    assert gc.isenabled()
    replay_csv(path, "MES", tmp_path / "out", EngineConfig(), DecisionConfig())
    assert gc.isenabled()
