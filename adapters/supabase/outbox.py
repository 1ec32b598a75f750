"""A durable outbox for result rows: SQLite on local disk, delivered until confirmed.

A row is `put` (committed with `synchronous=full`) before any network call, and marked
delivered only after Supabase confirmed it. In between it survives crashes and
restarts; delivery is at least once, and the writer's conflict-ignoring insert on the
row's key makes it exactly once in the table.

    outbox = Outbox(Path("state/outbox.sqlite"))
    delivery = OutboxDelivery(outbox, PostgrestWriter(config))
    delivery.submit("trade_result", row["result_key"], row)   # put + wake the loop
    task = asyncio.create_task(delivery.run())
    ...
    await delivery.flush(timeout=10.0)                         # on shutdown
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from adapters import events
from adapters.tasks import cancel_and_wait

# At a stop, the time pending rows get to go. Short (the whole stop fits in 2 s): the
# outbox is durable, and what is left goes at the next start.
FLUSH_S = 0.3

_SCHEMA = """
create table if not exists outbox (
    key text primary key,
    kind text not null,
    row_json text not null,
    created real not null,
    attempts integer not null default 0,
    last_error text,
    delivered real
)
"""
_PENDING = (
    "select key, kind, row_json, attempts from outbox where delivered is null "
    "order by created, rowid limit ?"
)
_Outcome = Literal["delivered", "rejected", "unavailable"]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    key: str
    kind: str  # which table: the writer maps kinds to tables
    row: dict[str, Any]
    attempts: int


@dataclass(slots=True)
class OutboxCounters:
    put: int = 0  # new rows recorded
    duplicate_put: int = 0  # put of a key already recorded (ignored)
    delivered: int = 0  # rows confirmed by the server
    retries: int = 0  # failed delivery attempts


class RowRejected(Exception):
    """The server refused this row itself (e.g. a 400): other rows may still go."""


class RowWriter(Protocol):
    """Sends one row; returns when the server confirmed it, raises otherwise:
    `RowRejected` when the row itself was refused, anything else when the server
    could not be reached or failed (then the rest of the pass waits for the backoff)."""

    async def write(self, kind: str, row: Mapping[str, Any]) -> None: ...

    async def aclose(self) -> None: ...


class Outbox:
    """The outbox file. One process at a time; every write is its own transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)  # autocommit: each write durable
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=full")
        self._db.execute(_SCHEMA)
        self.counters = OutboxCounters()

    def close(self) -> None:
        self._db.close()

    def put(self, kind: str, key: str, row_json: str) -> bool:
        """Record a row (JSON object text) under its key; False if the key was known."""
        if not isinstance(json.loads(row_json), dict):
            raise ValueError("an outbox row must be a JSON object")
        cursor = self._db.execute(
            "insert or ignore into outbox (key, kind, row_json, created) values (?,?,?,?)",
            (key, kind, row_json, time.time()),
        )
        new = cursor.rowcount == 1
        if new:
            self.counters.put += 1
        else:
            self.counters.duplicate_put += 1
        events.outbox_put(kind=kind, key=key, new=new)
        return new

    def pending(self, limit: int = 100) -> list[OutboxItem]:
        """Undelivered rows, oldest first."""
        rows = self._db.execute(_PENDING, (limit,)).fetchall()
        return [OutboxItem(k, kind, json.loads(text), n) for k, kind, text, n in rows]

    def mark_delivered(self, key: str) -> None:
        self._db.execute(
            "update outbox set delivered = ? where key = ? and delivered is null",
            (time.time(), key),
        )

    def mark_failed(self, key: str, error: str) -> None:
        self._db.execute(
            "update outbox set attempts = attempts + 1, last_error = ? where key = ?",
            (error[:300], key),
        )

    def pending_count(self) -> int:
        row = self._db.execute("select count(*) from outbox where delivered is null").fetchone()
        return int(row[0])


class OutboxDelivery:
    """Delivers pending rows forever: each pass sends the pending rows oldest first, one
    request each, and stops at the first failure other than `RowRejected` (the server
    is down or failing: no point in sending the rest now); after a pass with a failure
    it waits a jittered exponential backoff (`base_s` doubling up to `cap_s`, times a
    random factor in [0.5, 1]), else `idle_s` (rows put by another path are found
    then); `submit` cuts either wait short."""

    def __init__(
        self,
        outbox: Outbox,
        writer: RowWriter,
        *,
        base_s: float = 0.5,
        cap_s: float = 30.0,
        idle_s: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox, self.writer = outbox, writer
        self.base_s, self.cap_s, self.idle_s = base_s, cap_s, idle_s
        self.counters = outbox.counters
        self._rng = rng or random.Random()  # noqa: S311 -- backoff jitter, not cryptography
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._failures = 0  # consecutive failed passes
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the delivery loop in the background until `stop`."""
        self._task = asyncio.create_task(self.run(), name="results-outbox")

    async def stop(self, flush_s: float = FLUSH_S) -> None:
        """Give pending rows `flush_s` to go, then stop and close. What is left stays in
        the outbox (durable) and goes at the next start."""
        delivered = await self.flush(flush_s)
        await cancel_and_wait(self._task)
        events.outbox_stopped(all_delivered=delivered, pending=self.outbox.pending_count())
        self.outbox.close()
        await self.writer.aclose()

    def submit(self, kind: str, key: str, row: Mapping[str, Any]) -> bool:
        """Put a row (durably) and wake the delivery loop."""
        new = self.outbox.put(kind, key, json.dumps(row, sort_keys=True))
        self._wake.set()
        return new

    def notify(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            ok = await self.deliver_pending()
            self._wake.clear()
            self._failures = 0 if ok else self._failures + 1
            if ok and self.outbox.pending_count():
                continue  # rows put during the pass
            await self._sleep(self.idle_s if ok else self.backoff_s(self._failures))

    def backoff_s(self, failures: int) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(failures - 1, 30))
        return ceiling * self._rng.uniform(0.5, 1.0)

    async def deliver_pending(self) -> bool:
        """One pass over the pending rows; True when none failed."""
        async with self._lock:
            ok = True
            for item in self.outbox.pending():
                outcome = await self._deliver(item)
                if outcome == "unavailable":
                    return False
                ok = ok and outcome == "delivered"
            return ok

    async def flush(self, timeout: float) -> bool:  # noqa: ASYNC109 -- a deadline for shutdown
        """Deliver what is pending within `timeout` seconds; True when nothing is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        failures = 0
        try:
            async with asyncio.timeout(timeout):
                while self.outbox.pending_count():
                    if await self.deliver_pending():
                        continue
                    failures += 1
                    pause = min(self.backoff_s(failures), deadline - loop.time())
                    await asyncio.sleep(max(pause, 0.0))
        except TimeoutError:
            pass
        left = self.outbox.pending_count()
        if left:
            events.outbox_flush_incomplete(pending=left)
        return left == 0

    async def _deliver(self, item: OutboxItem) -> _Outcome:
        """Delivered, rejected (this row) or unavailable (the server)."""
        try:
            await self.writer.write(item.kind, item.row)
        except Exception as exc:  # noqa: BLE001 -- any failure is retried; the row stays
            error = f"{type(exc).__name__}: {exc}"
            self.outbox.mark_failed(item.key, error)
            self.counters.retries += 1
            events.outbox_retry(
                kind=item.kind, key=item.key, attempts=item.attempts + 1, error=error
            )
            return "rejected" if isinstance(exc, RowRejected) else "unavailable"
        self.outbox.mark_delivered(item.key)
        self.counters.delivered += 1
        events.outbox_delivered(kind=item.kind, key=item.key, attempts=item.attempts + 1)
        return "delivered"

    async def _sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less when `submit` brings a new row."""
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass
