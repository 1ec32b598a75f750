"""The durable intent store keeps its rows' meaning across versions: `side` is the
gateway's OrderSide code (0 buy, 1 sell), read back as the engine's `Side`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from adapters.projectx.intents import IntentStore
from engine.execution import PlaceEntry
from engine.model import Side

CONTRACT = "CON.F.US.MES.Z25"
AT = 1_750_111_500


def test_a_row_written_by_an_earlier_version_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "intents.db"
    IntentStore(path).close()  # the schema, as every version creates it
    with sqlite3.connect(path) as db:  # the row as earlier versions wrote it: side 1 = Ask
        db.execute(
            "insert into intents values (?,?,?,?,?,?,?,?,'sending',null,null,?,?)",
            ("rt-main-MES-t", "main", 1001, "MES", CONTRACT, 1, 2, AT, 100.0, 100.0),
        )
    store = IntentStore(path)
    (intent,) = store.unresolved()
    assert intent.entry == PlaceEntry("main", "MES", CONTRACT, Side.SELL, 2, "rt-main-MES-t", AT)
    assert (intent.account_id, intent.state, intent.order_id, intent.created) == (
        1001, "sending", None, 100.0,
    )  # fmt: skip
    store.close()


def test_a_new_row_stores_the_gateways_side_code(tmp_path: Path) -> None:
    path = tmp_path / "intents.db"
    store = IntentStore(path)
    assert store.begin(PlaceEntry("main", "MES", CONTRACT, Side.BUY, 1, "a", AT), 1001)
    assert store.begin(PlaceEntry("main", "MES", CONTRACT, Side.SELL, 1, "b", AT), 1001)
    assert not store.begin(PlaceEntry("main", "MES", CONTRACT, Side.SELL, 1, "b", AT), 1001)
    store.mark("a", "placed", 7001)
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "select tag, side, typeof(side), state, order_id from intents order by tag"
        ).fetchall()
    assert rows == [("a", 0, "integer", "placed", 7001), ("b", 1, "integer", "sending", None)]
    placed = store.get("a")
    assert placed is not None and placed.entry.side == Side.BUY
    store.close()
