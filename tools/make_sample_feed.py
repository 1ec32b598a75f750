"""Generate worker/data/sample_mes.csv, the synthetic feed `make run` replays by default.

The CSV mimics an export of the Supabase table `tv_datafeed` (id, ts = receipt time,
symbol, timeframe, o h l c v, TradingView's 1m ema21): four CME Globex sessions of MES,
Sunday 2025-06-08 17:00 CT to Thursday 2025-06-12 16:00 CT, daily 16:00-17:00 CT halt,
intraday volume/volatility profile and scripted regimes (ranges, multi-hour up and down
trends) so a 5/15/30m EMA21 trend follower emits BUY, SELL and many HOLD decisions.
It carries the quirks real rows have: missing, late, duplicate, conflicting and
out-of-order minutes, other symbols/timeframes, odd number formats, invalid rows.
Synthetic only (no real market data) and deterministic (fixed seed). Regenerate with
`python tools/make_sample_feed.py` from the repo root (needs numpy; --seed, --out).
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

SEED = 6  # picked among a few seeds for ~1.2-1.5% daily ranges and clean trends
CT = ZoneInfo("America/Chicago")
FIRST_SUNDAY = (2025, 6, 8)  # no US holiday, no DST change that week
SESSIONS = 4  # Sun 17:00 CT .. Thu 16:00 CT
SESSION_MINUTES = 23 * 60  # 17:00 -> 16:00 next day
TICKS_PER_POINT = 4  # MES tick = 0.25
OUT = Path(__file__).resolve().parents[1] / "worker" / "data" / "sample_mes.csv"
HEADER = ("id", "ts", "symbol", "timeframe", "o", "h", "l", "c", "v", "ema21")
EMA_PERIOD = 21
SUBSTEPS = 8  # intra-minute path points, for realistic highs and lows

# Regime schedule in CT wall time: (days after the first Sunday, "HH:MM", drift pts/hour).
# drift None = range (mean-reverting around the price where the range starts).
SCHEDULE: tuple[tuple[int, str, float | None], ...] = (
    (0, "17:00", None),
    (1, "01:30", +5.0),  # Mon: European-session drift up
    (1, "05:30", None),
    (1, "08:30", +12.0),  # Mon RTH up trend
    (1, "12:00", None),
    (1, "17:00", None),
    (2, "01:00", -5.0),  # Tue: overnight sell-off
    (2, "04:30", None),
    (2, "08:40", -13.0),  # Tue RTH down trend (after the 30m warm-up)
    (2, "12:15", None),
    (2, "17:00", None),
    (3, "02:00", +5.0),  # Wed: overnight bid
    (3, "06:00", None),
    (3, "08:30", +13.0),  # Wed RTH up trend
    (3, "12:30", None),
    (3, "17:00", None),
    (4, "00:30", -5.0),  # Thu: overnight slide
    (4, "04:00", None),
    (4, "08:30", -13.0),  # Thu RTH down trend
    (4, "12:00", None),
    (4, "13:30", +6.0),  # short covering into the close
)
RANGE_TAU_MIN = 50.0  # mean-reversion time constant of a range, minutes


@dataclass
class Row:
    order: float  # arrival instant used for file order (usually == ts)
    ts: float
    symbol: str
    timeframe: str
    o: str
    h: str
    l: str  # noqa: E741 -- the column is called `l`
    c: str
    v: str
    ema21: str
    tags: list[str] = field(default_factory=list)


def fmt_price(ticks: int, padded: bool) -> str:
    """Ticks -> price text: minimal ("6001.5", "6001") or padded ("6001.50", "6001.00")."""
    points, frac = divmod(ticks, TICKS_PER_POINT)
    if padded:
        return f"{points}.{frac * 25:02d}"
    return f"{points}" if frac == 0 else f"{points}.{('25', '5', '75')[frac - 1]}"


def fmt_ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")


def fmt_ema(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def session_minutes() -> np.ndarray:
    """Bar open times (epoch s, UTC) of every trading minute, in order."""
    y, m, d = FIRST_SUNDAY
    out = []
    for s in range(SESSIONS):
        start = datetime(y, m, d, 17, 0, tzinfo=CT) + timedelta(days=s)
        base = int(start.timestamp())
        out.extend(base + 60 * k for k in range(SESSION_MINUTES))
    return np.asarray(out, dtype=np.int64)


def ct_minute_of_day(t: int) -> int:
    local = datetime.fromtimestamp(t, CT)
    return local.hour * 60 + local.minute


def volume_base(mod: int) -> float:
    """Typical MES 1m volume by CT minute of day (U shape, overnight lull)."""
    if mod >= 17 * 60:  # evening: Globex reopen, Asia
        return 250.0 + 900.0 * math.exp(-(mod - 17 * 60) / 6.0)
    if mod < 2 * 60:
        return 230.0
    if mod < 3 * 60:  # Europe opens
        return 480.0
    if mod < 7 * 60:
        return 380.0
    if mod < 8 * 60 + 30:
        spike = 2000.0 if mod in (7 * 60 + 30, 7 * 60 + 31) else 0.0  # 07:30 data
        return 650.0 + spike
    if mod < 10 * 60:  # cash open and its decay
        return 2000.0 + 7500.0 * math.exp(-(mod - 510) / 22.0)
    if mod < 12 * 60 + 30:
        return 1900.0 - 2.0 * (mod - 600)
    if mod < 14 * 60:
        return 1600.0 + 3.0 * (mod - 750)
    if mod < 15 * 60:  # into the cash close
        return 1900.0 + 45.0 * (mod - 840)
    if mod < 15 * 60 + 15:
        return 1200.0 + 3000.0 * math.exp(-(mod - 900) / 5.0)
    return 450.0


def build_segments(rng: np.random.Generator) -> list[tuple[int, float | None]]:
    """Schedule -> [(start epoch s, drift pts/min or None)], boundaries jittered."""
    y, m, d = FIRST_SUNDAY
    segs = []
    for i, (day, hhmm, drift) in enumerate(SCHEDULE):
        hh, mm = (int(x) for x in hhmm.split(":"))
        start = int((datetime(y, m, d, hh, mm, tzinfo=CT) + timedelta(days=day)).timestamp())
        if i and not (hh == 17 and mm == 0):  # keep session opens fixed
            start += 60 * int(rng.integers(-12, 13))
        rate = None if drift is None else drift * float(rng.uniform(0.9, 1.1)) / 60.0
        segs.append((start, rate))
    return segs


@dataclass
class Bars:
    t: np.ndarray  # bar open, epoch s
    o: np.ndarray  # ticks
    h: np.ndarray
    low: np.ndarray
    c: np.ndarray
    v: np.ndarray
    ema: list[float | None]


def ema_series(closes: np.ndarray) -> list[float | None]:
    """TradingView ta.ema: undefined for n-1 bars, seeded by the SMA, alpha 2/(n+1)."""
    out: list[float | None] = []
    alpha = 2.0 / (EMA_PERIOD + 1)
    value: float | None = None
    acc = 0.0
    for i, x in enumerate(closes):
        if value is None:
            acc += float(x)
            if i == EMA_PERIOD - 1:
                value = acc / EMA_PERIOD
        else:
            value = alpha * float(x) + (1.0 - alpha) * value
        out.append(value)
    return out


def simulate_mes(rng: np.random.Generator, times: np.ndarray) -> tuple[Bars, np.ndarray]:
    segs = build_segments(rng)
    n = len(times)
    o = np.empty(n, np.int64)
    h = np.empty(n, np.int64)
    low = np.empty(n, np.int64)
    c = np.empty(n, np.int64)
    v = np.empty(n, np.int64)
    paths = np.empty((n, SUBSTEPS + 1))
    p = 6003.0  # points, float mid
    center = p
    k = -1
    prev_c: int | None = None
    for i, t in enumerate(times):
        t = int(t)
        while k + 1 < len(segs) and segs[k + 1][0] <= t:
            k += 1
            if segs[k][1] is None:
                center = p
        rate = segs[k][1]
        mod = ct_minute_of_day(t)
        session_open = mod == 17 * 60
        if session_open and i:  # small gap across the daily halt
            p += float(rng.normal(0.0, 1.2))
            center = p if rate is None else center
        vb = volume_base(mod)
        sigma = min(3.5, 0.038 * math.sqrt(vb))  # points per minute
        drift = (center - p) / RANGE_TAU_MIN if rate is None else rate
        shocks = rng.standard_t(5, SUBSTEPS) / math.sqrt(5.0 / 3.0)
        steps = drift / SUBSTEPS + sigma / math.sqrt(SUBSTEPS) * shocks
        path = p + np.concatenate(([0.0], np.cumsum(steps)))
        paths[i] = path
        ticks = np.rint(path * TICKS_PER_POINT).astype(np.int64)
        oi = int(ticks[0]) if prev_c is None or session_open else prev_c
        if not session_open and rng.random() < 0.12:  # open one tick off the prior close
            oi += int(rng.choice((-1, 1)))
        ci = int(ticks[-1])
        o[i], c[i] = oi, ci
        h[i] = max(int(ticks.max()), oi, ci)
        low[i] = min(int(ticks.min()), oi, ci)
        move = (h[i] - low[i]) / max(1.0, sigma * TICKS_PER_POINT * 1.5)
        v[i] = max(1, int(vb * rng.lognormal(0.0, 0.35) * (0.65 + 0.35 * move)))
        prev_c = ci
        p = float(path[-1])
    return Bars(times, o, h, low, c, v, ema_series(c / TICKS_PER_POINT)), paths


def simulate_mnq(
    rng: np.random.Generator, bars: Bars, paths: np.ndarray, idx: list[int]
) -> dict[int, tuple[int, int, int, int, int]]:
    """MNQ bars (ticks) for the given MES minute indexes: beta-scaled MES path + noise."""
    out: dict[int, tuple[int, int, int, int, int]] = {}
    q = 21512.0
    prev_c: int | None = None
    prev_i = None
    for i in idx:
        if prev_i is not None and i != prev_i + 1:  # a later window: drift away a bit
            q += float(rng.normal(0.0, 25.0))
            prev_c = None
        rel = (paths[i] - paths[i][0]) / paths[i][0]
        noise = np.concatenate(([0.0], np.cumsum(rng.normal(0.0, 0.9, SUBSTEPS))))
        path = q * (1.0 + 1.2 * rel) + noise
        ticks = np.rint(path * TICKS_PER_POINT).astype(np.int64)
        oi = int(ticks[0]) if prev_c is None else prev_c
        ci = int(ticks[-1])
        hi = max(int(ticks.max()), oi, ci)
        lo = min(int(ticks.min()), oi, ci)
        vol = max(1, int(0.7 * bars.v[i] * rng.lognormal(0.0, 0.3)))
        out[i] = (oi, hi, lo, ci, vol)
        prev_c, prev_i, q = ci, i, float(path[-1])
    return out


class Picker:
    """Chooses quirk minutes that keep clear of each other and of session edges."""

    def __init__(self, rng: np.random.Generator, times: np.ndarray) -> None:
        self.rng = rng
        self.times = times
        self.used: set[int] = set()

    def pick(self, lo: int, hi: int, span: int = 1, mod5: tuple[int, ...] | None = None) -> int:
        for _ in range(10_000):
            i = int(self.rng.integers(lo, hi))
            s = i % SESSION_MINUTES
            if s < 25 or s + span > SESSION_MINUTES - 25:  # away from open/halt
                continue
            if mod5 is not None and (int(self.times[i]) // 60) % 5 not in mod5:
                continue
            if any(j in self.used for j in range(i - 6, i + span + 6)):
                continue
            self.used.update(range(i, i + span))
            return i
        raise RuntimeError("no room for a quirk")


def build_rows(rng: np.random.Generator) -> tuple[list[Row], Counter[str]]:
    times = session_minutes()
    bars, paths = simulate_mes(rng, times)
    n = len(times)
    early = (30, SESSION_MINUTES)  # Sunday-evening / Monday session
    # The last session: `make run` streams about its last 1380 rows live, the rest as warm-up.
    late = (n - SESSION_MINUTES + 120, n)
    pick = Picker(rng, times)
    quirks: dict[int, str] = {}
    counts: Counter[str] = Counter()

    def place(kind: str, n_early: int, n_late: int, span: int = 1, **kw: object) -> list[int]:
        got = []
        for lo, hi, k in ((*early, n_early), (*late, n_late)):
            for _ in range(k):
                i = pick.pick(lo, hi, span, **kw)  # type: ignore[arg-type]
                quirks[i] = kind
                got.append(i)
        counts[kind] += n_early + n_late
        return got

    # MNQ windows first (contiguous), so other quirks keep clear of them.
    mnq_starts = [pick.pick(early[0] + 200, early[1], 20), pick.pick(*late, 45)]
    mnq_idx = [*range(mnq_starts[0], mnq_starts[0] + 20), *range(mnq_starts[1], mnq_starts[1] + 45)]
    mnq = simulate_mnq(rng, bars, paths, mnq_idx)
    tf5_starts = [pick.pick(early[0] + 150, early[1], 20), pick.pick(*late, 30)]
    place("missing_1", 1, 3)
    for i in place("missing_3", 1, 2, span=3):
        quirks[i + 1] = quirks[i + 2] = "missing_3"
    place("dup_exact", 1, 3)
    place("dup_conflict", 1, 2)
    for i in place("out_of_order", 1, 2, span=2, mod5=(0, 1, 2)):
        quirks[i + 1] = "out_of_order_2nd"
    place("late_55_58s", 1, 3)
    place("empty_v", 1, 3)
    place("invalid", 1, 2)
    invalid_kinds = iter(("h_below_c", "negative_v", "nan_o"))

    rows: list[Row] = []

    def jitter() -> float:
        return float(rng.uniform(1.0, 6.0))

    def mes_row(i: int, at: float, padded: bool) -> Row:
        return Row(
            at,
            at,
            "MES",
            "1",
            fmt_price(int(bars.o[i]), padded),
            fmt_price(int(bars.h[i]), padded),
            fmt_price(int(bars.low[i]), padded),
            fmt_price(int(bars.c[i]), padded),
            str(int(bars.v[i])),
            fmt_ema(bars.ema[i]),
        )

    for i in range(n):
        kind = quirks.get(i)
        close = float(times[i]) + 60.0
        padded = bool(rng.random() < 0.10)
        if kind in ("missing_1", "missing_3"):
            continue
        if kind == "late_55_58s":
            at = close + float(rng.uniform(55.0, 58.0))
            row = mes_row(i, at, padded)
            row.tags.append(kind)
            rows.append(row)
            continue
        at = close + jitter()
        row = mes_row(i, at, padded)
        if kind == "empty_v":
            row.v = ""
            row.tags.append(kind)
        elif kind == "invalid":
            what = next(invalid_kinds)
            if what == "h_below_c":
                row.h = fmt_price(int(bars.c[i]) - 1, padded)
                row.l = fmt_price(min(int(bars.low[i]), int(bars.c[i]) - 1), padded)
            elif what == "negative_v":
                row.v = str(-int(bars.v[i]))
            else:
                row.o = "NaN"
            row.tags.append(f"invalid:{what}")
        elif kind == "out_of_order":
            # Bar i+1 is inserted before bar i; each row keeps a ts inside its own
            # minute+1, so only the arrival (id) order is swapped.
            row.order = close + 60.0 + 6.5  # after bar i+1's row (its ts <= close+66 s)
            row.tags.append("out_of_order:arrives_after_next")
        rows.append(row)
        if kind == "dup_exact":
            dup = mes_row(i, at + float(rng.uniform(0.3, 2.5)), padded)
            dup.tags.append(kind)
            rows.append(dup)
        elif kind == "dup_conflict":
            bump = int(rng.choice((-2, -1, 1, 2)))
            ci = int(bars.c[i]) + bump
            hi, lo = max(int(bars.h[i]), ci), min(int(bars.low[i]), ci)
            ema_prev = bars.ema[i - 1]
            alpha = 2.0 / (EMA_PERIOD + 1)
            ema_alt = None if ema_prev is None else alpha * ci / 4 + (1 - alpha) * ema_prev
            at2 = close + float(rng.uniform(15.0, 40.0))
            alt = Row(
                at2,
                at2,
                "MES",
                "1",
                fmt_price(int(bars.o[i]), padded),
                fmt_price(hi, padded),
                fmt_price(lo, padded),
                fmt_price(ci, padded),
                str(max(1, int(bars.v[i] * rng.uniform(0.6, 0.95)))),
                fmt_ema(ema_alt),
                ["dup_conflict"],
            )
            rows.append(alt)

    # MNQ rows (another symbol sharing the table; its ema21 is not carried here).
    for i, (oi, hi, lo, ci, vol) in mnq.items():
        at = float(times[i]) + 60.0 + jitter()
        padded = bool(rng.random() < 0.10)
        rows.append(
            Row(
                at,
                at,
                "MNQ",
                "1",
                fmt_price(oi, padded),
                fmt_price(hi, padded),
                fmt_price(lo, padded),
                fmt_price(ci, padded),
                str(vol),
                "",
                ["mnq"],
            )
        )
    counts["mnq_rows"] = len(mnq)

    # Rows from a 5-minute chart alert pointed at the same table (timeframe "5").
    idx_of = {int(t): i for i, t in enumerate(times)}
    starts5 = sorted({int(t) - int(t) % 300 for t in times})
    full5 = [s for s in starts5 if all(s + 60 * k in idx_of for k in range(5))]
    ema5 = dict(
        zip(
            full5,
            ema_series(np.array([bars.c[idx_of[s + 240]] / TICKS_PER_POINT for s in full5])),
            strict=True,
        )
    )
    for start_i, count in ((tf5_starts[0], 3), (tf5_starts[1], 5)):
        first = int(times[start_i]) - int(times[start_i]) % 300 + 300
        for b in range(count):
            s = first + 300 * b
            ii = [idx_of[s + 60 * k] for k in range(5)]
            at = s + 300.0 + jitter()
            rows.append(
                Row(
                    at,
                    at,
                    "MES",
                    "5",
                    fmt_price(int(bars.o[ii[0]]), False),
                    fmt_price(int(max(bars.h[j] for j in ii)), False),
                    fmt_price(int(min(bars.low[j] for j in ii)), False),
                    fmt_price(int(bars.c[ii[-1]]), False),
                    str(int(sum(bars.v[j] for j in ii))),
                    fmt_ema(ema5.get(s)),
                    ["tf5"],
                )
            )
            counts["tf5_rows"] += 1

    rows.sort(key=lambda r: r.order)
    return rows, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output CSV (default {OUT})")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows, counts = build_rows(rng)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        for k, r in enumerate(rows, start=1):
            w.writerow((k, fmt_ts(r.ts), r.symbol, r.timeframe, r.o, r.h, r.l, r.c, r.v, r.ema21))
    per = Counter((r.symbol, r.timeframe) for r in rows)
    size_kb = args.out.stat().st_size / 1024
    print(f"wrote {args.out} ({size_kb:.0f} KB, seed {args.seed})")
    kinds = ", ".join(f"{s} tf{tf}={c}" for (s, tf), c in sorted(per.items()))
    print(f"rows {len(rows)}: {kinds}")
    print(
        f"trading sessions {SESSIONS} (Sun 17:00 CT .. Thu 16:00 CT), "
        f"{SESSION_MINUTES} minutes each"
    )
    print(f"first ts {fmt_ts(rows[0].ts)}  last ts {fmt_ts(rows[-1].ts)}")
    zeros = (".00", ".50")  # "6001.50" style; .25/.75 read the same either way
    counts["trailing_zero_rows"] = sum(
        any(x.endswith(zeros) for x in (r.o, r.h, r.l, r.c)) for r in rows
    )
    counts["arrival_swaps"] = sum(b.ts < a.ts for a, b in pairwise(rows))
    print("quirks: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    bad = [t for r in rows for t in r.tags if t.startswith("invalid:")]
    print(f"  (missing_1: single minutes, missing_3: 3-minute runs; {', '.join(bad)})")


if __name__ == "__main__":
    main()
