"""Helpers for end-to-end runs of `python -m worker run` against the fake Supabase."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from tests.feedgen import HEADER, make_rows

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = HEADER[1:]  # ts, symbol, timeframe, o, h, l, c, v (id is generated)


def recent_rows(minutes: int, seed: int = 11) -> list[dict[str, Any]]:
    """Synthetic rows whose minutes end at a 30m boundary shortly before now, so the
    warm-up window (last days) covers them and the last bar of every timeframe closes
    on its final minute. Receipt `ts` is explicit (bar close + a few seconds)."""
    end = int(time.time()) // 1800 * 1800 - 3600
    start = end - minutes * 60
    out = []
    for row in make_rows(minutes, seed=seed, start=start):
        record = dict(zip(COLUMNS, row[1:], strict=True))
        out.append(record)
    return out


def insert_now(dsn: str, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert (one transaction) — history that exists before the worker starts."""
    with psycopg.connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into tv_datafeed (ts, symbol, timeframe, o, h, l, c, v) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [tuple(r[c] for c in COLUMNS) for r in rows],
        )


class Inserter:
    """Streams rows into Postgres one committed row at a time (like the alert webhook)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.inserted = 0
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def __aenter__(self) -> Inserter:
        self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def insert(self, rows: Sequence[dict[str, Any]], pause_s: float = 0.001) -> None:
        assert self._conn is not None
        for row in rows:
            await self._conn.execute(
                "insert into tv_datafeed (ts, symbol, timeframe, o, h, l, c, v) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s)",
                tuple(row[c] for c in COLUMNS),
            )
            self.inserted += 1
            await asyncio.sleep(pause_s)


class WorkerProcess:
    """`python -m worker run` as a child process; its JSON log lines are collected."""

    def __init__(self, env: dict[str, str]) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE", "TRADING"))}
        self.env = {**base, "LOG_FORMAT": "json", **env}
        self.events: list[dict[str, Any]] = []
        self.stderr = b""
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", "run", cwd=ROOT, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            limit=2**22,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for line in self._proc.stdout:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == name]

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 30.0,  # noqa: ASYNC109 -- a polling deadline that names what it awaited
        what: str = "",
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self._proc is not None and self._proc.returncode is not None:
                err = await self._stderr()
                raise AssertionError(f"worker exited {self._proc.returncode} waiting {what}: {err}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last events: {self.tail()}")
            await asyncio.sleep(0.02)

    def tail(self, n: int = 8) -> list[dict[str, Any]]:
        return self.events[-n:]

    async def stop(self, kill: bool = False) -> int:
        assert self._proc is not None
        if self._proc.returncode is None:
            self._proc.kill() if kill else self._proc.terminate()
        code = await asyncio.wait_for(self._proc.wait(), 20)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        return code

    async def _stderr(self) -> str:
        if self._proc is None or self._proc.stderr is None:
            return ""
        return (await self._proc.stderr.read()).decode(errors="replace")[-2000:]


def read_jsonl(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def replay_table(rest_url: str, key: str, since: str, out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE")}
    env |= {"SUPABASE_URL": rest_url, "SUPABASE_KEY": key}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker", "replay", "--source", "supabase", "--symbol", "MES",
        "--since", since, "--out", str(out), "--no-progress", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-2000:]


# Never the real user hub (issue 5): a closed loopback port; the listener just retries.
NO_HUB = "http://127.0.0.1:9/hubs/user"


def minute_row(now: int, i: int) -> dict[str, Any]:
    """The row of the minute opening `i` minutes after `now`, received 2 s after its close:
    a steady uptrend (+1 a minute near 5000: every timeframe trends up, every decision is
    BUY)."""
    bar_open = now + 60 * i
    price = 5000.0 + i
    return {
        "ts": datetime.fromtimestamp(bar_open + 62, UTC).isoformat(), "symbol": "MES",
        "timeframe": "1", "o": price, "h": price + 1.0, "l": price - 0.25, "c": price + 1.0,
        "v": 10,
    }  # fmt: skip


def far_flat_window() -> dict[str, str]:
    """A one-minute get-flat window half a day away: no decision of the test is in it."""
    far = (datetime.now(ZoneInfo("America/Chicago")) + timedelta(hours=12)).strftime("%H:%M")
    return {"FLAT_WINDOW_START": far, "FLAT_WINDOW_END": far}
