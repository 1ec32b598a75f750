"""A year of quirky `tv_datafeed` rows: what a replay of real alert data meets.

CME Globex hours only (Sunday 17:00 to Friday 16:00 America/Chicago, no rows in the
daily 16:00-17:00 halt or at weekends): about 352,000 one-minute MES rows from
2025-01-05. A random walk with trends; each row's receipt `ts` a few seconds after its
bar closes. Quirks, at fixed strides so the file is the same on every run: missing
minutes, exact duplicates received later, conflicting second copies, invalid rows, rows
of another symbol and another timeframe, numbers as text with spaces, two minutes that
arrive swapped, a day-long outage, and one row dated 2030.

    .venv/bin/python bench/quirky_year.py OUT.csv [--days 364]
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HEADER = ["id", "ts", "symbol", "timeframe", "o", "h", "l", "c", "v"]
START = 1_736_118_000  # 2025-01-05 23:00 UTC = Sunday 17:00 CT, a session's open
CHICAGO = ZoneInfo("America/Chicago")
OUTAGE_DAY = 200  # no row at all for this whole day (a dead alert)


def in_session(t: int) -> bool:
    local = datetime.fromtimestamp(t, UTC).astimezone(CHICAGO)
    weekday, hour = local.weekday(), local.hour
    if hour == 16 or weekday == 5:
        return False
    if weekday == 6:
        return hour >= 17
    return not (weekday == 4 and hour >= 16)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def session_minutes(days: int) -> Iterator[int]:
    """Open times (epoch s) of the session's minutes over `days` calendar days."""
    for t in range(START, START + days * 86_400, 60):
        if in_session(t) and (t - START) // 86_400 != OUTAGE_DAY:
            yield t


def quirky_rows(days: int = 364, seed: int = 2025) -> list[list[str]]:
    """The rows of the file: `id, ts, symbol, timeframe, o, h, l, c, v`."""
    out: list[list[str]] = []
    for i, _, bar, received in _minutes(days, seed):
        row = [iso(received), "MES", "1", *bar]
        _add_quirks(out, i, row, received)
    return [[str(n + 1), *row] for n, row in enumerate(out)]


def clean_minutes(days: int = 364, seed: int = 2025) -> list[tuple[int, list[str]]]:
    """The same minutes without their quirks: (open time, [o, h, l, c, v]) each once, in
    order — what a competitor is given to build the same bars from."""
    return [(t, bar) for _, t, bar, _ in _minutes(days, seed)]


def _minutes(days: int, seed: int) -> Iterator[tuple[int, int, list[str], float]]:
    """(index, open time, [o, h, l, c, v] as text, receipt ts) of each minute present."""
    rng = random.Random(seed)
    price, drift = 5900.0, 0.0
    for i, t in enumerate(session_minutes(days)):
        if i % 240 == 0:
            drift = rng.choice((-0.5, -0.25, 0.0, 0.25, 0.5))
        o = price
        price = max(1000.0, round((price + drift + rng.gauss(0, 1.2)) * 4) / 4)
        h = max(o, price) + 0.25 * rng.randint(0, 3)
        low = min(o, price) - 0.25 * rng.randint(0, 3)
        received = t + 60 + rng.uniform(0.5, 6.0)
        bar = [f"{o}", f"{h}", f"{low}", f"{price}", str(rng.randint(1, 900))]
        if i % 523 != 17:  # else a missing minute
            yield i, t, bar, received


def _add_quirks(out: list[list[str]], i: int, row: list[str], received: float) -> None:
    """`row` (ts, symbol, timeframe, o, h, l, c, v) and the quirks of minute `i` after it."""
    o, h, low, close = row[3:7]
    if i % 1999 == 50:
        row = [*row[:3], f" {o} ", f"{h} ", f" {low}", close, row[7]]  # text with spaces
    out.append(row)
    if i % 331 == 5:  # an exact duplicate, received a little later
        out.append([iso(received + 1.5), *row[1:]])
    if i % 977 == 11:  # a conflicting second copy: the first one wins
        out.append([iso(received + 2.0), *row[1:6], f"{float(close) + 1}", "1"])
    if i % 401 == 3:  # invalid: high below close
        out.append([row[0], "MES", "1", o, low, low, o, "3"])
    if i % 613 == 9:  # another symbol and another timeframe
        out.append([row[0], "MNQ", "1", "21000", "21001", "20999", "21000", "5"])
        out.append([row[0], "MES", "5", o, h, low, close, "9"])
    if i % 1201 == 600 and len(out) >= 2:  # two minutes committed in swapped order
        out[-1], out[-2] = out[-2], out[-1]
    if i == 150_000:  # one row dated 2030 (a broken clock upstream)
        out.append(["2030-01-01T00:00:30+00:00", *row[1:]])


def write(path: Path, days: int = 364) -> int:
    rows = quirky_rows(days)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return len(rows)


def write_clean(path: Path, days: int = 364) -> int:
    """The same minutes, once each, in order, received 2 s after their close (the bench's
    convention, which the Nautilus script reads)."""
    minutes = clean_minutes(days)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER[1:])
        for t, bar in minutes:
            writer.writerow([iso(t + 62), "MES", "1", *bar])
    return len(minutes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--days", type=int, default=364)
    args = parser.parse_args()
    print(f"{write(args.out, args.days):,} rows -> {args.out}")


if __name__ == "__main__":
    main()
