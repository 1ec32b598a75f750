"""Deterministic synthetic `tv_datafeed` exports for worker tests (not market data)."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime
from pathlib import Path

HEADER = ["id", "ts", "symbol", "timeframe", "o", "h", "l", "c", "v"]
START = 1_750_024_800  # 2025-06-15 22:00 UTC, a Sunday 17:00 CT session open


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def make_rows(
    minutes: int, seed: int = 7, quirks: bool = True, start: int = START
) -> list[list[str]]:
    """Random-walk MES minutes with trends, receipt ts a few seconds after each close,
    and (with `quirks`) gaps, duplicates, a conflict, invalid and foreign rows."""
    rng = random.Random(seed)
    price, drift, rows, ident = 6000.0, 0.0, [], 0
    for i in range(minutes):
        if i % 240 == 0:
            drift = rng.choice((-0.6, -0.3, 0.0, 0.3, 0.6))
        t = start + i * 60
        o = price
        price = max(1000.0, round((price + drift + rng.gauss(0, 1.2)) * 4) / 4)
        h = max(o, price) + 0.25 * rng.randint(0, 3)
        low = min(o, price) - 0.25 * rng.randint(0, 3)
        row = [str(t + 60 + rng.uniform(0.5, 6.0)), "MES", "1", f"{o}", f"{h}", f"{low}",
               f"{price}", str(rng.randint(1, 900))]  # fmt: skip
        if quirks and i % 523 == 17:
            continue  # a missing minute
        ident += 1
        rows.append([str(ident), *row])
        if quirks and i % 331 == 5:  # an exact duplicate, received a little later
            ident += 1
            rows.append([str(ident), str(float(row[0]) + 1.5), *row[1:]])
        if quirks and i % 977 == 11:  # a conflicting second copy: the first one wins
            ident += 1
            rows.append([str(ident), str(float(row[0]) + 2.0), *row[1:6], f"{price + 1}", "1"])
        if quirks and i % 401 == 3:  # invalid: high below close
            ident += 1
            rows.append([str(ident), row[0], "MES", "1", f"{o}", f"{low}", f"{low}", f"{o}", "3"])
        if quirks and i % 613 == 9:  # another symbol and another timeframe
            ident += 1
            rows.append([str(ident), row[0], "MNQ", "1", "21000", "21001", "20999", "21000", "5"])
            ident += 1
            rows.append([str(ident), row[0], "MES", "5", f"{o}", f"{h}", f"{low}", f"{price}", "9"])
    for row in rows:
        row[1] = iso(float(row[1]))
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path
