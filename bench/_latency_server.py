"""The far side of bench/live_latency.py, in its own process: FakePostgrest and
FakeRealtime (tests.fakes) over a scratch database, and the row stream.

    python -m bench._latency_server --dsn DSN --key KEY --seed S --base EPOCH --warm N
                                    [--trend]

(run from the repository root). Inserts the `N` warm-up rows, starts both fakes and
prints one JSON line {"rest": url, "realtime": url}. Then reads JSON commands, one a
line, on stdin and answers each with one JSON line on stdout:

    {"cmd": "stream", "via": "send_change"|"insert", "start": i, "count": n, "gap_us": g}
        rows i .. i+n-1 of the walk, one every >= g microseconds (0 = as fast as the
        socket takes them); answer {"sent": n, "first_ns": .., "last_ns": ..}
    {"cmd": "quit"}

Every live record carries `sent_ns` (time.time_ns() just before it was handed to the
socket, or to INSERT), an extra column the worker ignores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench._common import ARRIVAL_LAG_S, START, iter_bars
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.realtime_server import FakeRealtime

SYMBOL = "MES"
_COLUMNS = """
select a.attname, t.typname from pg_catalog.pg_attribute a
join pg_catalog.pg_type t on t.oid = a.atttypid
where a.attrelid = 'public.tv_datafeed'::regclass and a.attnum > 0 and not a.attisdropped
order by a.attnum
"""
_INSERT = (
    "insert into public.tv_datafeed (ts, symbol, timeframe, o, h, l, c, v, sent_ns)"
    " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def iso(epoch_s: float) -> str:
    """As to_jsonb renders timestamptz in a UTC session: '2025-06-16T14:36:02+00:00'."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


def walk(
    seed: int, base: int, start: int, count: int, trend: bool = False
) -> Iterator[tuple[str, ...]]:
    """(ts, o, h, l, c, v) text of minutes start .. start+count-1 of one random walk whose
    minute 0 opens at `base` (a 30-minute boundary); ts = bar close + 2 s. `trend`: a
    steady rise instead (+1 a minute: every timeframe trends up, every decision a BUY)."""
    if trend:
        for i in range(start, start + count):
            price = 5000.0 + i
            yield (
                iso(base + 60 * i + ARRIVAL_LAG_S), str(price), str(price + 1.0),
                str(price - 0.25), str(price + 1.0), "10",
            )  # fmt: skip
        return
    shift = base - START
    for i, bar in enumerate(iter_bars(start + count, seed)):
        if i >= start:
            yield (
                iso(bar.open_time + shift + ARRIVAL_LAG_S), str(bar.open), str(bar.high),
                str(bar.low), str(bar.close), str(int(bar.volume)),
            )  # fmt: skip


class Server:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rest = FakePostgrest(args.dsn, api_key=args.key)
        self.realtime = FakeRealtime(args.dsn, api_key=args.key)
        self.columns: list[dict[str, str]] = []
        self.names: list[str] = []
        self._conn: psycopg.AsyncConnection[Any] | None = None

    def insert_warm_rows(self) -> None:
        rows = [
            (ts, SYMBOL, "1", o, h, low, c, v, None)
            for ts, o, h, low, c, v in walk(
                self.args.seed, self.args.base, 0, self.args.warm, self.args.trend
            )
        ]
        with psycopg.connect(self.args.dsn) as conn:  # one transaction
            conn.cursor().executemany(_INSERT, rows)
            self.columns = [{"name": n, "type": t} for n, t in conn.execute(_COLUMNS).fetchall()]
        self.names = [c["name"] for c in self.columns]

    async def start(self) -> None:
        self.rest.start()
        await self.realtime.start()
        self._conn = await psycopg.AsyncConnection.connect(self.args.dsn, autocommit=True)

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()
        await self.realtime.stop()
        await asyncio.to_thread(self.rest.stop)

    async def stream(self, via: str, start: int, count: int, gap_us: int) -> dict[str, Any]:
        gap_s = gap_us / 1e6
        first_ns = last_ns = 0
        template = dict.fromkeys(self.names)
        sent = 0
        rows = walk(self.args.seed, self.args.base, start, count, self.args.trend)
        for ident, (ts, o, h, low, c, v) in enumerate(rows, start=start + 1):
            stamp = time.time_ns()
            if via == "insert":
                assert self._conn is not None
                await self._conn.execute(_INSERT, (ts, SYMBOL, "1", o, h, low, c, v, stamp))
            else:
                record = template | {
                    "id": ident, "ts": ts, "symbol": SYMBOL, "timeframe": "1",
                    "o": float(o), "h": float(h), "l": float(low), "c": float(c), "v": int(v),
                    "sent_ns": stamp,
                }  # fmt: skip
                commit = ts[:19] + ".000Z"
                await self.realtime.send_change(
                    record, columns=self.columns, commit_timestamp=commit
                )
            sent += 1
            first_ns = first_ns or stamp
            last_ns = stamp
            if gap_s:
                await asyncio.sleep(gap_s)
            elif sent % 64 == 0:
                await asyncio.sleep(0)  # let the fakes' other tasks (heartbeats) run
        return {"sent": sent, "first_ns": first_ns, "last_ns": last_ns}


async def serve(args: argparse.Namespace) -> None:
    server = Server(args)
    server.insert_warm_rows()
    await server.start()
    try:
        reply({"rest": server.rest.url, "realtime": server.realtime.url})
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return  # the bench went away
            command = json.loads(line)
            if command["cmd"] == "quit":
                return
            if command["cmd"] == "stream":
                result = await server.stream(
                    command["via"], command["start"], command["count"], command["gap_us"]
                )
                reply(result)
    finally:
        await server.stop()


def reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--base", type=int, required=True)
    parser.add_argument("--warm", type=int, required=True)
    parser.add_argument("--trend", action="store_true", help="a steady rise, not a walk")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
