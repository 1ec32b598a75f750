"""FreshnessGate: an entry is sent only while its bar closed at most MAX_SIGNAL_AGE ago."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from adapters.freshness_gate import FreshnessGate
from engine.execution import PlaceEntry
from engine.model import MarketState, Side

AT = 1_750_082_700  # a bar close, epoch s


class Recording:
    def __init__(self) -> None:
        self.sent: list[PlaceEntry] = []

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        self.sent.append(entry)


def _entry() -> tuple[PlaceEntry, MarketState]:
    entry = PlaceEntry("main", "MES", "CON.F.US.MES.Z25", Side.BUY, 1, "rt-main-MES-x", AT)
    return entry, MarketState("MES", AT, (), ())


@pytest.mark.parametrize("age", [0.0, 3.5, 119.9, 120.0])
async def test_a_fresh_entry_is_forwarded(age: float) -> None:
    inner = Recording()
    gate = FreshnessGate(inner, lambda: AT + age, max_age_s=120.0)
    entry, state = _entry()
    with capture_logs() as logs:
        await gate.submit(entry, state)
    assert inner.sent == [entry]
    assert logs == []


@pytest.mark.parametrize("age", [120.001, 397.0, 86_400.0])
async def test_a_stale_entry_is_logged_with_its_age_and_never_sent(age: float) -> None:
    inner = Recording()
    gate = FreshnessGate(inner, lambda: AT + age, max_age_s=120.0)
    entry, state = _entry()
    with capture_logs() as logs:
        await gate.submit(entry, state)
    assert inner.sent == []
    assert gate.skipped == 1
    [line] = logs
    assert line["event"] == "order_skipped" and line["reason"] == "stale_signal"
    assert line["age_s"] == round(age, 1) and line["max_age_s"] == 120.0
    assert line["tag"] == entry.tag and line["account"] == "main" and line["side"] == "buy"
    assert line["at"] == "2025-06-16T14:05:00Z"
