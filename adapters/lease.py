"""One active trader: a PostgreSQL session-level advisory lock is the trading lease.

The lock lives on a dedicated connection. It must reach one PostgreSQL session for its
whole life: a direct connection (Supabase's `db.<ref>.supabase.co:5432`), never a
transaction-mode pooler (port 6543). The keepalive proves the lock is held by *this*
session, so a pooler that moves queries between sessions is caught and never leads.

Takeover bounds, after the leader's session ends:
- process killed, connection closed or terminated: the server frees the lock at once;
  the standby takes it at its next poll, within `poll_s` + one query;
- leader's box gone without closing (power cut, partition): the server notices through
  the TCP keepalives set on the session (`SERVER_RELEASE_S`), then as above. The cut-off
  leader has stepped down by then: its own keepalive times out after
  `poll_s + connect_timeout_s`, and `is_leader` goes stale after that plus 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from adapters import events
from engine.ports import StopSignal

# Per-session server settings: a client that vanished without closing is dropped after
# about idle + interval * count seconds (or unacknowledged data after tcp_user_timeout).
_SERVER_KEEPALIVE = (
    "select set_config('tcp_keepalives_idle', '10', false),"
    " set_config('tcp_keepalives_interval', '5', false),"
    " set_config('tcp_keepalives_count', '3', false),"
    " set_config('tcp_user_timeout', '25000', false)"
)
SERVER_RELEASE_S = 25.0
_TRY_LOCK = "select pg_try_advisory_lock(%s)"
# A bigint advisory key shows in pg_locks as classid = high 32 bits, objid = low, objsubid 1.
_HELD = (
    "select exists(select 1 from pg_catalog.pg_locks where locktype = 'advisory'"
    " and classid = %s::bigint::oid and objid = %s::bigint::oid and objsubid = 1"
    " and pid = pg_backend_pid() and granted)"
)
_FAILURES = (psycopg.Error, OSError, TimeoutError)


class LeaseLost(Exception):
    """The lock connection is alive but this session no longer holds the lock."""


def lease_key(name: str) -> int:
    """Signed 64-bit lock key: blake2b of the name, the same on every host and server."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"rt-lease").digest()
    return int.from_bytes(digest, "big", signed=True)


def _endpoint(dsn: str) -> dict[str, str]:
    """host, port and database for logs; the password never leaves this function."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise ValueError("lease DSN is malformed") from None  # libpq quotes DSN fragments
    host = params.get("host") or params.get("hostaddr") or "local"
    port, db = params.get("port", ""), params.get("dbname", "")
    return {"host": str(host), "port": str(port), "db": str(db)}


async def _wait(stop: StopSignal, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


async def _watch_idle(conn: psycopg.AsyncConnection[Any], seconds: float) -> None:
    """Sleep on the idle socket: returns after `seconds`, raises as soon as the server
    closes the session (terminate, restart) -- far sooner than the next keepalive."""
    async for _ in conn.notifies(timeout=seconds):
        pass


class AdvisoryLease:
    """Leadership through `pg_try_advisory_lock(lease_key(name))`; `is_leader` is the gate.

    `poll_s`: seconds between a standby's attempts and between the leader's keepalives.
    `connect_timeout_s`: bound on connecting and on every query, seconds.
    `max_backoff_s`: cap on the reconnect delay after failures (doubling from `poll_s`).
    """

    def __init__(
        self,
        dsn: str,
        name: str,
        poll_s: float = 2.0,
        connect_timeout_s: float = 5.0,
        max_backoff_s: float = 15.0,
    ) -> None:
        if poll_s <= 0 or connect_timeout_s <= 0:
            raise ValueError("poll_s and connect_timeout_s must be positive")
        if poll_s + connect_timeout_s + 1.0 >= SERVER_RELEASE_S:
            raise ValueError(f"poll_s + connect_timeout_s must stay under {SERVER_RELEASE_S - 1} s")
        self.name = name
        self.key = lease_key(name)
        self.poll_s = poll_s
        self.connect_timeout_s = connect_timeout_s
        self.max_backoff_s = max(max_backoff_s, poll_s)
        self._dsn = dsn
        self._where = _endpoint(dsn)
        self._ids = ((self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF)
        self._ttl_s = poll_s + connect_timeout_s + 1.0  # longest gap between two proofs, + slack
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._held = False
        self._proved_at = 0.0  # time.monotonic() of the last proof the lock is ours
        self._state = "starting"
        self._running = False
        self._backoff = poll_s

    def __repr__(self) -> str:
        host, state = self._where["host"], self._state
        return f"AdvisoryLease(name={self.name!r}, host={host!r}, state={state!r})"

    @property
    def is_leader(self) -> bool:
        """True only while the lock is held and was proven within the last `_ttl_s` s."""
        return self._held and time.monotonic() - self._proved_at <= self._ttl_s

    @property
    def backend_pid(self) -> int | None:
        """Server process id of the lock session (for operators and tests)."""
        conn = self._conn
        return None if conn is None or conn.closed else conn.info.backend_pid

    async def run(self, stop: StopSignal) -> None:
        """Lead or stand by until `stop` is set; reconnects with backoff; releases on exit."""
        if self._running:
            raise RuntimeError("lease already running")
        self._running = True
        try:
            while not stop.is_set():
                try:
                    await self._session(stop)
                except (*_FAILURES, LeaseLost) as exc:
                    self._fail(exc)  # step down before any await
                    await self._close()
                    await _wait(stop, self._backoff)
                    self._backoff = min(self._backoff * 2, self.max_backoff_s)
        finally:
            self._running = False
            await self.release()

    async def release(self) -> None:
        """Unlock and close the lock connection. `run` calls it on exit; to step down a
        running lease, set its stop event instead."""
        if self._running:
            raise RuntimeError("set the stop event: run() releases the lease on exit")
        was_leader, self._held = self._held, False
        conn = self._conn
        if conn is not None and not conn.closed:
            with contextlib.suppress(*_FAILURES):  # closing ends the session: lock freed anyway
                async with asyncio.timeout(self.connect_timeout_s):
                    await conn.execute("select pg_advisory_unlock_all()")
        await self._close()
        if was_leader:
            events.leader_released(lease=self.name, endpoint=self._where)
        self._state = "stopped"

    async def _session(self, stop: StopSignal) -> None:
        conn = await self._connect()
        self._backoff = self.poll_s
        while not stop.is_set():
            if await self._try_lock(conn):
                if stop.is_set():  # won it while stopping: never used, released on exit
                    self._held = False
                    return
                self._enter("leader")
                await self._hold(conn, stop)
            else:
                self._enter("standby")
                await _wait(stop, self.poll_s)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        async with asyncio.timeout(self.connect_timeout_s):
            self._conn = await psycopg.AsyncConnection.connect(
                self._dsn,
                autocommit=True,
                application_name=f"lease:{self.name}",
                connect_timeout=str(max(1, math.ceil(self.connect_timeout_s))),
            )
            await self._conn.execute(_SERVER_KEEPALIVE)
        return self._conn

    async def _try_lock(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        async with asyncio.timeout(self.connect_timeout_s):
            row = await (await conn.execute(_TRY_LOCK, (self.key,))).fetchone()
        if row is not None and row[0] is True:
            self._proved_at = time.monotonic()
            self._held = True
        return self._held

    async def _hold(self, conn: psycopg.AsyncConnection[Any], stop: StopSignal) -> None:
        """Keep proving the lock every `poll_s` until stop; raise the moment it is in doubt."""
        while True:
            watch = asyncio.create_task(_watch_idle(conn, self.poll_s))
            stopped = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait((watch, stopped), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (watch, stopped):
                    task.cancel()
                await asyncio.gather(watch, stopped, return_exceptions=True)
            if not watch.cancelled():
                watch.result()  # re-raise a closed session
            if stop.is_set():
                return
            async with asyncio.timeout(self.connect_timeout_s):
                row = await (await conn.execute(_HELD, self._ids)).fetchone()
            if row is None or row[0] is not True:
                raise LeaseLost("this session no longer holds the advisory lock")
            self._proved_at = time.monotonic()

    def _enter(self, state: str) -> None:
        if state == self._state:
            return
        self._state = state
        pid = self.backend_pid
        if state == "leader":
            events.leader(lease=self.name, key=self.key, pid=pid, endpoint=self._where)
        else:
            events.standby(
                lease=self.name, key=self.key, pid=pid, retry_s=self.poll_s, endpoint=self._where
            )

    def _fail(self, exc: BaseException) -> None:
        self._held = False
        error = f"{type(exc).__name__}: {exc}".strip()
        if self._state == "leader":
            events.leader_lost(lease=self.name, error=error, endpoint=self._where)
        elif self._state != "unavailable":
            events.lease_unavailable(
                lease=self.name, error=error, retry_s=self._backoff, endpoint=self._where
            )
        self._state = "unavailable"

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(*_FAILURES):
                await conn.close()


class StaticLease:
    """A fixed answer for setups without a database. Single instance only: two copies
    with `is_leader=True` would both trade."""

    def __init__(self, is_leader: bool = True) -> None:
        self.is_leader = is_leader

    async def run(self, stop: StopSignal) -> None:
        await stop.wait()

    async def release(self) -> None:
        return None
