"""The trader's pause switch, durable (SQLite on local disk, like the order intents):
a restart while paused stays paused. `PausableContexts` hands the switch to `decide`
as a field of each account's context (`PositionContext.paused`): the engine reads no
state of its own, and while paused every decision is still made and logged."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from engine.model import PositionContext
from engine.ports import ContextProvider

_SCHEMA = """
create table if not exists switches (
    name text primary key,
    paused integer not null,
    by text not null,
    changed real not null
)
"""


@dataclasses.dataclass(frozen=True, slots=True)
class PauseState:
    paused: bool
    by: str | None = None  # who set it: `control`, `PAUSE_ON_START`
    since: float | None = None  # when, epoch s


class PauseStore:
    """One row, `pause`. Not paused until set; every `set` is durable before it returns."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=full")
        self._db.execute(_SCHEMA)
        self.clock = clock
        self.state = self._read()

    def set(self, paused: bool, by: str) -> bool:
        """Pause or resume; False (and nothing written) when it already is so."""
        if paused == self.state.paused:
            return False
        now = self.clock()
        self._db.execute(
            "insert into switches values ('pause', ?, ?, ?) on conflict(name) do update "
            "set paused = excluded.paused, by = excluded.by, changed = excluded.changed",
            (int(paused), by, now),
        )
        self.state = PauseState(paused, by, now)
        return True

    def close(self) -> None:
        self._db.close()

    def _read(self) -> PauseState:
        row = self._db.execute("select paused, by, changed from switches where name = 'pause'")
        found = row.fetchone()
        if found is None:
            return PauseState(False)
        return PauseState(bool(found[0]), str(found[1]), float(found[2]))


class PausableContexts:
    """A ContextProvider whose contexts carry the pause switch (`paused()`)."""

    def __init__(self, inner: ContextProvider, paused: Callable[[], bool]) -> None:
        self.inner = inner
        self.paused = paused

    async def context(self, account: str, symbol: str) -> PositionContext | None:
        context = await self.inner.context(account, symbol)
        if context is None or not self.paused():
            return context
        return dataclasses.replace(context, paused=True)
