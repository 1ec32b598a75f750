"""Differential test: the streaming engine against an independent batch reference.

A seeded generator writes ~17 weeks of 1-minute MES rows shaped like `tv_datafeed`
rows (receipt-time `ts`, string numbers, gaps, the daily CME halt, weekends, exact and
conflicting duplicates, invalid rows, out-of-order minutes inside a bucket). The rows go
through `normalize_row` -> `SymbolEngine.add` -> `flush`, and every closed bar, EMA,
slope, regime and decision is compared with a reference built from the generator's
ground truth with pandas `resample`, a loop EMA with TradingView seeding,
`numpy.polyfit` slopes and the hold-first rules written out again here. The reference
imports nothing from `engine.aggregator` or `engine.indicators`.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from engine.aggregator import SymbolEngine
from engine.config import DecisionConfig, EngineConfig
from engine.decide import HoldFirstDecider
from engine.model import Bar1m, MarketState, Outcome, PositionContext
from engine.normalize import normalize_row

SEED = 20250105
SYMBOL = "MES"
START = datetime(2025, 1, 5, 23, 0, tzinfo=UTC)  # Sunday 17:00 CST: the week's first minute
CALENDAR_MINUTES = 175_000  # ~17 weeks, across the March DST change
CHICAGO = ZoneInfo("America/Chicago")
TIMEFRAMES = (5, 15, 30)
EMA_PERIOD = 21
SLOPE_WINDOW = 5
THRESHOLD = 0.00005
WARMUP = 60
READY_AFTER = max(WARMUP, EMA_PERIOD + SLOPE_WINDOW - 1)
FLAT_START, FLAT_END = time(15, 7), time(17, 0)
REL = 1e-9
# A slope near zero has no meaningful relative error; below this (1e-9 of the threshold)
# an absolute comparison applies instead.
SLOPE_ABS = 1e-9 * THRESHOLD

# Expected `normalize_row` outcome for each kind of broken row the generator writes.
INVALID_KINDS: tuple[tuple[str, bool], ...] = (
    ("non_positive_price", False),
    ("non_finite_price", False),
    ("high_below_range", False),
    ("low_above_range", False),
    ("missing_field", False),
    ("unparsable_field", False),
    ("negative_volume", False),
    ("non_finite_volume", False),
    ("other_timeframe", True),
    ("other_symbol", True),
)


IGNORED = dict(INVALID_KINDS)


# -- generator ---------------------------------------------------------------------------


@dataclass
class Stream:
    feed: list[tuple[dict[str, object], float, str]] = field(default_factory=list)
    truth: dict[int, tuple[float, float, float, float, float]] = field(default_factory=dict)
    permuted_buckets: int = 0


def _trading_minutes(rng: np.random.Generator) -> np.ndarray:
    """Open times (epoch s) of minutes in session, minus random single and run gaps."""
    idx = pd.date_range(START, periods=CALENDAR_MINUTES, freq="min")
    local = idx.tz_convert(CHICAGO)
    hour, weekday = local.hour, local.day_of_week
    halt = hour == 16
    weekend = (weekday == 5) | ((weekday == 4) & (hour >= 16)) | ((weekday == 6) & (hour < 17))
    keep = np.asarray(~(halt | weekend))
    keep &= rng.random(keep.size) >= 0.01  # single missing minutes
    for start in np.flatnonzero(rng.random(keep.size) < 0.0008):  # missing runs
        keep[start : start + rng.integers(2, 40)] = False
    return idx.as_unit("s").asi8[keep]


def _prices(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random walk on a 0.25 tick with a slowly wandering drift (so trends happen)."""
    drift = np.empty(n)
    d = 0.0
    shocks = rng.normal(0.0, 0.004, n)
    for i in range(n):
        d = 0.998 * d + shocks[i]
        drift[i] = d
    path = 5000.0 + np.cumsum(drift + rng.normal(0.0, 0.9, n))
    return np.round(np.maximum(path, 100.0) * 4.0) / 4.0


def _number(value: float, rnd: random.Random) -> object:
    return repr(value) if rnd.random() < 0.3 else value


def _ts_text(receipt_us: int, rnd: random.Random) -> str:
    dt = datetime.fromtimestamp(receipt_us // 1_000_000, UTC).replace(
        microsecond=receipt_us % 1_000_000
    )
    style = rnd.random()
    if style < 0.6:
        return dt.isoformat()
    if style < 0.8:
        return dt.isoformat().replace("+00:00", "Z")
    return dt.isoformat(sep=" ")


def _row(ohlcv: tuple[float, ...], receipt_us: int, rnd: random.Random) -> dict:
    o, h, low, c, v = ohlcv
    row: dict[str, object] = {
        "ts": _ts_text(receipt_us, rnd),
        "symbol": SYMBOL,
        "timeframe": "1" if rnd.random() < 0.7 else 1,
        "o": _number(o, rnd),
        "h": _number(h, rnd),
        "l": _number(low, rnd),
        "c": _number(c, rnd),
    }
    if v or rnd.random() < 0.5:  # zero volume arrives as null, "" or no key at all
        row["v"] = _number(v, rnd) if v else rnd.choice([None, "", " "])
    return row


def _broken(row: dict[str, object], kind: str, ohlcv: tuple[float, ...], variant: int) -> dict:
    o, h, _, c, _ = ohlcv
    bad = dict(row)
    if kind == "non_positive_price":
        bad[("o", "l", "c")[variant % 3]] = (0, "-1.5", 0.0)[variant % 3]
    elif kind == "non_finite_price":
        bad[("h", "c", "o")[variant % 3]] = (math.nan, "inf", -math.inf)[variant % 3]
    elif kind == "high_below_range":
        bad["h"] = max(o, c) - 0.25
    elif kind == "low_above_range":
        bad["l"] = min(o, c) + 0.25
        bad["h"] = max(h, min(o, c) + 0.25)
    elif kind == "missing_field":
        if variant % 3 == 2:
            bad["symbol"] = None
        else:
            del bad[("c", "ts")[variant % 3]]
    elif kind == "unparsable_field":
        bad[("o", "ts", "ts")[variant % 3]] = ("12,5.x", "not a time", "2025-01-06T10:00:00")[
            variant % 3
        ]
    elif kind == "negative_volume":
        bad["v"] = -3
    elif kind == "non_finite_volume":
        bad["v"] = "nan"
    elif kind == "other_timeframe":
        bad["timeframe"] = "5"
    elif kind == "other_symbol":
        bad["symbol"] = "ES"
    return bad


def _arrival_order(minutes: np.ndarray, rnd: random.Random, stream: Stream) -> list[int]:
    """Minutes in feed order: some buckets shuffled, their final minute kept last."""
    order: list[int] = []
    bucket: list[int] = []
    for m in [*minutes.tolist(), None]:
        if bucket and (m is None or m // 300 != bucket[0] // 300):
            if len(bucket) > 1 and rnd.random() < 0.06:
                stream.permuted_buckets += 1
                final = bucket[-1] if bucket[-1] % 300 == 240 else None
                head = bucket[:-1] if final is not None else bucket[:]
                rnd.shuffle(head)
                bucket = [*head, final] if final is not None else head
            order.extend(bucket)
            bucket = []
        if m is not None:
            bucket.append(m)
    return order


def generate(seed: int = SEED) -> Stream:
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    stream = Stream()
    minutes = _trading_minutes(rng)
    # End of input mid-bucket, on the 2nd minute of a 30m bucket: no larger bucket holds a
    # closed 5m bar yet, and `flush` has to close all three timeframes.
    minutes = minutes[: np.flatnonzero(minutes % 1800 == 60)[-1] + 1]
    closes = _prices(rng, minutes.size)
    wicks = rng.geometric(0.5, (2, minutes.size)) - 1
    ohlcv: dict[int, tuple[float, ...]] = {}
    prev = float(closes[0])
    for i, m in enumerate(minutes.tolist()):
        o, c = prev, float(closes[i])
        volume = float(rnd.randint(1, 3000))
        if rnd.random() < 0.05:
            volume += 0.5
        if rnd.random() < 0.02:
            volume = 0.0
        h = max(o, c) + 0.25 * int(wicks[0, i])
        low = min(o, c) - 0.25 * int(wicks[1, i])
        ohlcv[m] = (o, h, low, c, volume)
        prev = c
    main: list[tuple[dict[str, object], float, str]] = []
    extras: dict[int, list[tuple[dict[str, object], float, str]]] = {}
    for i, m in enumerate(_arrival_order(minutes, rnd, stream)):
        receipt_us = (m + 60) * 1_000_000 + rnd.randint(200_000, 9_000_000)
        row = _row(ohlcv[m], receipt_us, rnd)
        main.append((row, receipt_us / 1e6, Outcome.ACCEPTED))
        stream.truth[m] = ohlcv[m]
        roll = rnd.random()
        if roll < 0.012:  # exact duplicate, now or up to 30 rows later
            extras.setdefault(i + rnd.randint(0, 30), []).append(
                (dict(row), receipt_us / 1e6, Outcome.DUPLICATE)
            )
        elif roll < 0.018:  # a different second copy of the same minute: the first wins
            o, h, low, c, v = ohlcv[m]
            c2 = c + 0.25
            receipt2 = receipt_us + rnd.randint(0, 30_000_000)
            copy = _row((o, max(h, c2) + 0.5, low, c2, v + 1.0), receipt2, rnd)
            extras.setdefault(i + rnd.randint(0, 30), []).append(
                (copy, receipt2 / 1e6, Outcome.CONFLICT)
            )
        elif roll < 0.03:  # a broken row for the same minute, just before or after
            n = rnd.randrange(3 * len(INVALID_KINDS))
            kind = INVALID_KINDS[n % len(INVALID_KINDS)][0]
            bad = _broken(row, kind, ohlcv[m], n // len(INVALID_KINDS))
            extras.setdefault(i - rnd.randint(0, 1), []).append(
                (bad, receipt_us / 1e6, f"reject:{kind}")
            )
    for k in sorted(key for key in extras if key < 0):
        stream.feed.extend(extras[k])
    for i, item in enumerate(main):
        stream.feed.append(item)
        stream.feed.extend(extras.get(i, ()))
    stream.feed.extend(x for k in sorted(extras) if k >= len(main) for x in extras[k])
    return stream


# -- the engine under test ---------------------------------------------------------------


@dataclass
class Replay:
    outcomes: list[str]
    states: list[MarketState]
    decisions: list[tuple[str, str, int]]


def run_engine(stream: Stream) -> Replay:
    engine = SymbolEngine(SYMBOL, EngineConfig())
    decider = HoldFirstDecider(DecisionConfig())
    context = PositionContext("replay")
    outcomes: list[str] = []
    states: list[MarketState] = []
    for row, arrival, _ in stream.feed:
        result = normalize_row(row, (SYMBOL,))
        if not isinstance(result, Bar1m):
            outcomes.append(f"reject:{result.reason}")
            assert result.ignored == IGNORED.get(result.reason), result
            continue
        assert not result.ambiguous, row
        outcome, closed = engine.add(result, arrival)
        outcomes.append(outcome)
        states.extend(closed)
    states.extend(engine.flush())
    decisions = []
    for state in states:
        plan = decider.decide(state, context)
        decisions.append((plan.action.value, plan.reason_code, state.at))
    return Replay(outcomes, states, decisions)


# -- the independent reference -----------------------------------------------------------


@dataclass(frozen=True)
class RefBar:
    timeframe: int
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    minutes: int
    ema: float | None
    slope: float | None
    regime: str
    bars_seen: int


def tv_ema(closes: np.ndarray, n: int) -> np.ndarray:
    """TradingView ta.ema: NaN for n-1 bars, SMA seed, then a*x + (1-a)*prev."""
    out = np.full(closes.size, np.nan)
    if closes.size < n:
        return out
    a = 2.0 / (n + 1)
    prev = float(np.mean(closes[:n]))
    out[n - 1] = prev
    for i in range(n, closes.size):
        prev = a * closes[i] + (1.0 - a) * prev
        out[i] = prev
    return out


def polyfit_slopes(ema: np.ndarray, window: int) -> np.ndarray:
    """Least-squares slope of the last `window` EMA values, divided by the last EMA."""
    out = np.full(ema.size, np.nan)
    first = EMA_PERIOD - 1 + window - 1
    if ema.size <= first:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(ema[EMA_PERIOD - 1 :], window)
    coefficients = np.polyfit(np.arange(window, dtype=float), windows.T, 1)
    out[first:] = coefficients[0] / ema[first:]
    return out


def ref_regime(count: int, slope: float) -> str:
    if count < READY_AFTER or math.isnan(slope):
        return "insufficient"
    if abs(slope) >= THRESHOLD:
        return "trend_up" if slope > 0 else "trend_down"
    return "range"


def reference_bars(truth: dict[int, tuple[float, ...]], tf: int) -> list[RefBar]:
    frame = pd.DataFrame.from_dict(truth, orient="index", columns=["o", "h", "l", "c", "v"])
    frame.index = pd.to_datetime(frame.index, unit="s", utc=True)
    frame = frame.sort_index()
    agg = frame.resample(f"{tf}min", label="left", closed="left", origin="epoch").agg(
        {"o": "first", "h": "max", "l": "min", "c": "last", "v": ["sum", "count"]}
    )
    agg.columns = ["o", "h", "l", "c", "v", "n"]
    agg = agg[agg["n"] > 0]
    closes = agg["c"].to_numpy(dtype=float)
    ema = tv_ema(closes, EMA_PERIOD)
    slopes = polyfit_slopes(ema, SLOPE_WINDOW)
    opens = agg.index.as_unit("s").asi8
    bars = []
    for i, (t, row) in enumerate(zip(opens.tolist(), agg.itertuples(index=False), strict=True)):
        e, s = float(ema[i]), float(slopes[i])
        bars.append(
            RefBar(
                tf, t, t + tf * 60, row.o, row.h, row.l, row.c, row.v, int(row.n),
                None if math.isnan(e) else e, None if math.isnan(s) else s,
                ref_regime(i + 1, s), i + 1,
            )
        )  # fmt: skip
    return bars


def ref_decision(at: int, frames: list[RefBar | None]) -> tuple[str, str]:
    local = datetime.fromtimestamp(at, CHICAGO).time()
    if FLAT_START <= local <= FLAT_END:
        return "HOLD", "get_flat_window"
    regimes = [f.regime if f is not None else "insufficient" for f in frames]
    if "insufficient" in regimes:
        return "HOLD", "insufficient_data"
    if "range" in regimes:
        return "HOLD", "range"
    if "trend_up" in regimes and "trend_down" in regimes:
        return "HOLD", "mixed_trend"
    return ("BUY", "aligned_uptrend") if "trend_up" in regimes else ("SELL", "aligned_downtrend")


@dataclass
class Reference:
    bars: dict[int, list[RefBar]]
    states: list[tuple[int, tuple[RefBar, ...], tuple[RefBar | None, ...]]]
    decisions: list[tuple[str, str, int]]


def build_reference(stream: Stream) -> Reference:
    bars = {tf: reference_bars(stream.truth, tf) for tf in TIMEFRAMES}
    instants = sorted({b.close_time for tf in TIMEFRAMES for b in bars[tf]})
    by_close = {(b.timeframe, b.close_time): b for tf in TIMEFRAMES for b in bars[tf]}
    latest: dict[int, RefBar | None] = dict.fromkeys(TIMEFRAMES)
    states, decisions = [], []
    for at in instants:
        closed = tuple(by_close[tf, at] for tf in TIMEFRAMES if (tf, at) in by_close)
        for bar in closed:
            latest[bar.timeframe] = bar
        frames = tuple(latest[tf] for tf in TIMEFRAMES)
        states.append((at, closed, frames))
        decisions.append((*ref_decision(at, list(frames)), at))
    return Reference(bars, states, decisions)


# -- comparison --------------------------------------------------------------------------


def _close(a: float | None, b: float | None, abs_tol: float = 0.0) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL, abs_tol=abs_tol)


def bar_mismatch(got: object, want: RefBar) -> str | None:
    fields = ("open", "high", "low", "close", "volume")
    problems = [
        name
        for name in ("timeframe", "open_time", "close_time", "minutes", "regime", "bars_seen")
        if getattr(got, name) != getattr(want, name)
    ]
    problems += [n for n in fields if not _close(getattr(got, n), getattr(want, n))]
    if not _close(got.ema, want.ema):  # type: ignore[attr-defined]
        problems.append("ema")
    if not _close(got.slope, want.slope, SLOPE_ABS):  # type: ignore[attr-defined]
        problems.append("slope")
    return f"{problems}: engine {got} != reference {want}" if problems else None


def state_mismatches(replay: Replay, ref: Reference) -> list[str]:
    out = []
    for i, (state, (at, closed, frames)) in enumerate(zip(replay.states, ref.states, strict=False)):
        if state.at != at:
            out.append(f"state {i}: at {state.at} != {at}")
            break
        if len(state.closed) != len(closed):
            out.append(f"state {i} at {at}: closed {state.closed} != {closed}")
        out += [m for g, w in zip(state.closed, closed, strict=False) if (m := bar_mismatch(g, w))]
        keys = [None if f is None else (f.timeframe, f.open_time) for f in state.frames]
        want = [None if f is None else (f.timeframe, f.open_time) for f in frames]
        if keys != want:
            out.append(f"state {i} at {at}: frames {keys} != {want}")
        if len(out) > 10:
            break
    return out


# -- tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stream() -> Stream:
    return generate()


@pytest.fixture(scope="module")
def replay(stream: Stream) -> Replay:
    return run_engine(stream)


@pytest.fixture(scope="module")
def reference(stream: Stream) -> Reference:
    return build_reference(stream)


def test_generated_stream_has_every_quirk(stream: Stream) -> None:
    expected = Counter(kind for _, _, kind in stream.feed)
    assert len(stream.truth) >= 100_000
    assert stream.permuted_buckets >= 500
    assert expected[Outcome.DUPLICATE] >= 500
    assert expected[Outcome.CONFLICT] >= 300
    for kind, _ in INVALID_KINDS:
        assert expected[f"reject:{kind}"] >= 50, kind
    times = np.array(sorted(stream.truth))
    steps = np.diff(times)
    assert (steps == 60).sum() > 100_000
    assert (steps == 120).sum() > 500  # single missing minutes
    assert ((steps > 120) & (steps < 3600)).sum() > 50  # missing runs
    assert (steps >= 3600).sum() > 80  # daily halts
    assert steps.max() >= 49 * 3600  # weekends
    strings = sum(isinstance(row["o"], str) for row, _, k in stream.feed if k == "accepted")
    assert strings > 10_000


def test_every_row_gets_the_expected_outcome(stream: Stream, replay: Replay) -> None:
    expected = [kind for _, _, kind in stream.feed]
    wrong = [
        (i, stream.feed[i][0], want, got)
        for i, (want, got) in enumerate(zip(expected, replay.outcomes, strict=True))
        if want != got
    ]
    assert not wrong, f"{len(wrong)} rows, first: {wrong[:5]}"


@pytest.mark.parametrize("tf", TIMEFRAMES)
def test_closed_bars_and_indicators_match_reference(
    replay: Replay, reference: Reference, tf: int
) -> None:
    got = [bar for state in replay.states for bar in state.closed if bar.timeframe == tf]
    want = reference.bars[tf]
    missing = sorted({b.open_time for b in want} - {b.open_time for b in got})
    extra = sorted({b.open_time for b in got} - {b.open_time for b in want})
    assert (missing, extra) == ([], []), (
        f"{tf}m bars the engine never closed (open times): {missing[:5]}, "
        f"bars only the engine has: {extra[:5]} (of {len(want)})"
    )
    mismatches = [m for g, w in zip(got, want, strict=True) if (m := bar_mismatch(g, w))]
    assert not mismatches, f"{len(mismatches)} bars differ, first: {mismatches[:3]}"
    regimes = Counter(bar.regime for bar in want)
    assert min(regimes[r] for r in ("trend_up", "trend_down", "range", "insufficient")) > 0


def test_states_group_every_timeframe_closing_at_one_instant(
    replay: Replay, reference: Reference
) -> None:
    got, want = [s.at for s in replay.states], [at for at, _, _ in reference.states]
    assert got == want, (
        f"instants only in the engine: {sorted(set(got) - set(want))[:5]}, "
        f"only in the reference: {sorted(set(want) - set(got))[:5]}"
    )
    assert not state_mismatches(replay, reference)
    assert any(len(closed) == 3 for _, closed, _ in reference.states)


def test_decisions_match_reference(replay: Replay, reference: Reference) -> None:
    wrong = [
        (got, want)
        for got, want in zip(replay.decisions, reference.decisions, strict=False)
        if got != want
    ]
    assert not wrong, f"{len(wrong)} decisions differ, first: {wrong[:5]}"
    n = len(replay.decisions)
    assert n == len(reference.decisions), f"decisions missing: {reference.decisions[n:][:5]}"
    reasons = Counter(reason for _, reason, _ in reference.decisions)
    for reason in (
        "get_flat_window",
        "insufficient_data",
        "range",
        "mixed_trend",
        "aligned_uptrend",
        "aligned_downtrend",
    ):
        assert reasons[reason] > 0, (reason, reasons)
