"""Entry intents: the deterministic customTag, one per (account, symbol, instant)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.decide import BUY_ALIGNED, HOLD_RANGE, SELL_ALIGNED
from engine.execution import PlaceEntry, entry_for, entry_tag
from engine.model import MarketState, Side


@given(st.integers(0, 7_000_000_000))
def test_tag_is_the_utc_minute_of_the_instant(at: int) -> None:
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%MZ")
    assert entry_tag("main", "MES", at) == f"rt-main-MES-{stamp}"


def test_entries_for_plans() -> None:
    state = MarketState("MES", 1_750_111_500, (), ())
    assert entry_for(HOLD_RANGE, state, "a", "CON.F.US.MES.M25", 1) is None
    buy = entry_for(BUY_ALIGNED, state, "a", "CON.F.US.MES.M25", 2)
    sell = entry_for(SELL_ALIGNED, state, "a", "CON.F.US.MES.M25", 1)
    assert buy is not None and sell is not None
    assert (buy.side, buy.size, buy.side.value, buy.tag) == (
        Side.BUY, 2, "buy", "rt-a-MES-20250616T2205Z"
    )  # fmt: skip
    assert (sell.side, sell.side.value, sell.at) == (Side.SELL, "sell", 1_750_111_500)


def test_an_entry_is_immutable_and_gives_its_fields() -> None:
    state = MarketState("MES", 1_750_111_500, (), ())
    entry = entry_for(SELL_ALIGNED, state, "a", "CON.F.US.MES.M25", 1)
    assert entry is not None
    assert entry.fields() == {
        "account": "a", "symbol": "MES", "contract": "CON.F.US.MES.M25", "side": Side.SELL,
        "size": 1, "tag": "rt-a-MES-20250616T2205Z", "at": 1_750_111_500,
    }  # fmt: skip
    assert entry == PlaceEntry(**entry.fields())
    with pytest.raises(AttributeError):
        entry.size = 2  # type: ignore[misc]
