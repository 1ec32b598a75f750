"""The JSONL lines: the records, in order, as orjson writes them; read back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from adapters.files.jsonl import JsonlRecorder
from engine.decide import BUY_ALIGNED, HOLD_RANGE
from engine.model import Action, ActionPlan, ClosedBar, MarketState
from engine.records import bar_record, decision_record


def _bar(tf: int, ema: float | None, slope: float | None) -> ClosedBar:
    t = 1_750_024_800
    return ClosedBar("MES", tf, t, t + tf * 60, 6001.25, 6003.0, 5999.5, 6002.75, 1234.5, tf,
                     ema, slope, "trend_up", 70)  # fmt: skip


def _write(tmp_path: Path) -> tuple[list[ClosedBar], MarketState, list[ActionPlan]]:
    bars = [_bar(5, 6000.123456789, -1.5e-05), _bar(15, None, None), _bar(30, 6001.0, 0.0)]
    state = MarketState("MES", bars[0].close_time, tuple(bars), (bars[0],))
    plans = [BUY_ALIGNED, HOLD_RANGE, ActionPlan(Action.HOLD, "account_gate_block", {"gate": "x"})]
    recorder = JsonlRecorder(tmp_path)
    for bar in bars:
        recorder.bar(bar)
    for plan in plans:
        recorder.decision(state, plan)
    recorder.close()
    return bars, state, plans


def test_lines_are_the_records_in_order(tmp_path: Path) -> None:
    bars, state, plans = _write(tmp_path)
    bar_lines = (tmp_path / "bars.jsonl").read_bytes().splitlines()
    assert bar_lines == [orjson.dumps(bar_record(bar)) for bar in bars]
    assert [list(json.loads(line)) for line in bar_lines] == [list(bar_record(bars[0]))] * 3
    decision_lines = (tmp_path / "decisions.jsonl").read_bytes().splitlines()
    assert [json.loads(line) for line in decision_lines] == [
        decision_record(state, plan) for plan in plans
    ]
    assert json.loads(decision_lines[0])["action"] == "BUY"


def test_floats_read_back_exactly_and_spelled_shortest(tmp_path: Path) -> None:
    bars, _, _ = _write(tmp_path)
    first = (tmp_path / "bars.jsonl").read_bytes().splitlines()[0]
    assert b'"slope":-0.000015,' in first  # orjson's spelling; json.dumps writes -1.5e-05
    assert b'"ema":6000.123456789,' in first
    assert b'"open":6001.25,' in first
    record = json.loads(first)
    assert (record["ema"], record["slope"]) == (bars[0].ema, bars[0].slope)
    assert record["volume"] == 1234.5


def test_live_lines_are_on_disk_as_they_come(tmp_path: Path) -> None:
    recorder = JsonlRecorder(tmp_path)  # the live worker's: a line on disk as it comes
    recorder.bar(_bar(5, None, None))
    assert (tmp_path / "bars.jsonl").read_bytes() == orjson.dumps(
        bar_record(_bar(5, None, None))
    ) + b"\n"
    recorder.close()


def test_a_replay_s_lines_are_all_written_in_order_at_close(tmp_path: Path) -> None:
    recorder = JsonlRecorder(tmp_path, flush_each_line=False)
    bars = [_bar(5, float(i), None) for i in range(7)]
    for bar in bars:
        recorder.bar(bar)
    recorder.close()
    recorder.close()  # idempotent: a failing replay closes it, then nothing else does
    lines = (tmp_path / "bars.jsonl").read_bytes().splitlines()
    assert [json.loads(line)["ema"] for line in lines] == [float(i) for i in range(7)]


def test_bar_record_takes_each_field_by_its_name() -> None:
    bar = ClosedBar("MES", 15, 1_750_024_800, 1_750_025_700, 1.5, 2.5, 0.5, 1.25, 7.0, 14,
                    1.125, -0.5, "range", 99)  # fmt: skip
    assert bar_record(bar) == {
        "symbol": "MES", "timeframe": "15m", "open_time": "2025-06-15T22:00:00Z",
        "close_time": "2025-06-15T22:15:00Z", "open": 1.5, "high": 2.5, "low": 0.5,
        "close": 1.25, "volume": 7.0, "minutes": 14, "ema": 1.125, "slope": -0.5,
        "regime": "range",
    }  # fmt: skip
