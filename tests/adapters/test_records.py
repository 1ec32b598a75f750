"""The fast JSONL lines are exactly what json.dumps writes for the same records."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.files.records import JsonlRecorder, bar_record, decision_record
from engine.decide import BUY_ALIGNED, HOLD_RANGE
from engine.model import Action, ActionPlan, ClosedBar, MarketState


def _bar(tf: int, ema: float | None, slope: float | None) -> ClosedBar:
    t = 1_750_024_800
    return ClosedBar("MES", tf, t, t + tf * 60, 6001.25, 6003.0, 5999.5, 6002.75, 1234.5, tf,
                     ema, slope, "trend_up", 70)  # fmt: skip


def test_lines_equal_json_dumps(tmp_path: Path) -> None:
    bars = [_bar(5, 6000.123456789, -1.5e-05), _bar(15, None, None), _bar(30, 6001.0, 0.0)]
    state = MarketState("MES", bars[0].close_time, tuple(bars), (bars[0],))
    plans = [BUY_ALIGNED, HOLD_RANGE, ActionPlan(Action.HOLD, "account_gate_block", {"gate": "x"})]
    recorder = JsonlRecorder(tmp_path)
    for bar in bars:
        recorder.bar(bar)
    for plan in plans:
        recorder.decision(state, plan)
    recorder.close()
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    assert (tmp_path / "bars.jsonl").read_text().splitlines() == [
        dumps(bar_record(bar)) for bar in bars
    ]
    assert (tmp_path / "decisions.jsonl").read_text().splitlines() == [
        dumps(decision_record(state, plan)) for plan in plans
    ]
