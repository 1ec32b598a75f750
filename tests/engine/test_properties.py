"""Property tests (hypothesis) of the engine's invariants under messy input."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.aggregator import SymbolEngine
from engine.config import DecisionConfig, EngineConfig
from engine.decide import FlatWindow, HoldFirstDecider, Reason
from engine.model import Bar1m, ClosedBar, MarketState, Outcome, PositionContext, Rejection
from engine.normalize import normalize_row

T0 = 1_750_082_400  # 2025-06-16 14:00 UTC, on a 30-minute boundary
TICK = 0.25
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OUTCOMES = {Outcome.ACCEPTED, Outcome.DUPLICATE, Outcome.CONFLICT, Outcome.LATE}


@st.composite
def ohlcv(draw: st.DrawFn) -> tuple[float, float, float, float, float]:
    """Valid prices on a 0.25 tick and an integer volume: sums are exact in any order."""
    o, c = (draw(st.integers(4, 40_000)) * TICK for _ in range(2))
    h = max(o, c) + draw(st.integers(0, 8)) * TICK
    low = min(o, c) - draw(st.integers(0, min(8, int(min(o, c) / TICK) - 1))) * TICK
    return o, h, low, c, float(draw(st.integers(0, 5000)))


def bar_at(t: int, values: tuple[float, ...]) -> Bar1m:
    return Bar1m("MES", t, *values)


def run(feed: list[tuple[Bar1m, float]]) -> tuple[list[str], list[MarketState]]:
    """Outcomes of `add`, and every state from the adds and the final flush."""
    engine = SymbolEngine("MES", EngineConfig())
    outcomes, states = [], []
    for bar, arrival in feed:
        outcome, closed = engine.add(bar, arrival)
        outcomes.append(outcome)
        states += closed
    states += engine.flush()
    return outcomes, states


# -- (a) arrival order inside a bucket ------------------------------------------------------


@st.composite
def shuffled_buckets(draw: st.DrawFn) -> tuple[list[Bar1m], list[Bar1m]]:
    """Minutes of a few 5m buckets (some missing), in time order and in an arrival order
    that shuffles each bucket but keeps its final minute last."""
    buckets = draw(st.lists(st.integers(0, 14), min_size=1, max_size=5, unique=True))
    in_order: list[Bar1m] = []
    shuffled: list[Bar1m] = []
    for b in sorted(buckets):
        present = sorted(draw(st.sets(st.integers(0, 4), min_size=1)))
        bars = {i: bar_at(T0 + b * 300 + i * 60, draw(ohlcv())) for i in present}
        in_order += [bars[i] for i in present]
        head = [i for i in present if i != 4]
        order = draw(st.permutations(head)) + ([4] if 4 in present else [])
        shuffled += [bars[i] for i in order]
    return in_order, shuffled


@FAST
@given(shuffled_buckets())
def test_arrival_order_inside_a_bucket_does_not_change_the_bars(
    streams: tuple[list[Bar1m], list[Bar1m]],
) -> None:
    in_order, shuffled = streams
    outcomes_a, states_a = run([(b, b.open_time + 62.0) for b in in_order])
    outcomes_b, states_b = run([(b, b.open_time + 62.0) for b in shuffled])
    assert outcomes_a == outcomes_b == [Outcome.ACCEPTED] * len(in_order)
    assert states_a == states_b
    five = [bar for s in states_a for bar in s.closed if bar.timeframe == 5]
    assert sum(bar.minutes for bar in five) == len(in_order)


# -- (b) a row fed twice ---------------------------------------------------------------------


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


@st.composite
def raw_rows(draw: st.DrawFn) -> list[tuple[dict[str, object], float]]:
    """tv_datafeed-like rows with receipt times, gaps, swaps, conflicts and junk."""
    offsets = sorted(draw(st.lists(st.integers(0, 240), min_size=1, max_size=40, unique=True)))
    rows: list[tuple[dict[str, object], float]] = []
    for k in offsets:
        receipt = T0 + 60 * k + 60 + draw(st.integers(0, 150_000)) / 1000
        o, h, low, c, v = draw(ohlcv())
        row: dict[str, object] = {
            "ts": _ts(receipt), "symbol": "MES", "timeframe": "1",
            "o": str(o), "h": h, "l": low, "c": c, "v": v,
        }  # fmt: skip
        kind = draw(st.sampled_from(["plain"] * 6 + ["conflict", "junk", "swap"]))
        if kind == "conflict":
            rows.append(({**row, "c": str(h), "v": v + 1}, receipt + 1))
        elif kind == "junk":
            rows.append(({**row, "h": low - 1}, receipt))
        rows.append((row, receipt))
        if kind == "swap" and len(rows) >= 2:
            rows[-1], rows[-2] = rows[-2], rows[-1]
    return rows


def feed_rows(rows: list[tuple[dict[str, object], float]]) -> list[object]:
    engine = SymbolEngine("MES", EngineConfig())
    out: list[object] = []
    for row, arrival in rows:
        result = normalize_row(row, ("MES",))
        out.append(result if isinstance(result, Rejection) else engine.add(result, arrival))
    out.append(engine.flush())
    return out


@FAST
@given(raw_rows(), st.data())
def test_a_row_fed_twice_changes_nothing(
    rows: list[tuple[dict[str, object], float]], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(rows) - 1), label="row")
    j = data.draw(st.integers(i + 1, len(rows)), label="copy inserted before")
    row, arrival = rows[i]
    twice = [*rows[:j], (dict(row), arrival), *rows[j:]]
    once, again = feed_rows(rows), feed_rows(twice)
    copy = again.pop(j)
    assert again == once
    if isinstance(copy, Rejection):
        assert copy == once[i]
    else:
        assert copy[0] != Outcome.ACCEPTED
        assert copy[1] == ()


# -- (c) nothing raises ----------------------------------------------------------------------

FIELDS = ["ts", "symbol", "timeframe", "o", "h", "l", "c", "v", "bar_time"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**400), 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["1", "MES", "nan", "-inf", "1e400", " 6000.25 ", "2025-06-16T19:01:03Z", "0x10",
         "1_000", "", " ", "2025-06-16T19:01:03", "1750100463000", "-1", "١٢٣"]
    ),
    st.datetimes(),
    st.datetimes(timezones=st.timezones()),
    st.builds(lambda d: d.replace(tzinfo=UTC), st.datetimes()),
)  # fmt: skip
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5)
arbitrary_rows = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=5)), values, max_size=12),
    st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, values)),
    st.fixed_dictionaries(
        {"symbol": st.just("MES"), "timeframe": st.sampled_from(["1", 1])},
        optional=dict.fromkeys(["ts", "o", "h", "l", "c", "v", "bar_time"], values),
    ),
)


@settings(max_examples=400, deadline=None)
@given(arbitrary_rows, st.floats(0, 120))
def test_normalize_never_raises_and_accepts_only_sane_bars(
    row: dict[str, object], tolerance: float
) -> None:
    result = normalize_row(row, (), tolerance)
    assert isinstance(result, Bar1m | Rejection)
    if isinstance(result, Bar1m):
        o, h, low, c, v = result[2:7]
        assert all(type(x) is float and math.isfinite(x) for x in (o, h, low, c, v))
        assert 0.0 < low <= min(o, c) <= max(o, c) <= h
        assert v >= 0.0
        assert type(result.open_time) is int
        assert result.open_time % 60 == 0
    else:
        assert isinstance(result.reason, str)
        assert isinstance(result.detail, str)


prices = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 10**6).map(float),
    st.sampled_from([0.0, -0.0, 0.25, 6000.25, 6000.5, 1e308]),
)


@settings(max_examples=300, deadline=None)
@given(st.tuples(prices, prices, prices, prices, prices))
def test_text_numbers_give_what_json_numbers_give(values: tuple[float, ...]) -> None:
    """Text columns (PostgREST `numeric`) take a fast path; it must agree with the
    careful one, bar for bar and reason for reason."""
    base = {"ts": "2025-06-16T19:01:03Z", "symbol": "MES", "timeframe": "1"}
    numbers = dict(zip("ohlcv", values, strict=True))
    texts = {k: repr(v) for k, v in numbers.items()}
    assert normalize_row({**base, **texts}) == normalize_row({**base, **numbers})


@st.composite
def engine_calls(draw: st.DrawFn, integer_clock: bool = False) -> list[tuple[object, ...]]:
    """add(bar, arrival) and tick(now) in any order, bar times and clocks jumping about."""
    clock = (
        st.integers(T0 - 10**6, T0 + 10**6).map(float)
        if integer_clock
        else st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
    )
    calls: list[tuple[object, ...]] = []
    for _ in range(draw(st.integers(0, 60))):
        if draw(st.integers(0, 5)) == 0:
            calls.append(("tick", draw(clock)))
        else:
            t = T0 + 60 * draw(st.integers(-30, 300))
            calls.append(("add", bar_at(t, draw(ohlcv())), draw(clock)))
    return calls


def check_state(state: MarketState, previous_at: float) -> None:
    assert state.at > previous_at
    assert state.closed
    assert [b.timeframe for b in state.closed] == sorted({b.timeframe for b in state.closed})
    assert len(state.frames) == 3
    for bar in state.closed:
        check_bar(bar)
        assert bar.close_time == state.at
        assert bar in state.frames


def check_bar(bar: ClosedBar) -> None:
    size = bar.timeframe * 60
    assert bar.open_time % size == 0
    assert bar.close_time == bar.open_time + size
    assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
    assert 1 <= bar.minutes <= bar.timeframe
    assert bar.volume >= 0.0


def replay(calls: list[tuple[object, ...]]) -> tuple[list[str], list[MarketState]]:
    engine = SymbolEngine("MES", EngineConfig())
    outcomes: list[str] = []
    states: list[MarketState] = []
    for call in calls:
        if call[0] == "add":
            outcome, closed = engine.add(call[1], call[2])
            outcomes.append(outcome)
        else:
            closed = engine.tick(call[1])
        states += closed
    states += engine.flush()
    return outcomes, states


@settings(max_examples=200, deadline=None)
@given(engine_calls())
def test_engine_never_raises_and_emits_well_formed_states(calls: list[tuple[object, ...]]) -> None:
    outcomes, states = replay(calls)
    assert set(outcomes) <= OUTCOMES
    at = -math.inf
    for state in states:
        check_state(state, at)
        at = state.at


@settings(max_examples=200, deadline=None)
@given(engine_calls(integer_clock=True))
def test_every_accepted_minute_ends_in_exactly_one_bar_per_timeframe(
    calls: list[tuple[object, ...]],
) -> None:
    """After flush nothing is left open: each accepted minute is in one closed bar of
    every timeframe, and each timeframe's bars hold the same minutes."""
    outcomes, states = replay(calls)
    accepted = outcomes.count(Outcome.ACCEPTED)
    for tf in (5, 15, 30):
        bars = [b for s in states for b in s.closed if b.timeframe == tf]
        assert sum(b.minutes for b in bars) == accepted, tf
        assert len({b.open_time for b in bars}) == len(bars)


@settings(max_examples=200, deadline=None)
@given(engine_calls(integer_clock=True))
def test_watermark_due_predicts_whether_a_tick_closes(calls: list[tuple[object, ...]]) -> None:
    engine = SymbolEngine("MES", EngineConfig())
    for call in calls:
        if call[0] == "add":
            engine.add(call[1], call[2])  # type: ignore[arg-type]
        else:
            now = call[1]
            assert isinstance(now, float)
            due = engine.watermark_due(now)
            assert due is bool(engine.tick(now))


@st.composite
def streamed_calls(draw: st.DrawFn) -> list[tuple[object, ...]]:
    """Minutes streamed as a live feed: a clock that moves by seconds, mostly new minutes,
    some copies of earlier ones (same or other values), some backfilled (arrival -inf),
    and ticks. (`engine_calls` jumps its clock too far for the silence to matter.)"""
    calls: list[tuple[object, ...]] = []
    clock, k, sent = float(T0 + 50_000), 0, []
    for _ in range(draw(st.integers(1, 80))):
        clock += draw(st.integers(0, 120))
        kind = draw(st.sampled_from(["new", "new", "copy", "tick"]))
        if kind == "tick" or (kind == "copy" and not sent):
            calls.append(("tick", clock))
            continue
        if kind == "new":
            k += draw(st.integers(1, 3))
            bar = bar_at(T0 + 60 * k, draw(ohlcv()))
            sent.append(bar)
        else:
            bar = draw(st.sampled_from(sent))
            if draw(st.booleans()):
                bar = bar._replace(volume=bar.volume + 1.0)  # a conflicting copy
        calls.append(("add", bar, float("-inf") if draw(st.booleans()) else clock))
    return calls


@settings(max_examples=300, deadline=None)
@given(streamed_calls())
def test_a_row_that_changes_nothing_is_only_the_passing_of_time(
    calls: list[tuple[object, ...]],
) -> None:
    """A duplicate, conflicting or late row (streamed, or re-read by a backfill at -inf)
    must not restart the watermark's silence: for the engine it is a tick at its arrival."""
    outcomes, states = replay(calls)
    as_ticks = [
        ("tick", c[2]) if c[0] == "add" and outcome != Outcome.ACCEPTED else c
        for c, outcome in zip(calls, _add_outcomes(calls, outcomes), strict=True)
    ]
    kept, ticked_states = replay(as_ticks)
    assert kept == [o for o in outcomes if o == Outcome.ACCEPTED]
    assert ticked_states == states


def _add_outcomes(calls: list[tuple[object, ...]], outcomes: list[str]) -> list[str | None]:
    """Each call's outcome (None for a tick), aligned with `calls`."""
    it = iter(outcomes)
    return [next(it) if c[0] == "add" else None for c in calls]


# -- the get-flat window against zoneinfo, in any order -----------------------------------

CHICAGO = ZoneInfo("America/Chicago")
DAY = 86_400


@st.composite
def instants(draw: st.DrawFn) -> float:
    """Eighths of a second (exact in microseconds), often near a window edge."""
    if draw(st.booleans()):
        return draw(st.integers(0, 2_200_000_000 * 8)) / 8
    day = datetime(2000, 1, 1, tzinfo=UTC).date() + timedelta(days=draw(st.integers(0, 15_000)))
    edge = datetime.combine(day, draw(st.sampled_from([time(15, 7), time(17, 0)])), CHICAGO)
    return edge.timestamp() + draw(st.integers(-16, 16)) / 8


@FAST
@given(st.lists(instants(), min_size=1, max_size=30))
def test_flat_window_matches_zoneinfo_in_any_order(ats: list[float]) -> None:
    decider = HoldFirstDecider(DecisionConfig())
    window = FlatWindow(time(15, 7), time(17, 0), "America/Chicago")
    context = PositionContext("acct")
    for at in ats:
        local = datetime.fromtimestamp(at, CHICAGO).time()
        inside = time(15, 7) <= local <= time(17, 0)
        assert window.contains(at) == inside, (at, datetime.fromtimestamp(at, CHICAGO))
        if at != int(at):
            continue  # decision instants are whole seconds (bar close times)
        plan = decider.decide(MarketState("MES", int(at), (None,), ()), context)
        want = Reason.GET_FLAT_WINDOW if inside else Reason.INSUFFICIENT_DATA
        assert plan.reason_code == want, (at, datetime.fromtimestamp(at, CHICAGO))
