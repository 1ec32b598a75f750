"""Durable order intents (SQLite on local disk), written before a placement leaves.

One row per customTag; `side` holds the gateway's OrderSide code (0 buy, 1 sell), as
rows written by earlier versions do. States: `sending` (written before the request), `placed`
(the gateway gave an orderId or the tag was found), `refused` (a definitive
`success: false`), `unsent` (failed locally, provably never sent), `abandoned`
(unresolved at start and too old to send again). `sending` rows are the unresolved ones.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from adapters.projectx.parsing import SIDE_CODES, SIDES
from engine.execution import PlaceEntry

_SCHEMA = """
create table if not exists intents (
    tag text primary key,
    account text not null,
    account_id integer not null,
    symbol text not null,
    contract text not null,
    side integer not null,
    size integer not null,
    at integer not null,
    state text not null,
    order_id integer,
    detail text,
    created real not null,
    updated real not null
)
"""


_COLUMNS = "tag, account, account_id, symbol, contract, side, size, at, state, order_id, created"


@dataclass(frozen=True, slots=True)
class Intent:
    entry: PlaceEntry
    account_id: int
    state: str
    order_id: int | None
    created: float


class IntentStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)  # autocommit: each write durable
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=full")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def begin(self, entry: PlaceEntry, account_id: int) -> bool:
        """Record `sending` for a new tag; False when the tag already has a row."""
        now = time.time()
        row = {
            "tag": entry.tag,
            "account": entry.account,
            "account_id": account_id,
            "symbol": entry.symbol,
            "contract": entry.contract,
            "side": SIDE_CODES[entry.side],
            "size": entry.size,
            "at": entry.at,
            "now": now,
        }
        cursor = self._db.execute(
            "insert or ignore into intents values (:tag, :account, :account_id, :symbol, "
            ":contract, :side, :size, :at, 'sending', null, null, :now, :now)",
            row,
        )
        return cursor.rowcount == 1

    def mark(self, tag: str, state: str, order_id: int | None = None, detail: str = "") -> None:
        self._db.execute(
            "update intents set state=?, order_id=coalesce(?, order_id), detail=?, updated=? "
            "where tag=?",
            (state, order_id, detail[:300], time.time(), tag),
        )

    def get(self, tag: str) -> Intent | None:
        rows = self._select("where tag=?", (tag,))
        return rows[0] if rows else None

    def unresolved(self) -> list[Intent]:
        return self._select("where state='sending' order by created", ())

    def _select(self, where: str, args: tuple[object, ...]) -> list[Intent]:
        query = f"select {_COLUMNS} from intents {where}"  # noqa: S608 -- `where`: our literals
        out = []
        for row in self._db.execute(query, args):
            tag, account, account_id, symbol, contract, side, size, at, state, oid, created = row
            entry = PlaceEntry(
                account=account,
                symbol=symbol,
                contract=contract,
                side=SIDES[side],
                size=size,
                tag=tag,
                at=at,
            )
            out.append(Intent(entry, account_id, state, oid, created))
        return out
