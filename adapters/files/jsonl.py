"""JSONL files: bars.jsonl and decisions.jsonl of a replay or a live run, trades.jsonl.

Lines are orjson's: the records of engine/records.py, keys in their order, no spaces,
floats in the shortest text that reads back to the same double (`5001.25`, `0.000015`,
`1e-7`, where `json.dumps` writes `1.5e-05`): `json.loads` gives back exactly the
engine's values (tested). The byte format is part of the contract (a live run writes
the same bytes as the replay of its rows), so it has one writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import orjson

from engine.model import ActionPlan, ClosedBar, MarketState
from engine.records import bar_record, decision_record

# A run's output directory (a replay's --out, a live run's OUT_DIR), by file name.
BARS = "bars.jsonl"
DECISIONS = "decisions.jsonl"
TRADES = "trades.jsonl"  # the paper broker's round trips, a line at each exit
RUN = "run.json"  # the run's parameters, written first (worker/outputs.py)
SUMMARY = "summary.json"  # written last: its presence means the run finished


def jsonl_line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


class JsonlRecorder:
    """Writes bars.jsonl and decisions.jsonl into a directory (deterministic bytes).

    `flush_each_line`: live, each line is on disk when its bar closes; a replay lets the
    file's buffer fill (it writes a line per bar and per decision, ~100k of each a year)."""

    def __init__(self, out_dir: Path, flush_each_line: bool = True) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.flush_each_line = flush_each_line
        self.bars: IO[bytes] = (out_dir / BARS).open("wb")
        self.decisions: IO[bytes] = (out_dir / DECISIONS).open("wb")

    def bar(self, bar: ClosedBar) -> None:
        self._write(self.bars, bar_record(bar))

    def decision(self, state: MarketState, plan: ActionPlan) -> None:
        self._write(self.decisions, decision_record(state, plan))

    def close(self) -> None:
        self.bars.close()
        self.decisions.close()

    def _write(self, handle: IO[bytes], record: dict[str, Any]) -> None:
        handle.write(jsonl_line(record))
        if self.flush_each_line:
            handle.flush()


class NullRecorder:
    """No files: the live worker without OUT_DIR."""

    def bar(self, bar: ClosedBar) -> None:
        pass

    def decision(self, state: MarketState, plan: ActionPlan) -> None:
        pass

    def close(self) -> None:
        pass
