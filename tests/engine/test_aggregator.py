"""Unit tests of `SymbolEngine`'s close rules, dedup outcomes, indicators and bounds."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import pytest

from engine.aggregator import SymbolEngine
from engine.config import EngineConfig
from engine.model import Bar1m, ClosedBar, MarketState, Outcome

T0 = 1_750_082_400  # 2025-06-16 14:00 UTC, on a 30-minute boundary
assert T0 % 1800 == 0
GRACE = 90.0


def minute(i: int, **values: float) -> Bar1m:
    """The i-th minute after T0, with prices that tell the minutes apart."""
    o = 100.0 + i
    fields = {"open": o, "high": o + 2.0, "low": o - 1.0, "close": o + 1.0, "volume": 10.0 + i}
    fields.update(values)
    return Bar1m("MES", T0 + 60 * i, **fields)


def on_time(bar: Bar1m) -> float:
    """Receipt a couple of seconds after the bar's close, as alerts arrive."""
    return bar.open_time + 62.0


def engine(**config: object) -> SymbolEngine:
    return SymbolEngine("MES", EngineConfig(**config))  # type: ignore[arg-type]


def feed(
    eng: SymbolEngine, bars: Iterable[Bar1m], arrival: float | None = None
) -> list[MarketState]:
    states: list[MarketState] = []
    for bar in bars:
        outcome, closed = eng.add(bar, on_time(bar) if arrival is None else arrival)
        assert outcome == Outcome.ACCEPTED, bar
        states.extend(closed)
    return states


def expected_bar(timeframe: int, minutes: list[Bar1m], start: int) -> tuple[object, ...]:
    return (
        timeframe, start, start + timeframe * 60, minutes[0].open,
        max(b.high for b in minutes), min(b.low for b in minutes), minutes[-1].close,
        sum(b.volume for b in minutes), len(minutes),
    )  # fmt: skip


def ohlcv(bar: ClosedBar) -> tuple[object, ...]:
    return bar[1:10]


# -- close rules ---------------------------------------------------------------------------


def test_bucket_closes_on_its_final_minute() -> None:
    eng = engine()
    bars = [minute(i) for i in range(5)]
    assert feed(eng, bars[:4]) == []
    outcome, states = eng.add(bars[4], on_time(bars[4]))
    assert outcome == Outcome.ACCEPTED
    assert len(states) == 1
    assert states[0].at == T0 + 300
    assert [ohlcv(b) for b in states[0].closed] == [expected_bar(5, bars, T0)]


def test_final_minute_alone_closes_its_bucket() -> None:
    eng = engine()
    states = feed(eng, [minute(4)])
    assert [ohlcv(b) for s in states for b in s.closed] == [expected_bar(5, [minute(4)], T0)]


def test_bucket_closes_when_a_minute_of_a_later_bucket_arrives() -> None:
    eng = engine()
    bars = [minute(i) for i in range(3)]
    assert feed(eng, bars) == []
    states = feed(eng, [minute(6)])  # second minute of the next 5m bucket
    assert [s.at for s in states] == [T0 + 300]
    assert [ohlcv(b) for b in states[0].closed] == [expected_bar(5, bars, T0)]


def test_a_minute_of_a_later_parent_bucket_closes_the_parent_too() -> None:
    eng = engine()
    bars = [minute(i) for i in range(3)]
    feed(eng, bars)
    states = feed(eng, [minute(16)])  # in the next 15m bucket, same 30m bucket
    assert [s.at for s in states] == [T0 + 300, T0 + 900]
    assert [b.timeframe for s in states for b in s.closed] == [5, 15]
    assert ohlcv(states[1].closed[0]) == expected_bar(15, bars, T0)
    assert states[1].frames[0] == states[0].closed[0]  # the 5m frame at 14:15 is 14:00-14:05
    assert states[1].frames[2] is None


@pytest.mark.parametrize(
    ("now", "closes"),
    [
        pytest.param(T0 + 300 + GRACE - 0.001, False, id="before_end_plus_grace"),
        pytest.param(T0 + 300 + GRACE, True, id="at_end_plus_grace"),
        pytest.param(T0 + 10_000, True, id="long_after"),
    ],
)
def test_watermark_closes_at_bucket_end_plus_grace(now: float, closes: bool) -> None:
    eng = engine()
    bars = [minute(i) for i in range(3)]  # last arrival T0 + 182: not the binding bound
    feed(eng, bars)
    states = eng.tick(now)
    assert [s.at for s in states][:1] == ([T0 + 300] if closes else [])
    if closes:
        assert ohlcv(states[0].closed[0]) == expected_bar(5, bars, T0)


@pytest.mark.parametrize(
    ("after_last_arrival", "closes"),
    [
        pytest.param(0.0, False, id="at_last_arrival"),
        pytest.param(GRACE - 0.001, False, id="just_before_last_arrival_plus_grace"),
        pytest.param(GRACE, True, id="at_last_arrival_plus_grace"),
    ],
)
def test_watermark_waits_for_grace_after_the_last_arrival(
    after_last_arrival: float, closes: bool
) -> None:
    """A backlog streamed now with old bar times must not be cut short by the clock."""
    eng = engine()
    arrival = T0 + 50_000.0  # bucket end + grace passed long ago
    feed(eng, [minute(0), minute(1), minute(2)], arrival=arrival)
    states = eng.tick(arrival + after_last_arrival)
    assert bool(states) is closes


@pytest.mark.parametrize(
    ("copy", "arrival_after"),
    [
        pytest.param("duplicate", 50.0, id="duplicate_streamed"),
        pytest.param("duplicate", float("-inf"), id="duplicate_backfilled"),
        pytest.param("conflict", 50.0, id="conflict_streamed"),
        pytest.param("conflict", float("-inf"), id="conflict_backfilled"),
    ],
)
def test_a_row_that_changes_nothing_does_not_restart_the_silence(
    copy: str, arrival_after: float
) -> None:
    """A gap check re-reads rows the engine already holds: the watermark must still close
    a full grace after the last row that changed something, not after the re-read."""
    eng = engine()
    arrival = T0 + 50_000.0  # old bars streamed now: only the silence bound binds
    bars = [minute(0), minute(1), minute(2)]
    feed(eng, bars, arrival=arrival)
    assert eng.tick(arrival + 60.0) == ()
    again = bars[1] if copy == "duplicate" else minute(1, close=150.0)
    outcome, _ = eng.add(again, arrival + arrival_after)
    assert outcome == (Outcome.DUPLICATE if copy == "duplicate" else Outcome.CONFLICT)
    assert not eng.watermark_due(arrival + GRACE - 0.001)
    assert eng.watermark_due(arrival + GRACE)
    assert eng.tick(arrival + GRACE)[0].at == T0 + 300


def test_a_late_row_does_not_restart_the_silence() -> None:
    eng = engine()
    arrival = T0 + 50_000.0
    feed(eng, [minute(0), minute(5), minute(6)], arrival=arrival)  # minute 5 closed 0-5
    assert eng.add(minute(1), arrival + 30.0)[0] == Outcome.LATE
    assert eng.tick(arrival + GRACE)[0].at == T0 + 600


def test_a_backfilled_new_row_restarts_the_silence_at_the_engines_clock() -> None:
    eng = engine()
    arrival = T0 + 50_000.0
    feed(eng, [minute(0), minute(1)], arrival=arrival)
    assert eng.tick(arrival + 60.0) == ()
    assert eng.add(minute(2), float("-inf")) == (Outcome.ACCEPTED, ())  # found by a gap check
    assert not eng.watermark_due(arrival + 60.0 + GRACE - 0.001)
    assert eng.tick(arrival + 60.0 + GRACE)[0].at == T0 + 300


@pytest.mark.parametrize("now", [T0 + 300 + GRACE - 0.001, T0 + 300 + GRACE, T0 + 5000.0])
def test_watermark_due_says_whether_a_tick_would_close(now: float) -> None:
    eng = engine()
    feed(eng, [minute(0), minute(1)])
    due = eng.watermark_due(now)
    assert due is bool(eng.tick(now))
    assert not eng.watermark_due(now)  # closed: nothing left due at that instant


def test_old_rows_streamed_in_real_time_all_land_in_their_bucket() -> None:
    eng = engine()
    arrival = T0 + 50_000.0
    bars = [minute(i) for i in range(5)]
    for i, bar in enumerate(bars[:4]):
        assert eng.add(bar, arrival + i) == (Outcome.ACCEPTED, ())
        assert eng.tick(arrival + i + 0.5) == ()
    outcome, states = eng.add(bars[4], arrival + 4)
    assert outcome == Outcome.ACCEPTED
    assert [ohlcv(b) for s in states for b in s.closed] == [expected_bar(5, bars, T0)]


def test_watermark_closes_parents_at_their_own_end_plus_grace() -> None:
    eng = engine()
    bars = [minute(i) for i in range(3)]
    feed(eng, bars)
    assert [s.at for s in eng.tick(T0 + 300 + GRACE)] == [T0 + 300]
    assert eng.tick(T0 + 900 + GRACE - 1) == ()
    states = eng.tick(T0 + 900 + GRACE)
    assert [(s.at, [b.timeframe for b in s.closed]) for s in states] == [(T0 + 900, [15])]
    assert [(s.at, [b.timeframe for b in s.closed]) for s in eng.tick(T0 + 5000)] == [
        (T0 + 1800, [30])
    ]


def test_a_row_after_silence_first_closes_what_the_watermark_passed() -> None:
    eng = engine()
    feed(eng, [minute(0), minute(1)])
    late_next = minute(7)  # final minute missing; next row 4+ minutes later
    outcome, states = eng.add(late_next, T0 + 300 + GRACE + 30)
    assert outcome == Outcome.ACCEPTED
    assert [s.at for s in states] == [T0 + 300]
    assert states[0].closed[0].minutes == 2


def test_tick_never_moves_the_clock_back() -> None:
    eng = engine()
    feed(eng, [minute(0)], arrival=T0 + 1000.0)
    eng.add(minute(1), T0 + 500.0)
    eng.tick(T0 + 10.0)
    assert eng.now == T0 + 1000.0


def test_flush_closes_every_open_bucket_in_time_order() -> None:
    """Including the parents whose bucket only gets its first bar when flush closes the
    5m bucket (one flush at end of input must be enough)."""
    eng = engine()
    bars = [minute(i) for i in range(3)]
    feed(eng, bars)
    states = eng.flush()
    assert [(s.at, [b.timeframe for b in s.closed]) for s in states] == [
        (T0 + 300, [5]), (T0 + 900, [15]), (T0 + 1800, [30]),
    ]  # fmt: skip
    for state, tf in zip(states, (5, 15, 30), strict=True):
        assert ohlcv(state.closed[0]) == expected_bar(tf, bars, T0)
    assert eng.flush() == ()
    assert engine().flush() == ()


@pytest.mark.parametrize(
    ("grace", "arrival_after_bar"),
    [
        pytest.param(90.0, 5000.3, id="grace_90"),
        pytest.param(30.1, 5000.3, id="grace_30.1"),
        pytest.param(0.1, 5000.7, id="grace_0.1"),
        pytest.param(1.1, 2123.37, id="grace_1.1"),
    ],
)
def test_flush_closes_everything_whatever_the_grace(grace: float, arrival_after_bar: float) -> None:
    """End of input closes all open buckets; float rounding of `last arrival + grace`
    must not leave one open."""
    eng = engine(grace_s=grace)
    eng.add(minute(2), T0 + 120 + arrival_after_bar)
    states = eng.flush()
    assert [s.at for s in states] == [T0 + 300, T0 + 900, T0 + 1800]
    assert eng.flush() == ()


# -- one decision instant per close time ---------------------------------------------------


def test_all_timeframes_closing_at_one_instant_come_as_one_state() -> None:
    eng = engine()
    bars = [minute(i) for i in range(30)]
    per_minute = [eng.add(bar, on_time(bar))[1] for bar in bars]
    closing = {i: states for i, states in enumerate(per_minute) if states}
    assert sorted(closing) == [4, 9, 14, 19, 24, 29]
    assert all(len(states) == 1 for states in closing.values())
    assert [b.timeframe for b in closing[14][0].closed] == [5, 15]
    last = closing[29][0]
    assert last.at == T0 + 1800
    assert [b.timeframe for b in last.closed] == [5, 15, 30]
    assert last.frames == last.closed
    assert ohlcv(last.closed[2]) == expected_bar(30, bars, T0)
    assert ohlcv(last.closed[1]) == expected_bar(15, bars[15:], T0 + 900)


@pytest.mark.parametrize("how", ["next_bucket_minute", "watermark", "flush"])
def test_grouping_holds_whatever_closes_the_bars(how: str) -> None:
    eng = engine()
    bars = [minute(i) for i in range(29)]  # the final minute 14:29 never comes
    feed(eng, bars)
    if how == "next_bucket_minute":
        states = feed(eng, [minute(31)])
    elif how == "watermark":
        states = list(eng.tick(T0 + 1800 + GRACE))
    else:
        states = list(eng.flush())
    assert len(states) == 1
    assert states[0].at == T0 + 1800
    assert [b.timeframe for b in states[0].closed] == [5, 15, 30]
    assert ohlcv(states[0].closed[2]) == expected_bar(30, bars, T0)


# -- duplicates, conflicts, late minutes ---------------------------------------------------


def _reference_states(bars: list[Bar1m]) -> list[MarketState]:
    eng = engine()
    return [*feed(eng, bars), *eng.flush()]


@pytest.mark.parametrize("when", ["same_bucket", "after_close"])
def test_exact_duplicate_is_a_noop(when: str) -> None:
    bars = [minute(i) for i in range(7)]
    eng = engine()
    states = feed(eng, bars[:3] if when == "same_bucket" else bars[:6])
    again = bars[1]._replace(received=12345.0, ambiguous=True)  # same values, other receipt
    assert eng.add(again, on_time(bars[1])) == (Outcome.DUPLICATE, ())
    states += feed(eng, bars[3:] if when == "same_bucket" else bars[6:])
    states += eng.flush()
    assert states == _reference_states(bars)


@pytest.mark.parametrize("when", ["same_bucket", "after_close"])
def test_conflicting_copy_keeps_the_first(when: str) -> None:
    bars = [minute(i) for i in range(7)]
    eng = engine()
    states = feed(eng, bars[:3] if when == "same_bucket" else bars[:6])
    other = minute(1, high=500.0, close=400.0, volume=1.0)
    assert eng.add(other, on_time(bars[1]) + 5.0) == (Outcome.CONFLICT, ())
    states += feed(eng, bars[3:] if when == "same_bucket" else bars[6:])
    states += eng.flush()
    assert states == _reference_states(bars)
    assert states[0].closed[0].high == bars[4].high


@pytest.mark.parametrize("horizon", [86_400, 3_600, 300, 240, 60, 0])
def test_no_accepted_config_applies_a_duplicate_of_an_open_bucket_twice(horizon: int) -> None:
    """`dedup_horizon_s` shorter than a bucket would forget minutes of the open bucket,
    and a repeat of one would be added again: such a config must be refused."""
    try:
        eng = engine(dedup_horizon_s=horizon)
    except ValueError:
        return
    feed(eng, [minute(i) for i in range(4)])
    assert eng.add(minute(0), on_time(minute(3))) == (Outcome.DUPLICATE, ())
    states = feed(eng, [minute(4)])
    assert ohlcv(states[0].closed[0]) == expected_bar(5, [minute(i) for i in range(5)], T0)


def test_minute_of_a_closed_bucket_is_late_and_not_applied() -> None:
    eng = engine()
    first = [minute(i) for i in (0, 1, 3, 4)]
    states = feed(eng, first)  # closed on its final minute, 14:02 never came
    assert eng.add(minute(2), on_time(minute(4))) == (Outcome.LATE, ())
    second = [minute(i) for i in range(5, 10)]
    states += feed(eng, second)
    assert [ohlcv(b) for s in states for b in s.closed if b.timeframe == 5] == [
        expected_bar(5, first, T0), expected_bar(5, second, T0 + 300)
    ]  # fmt: skip


def test_minute_of_a_bucket_closed_by_a_later_minute_is_late() -> None:
    eng = engine()
    feed(eng, [minute(0), minute(5)])
    assert eng.add(minute(1), on_time(minute(5)))[0] == Outcome.LATE
    states = feed(eng, [minute(9)])
    assert states[0].closed[0].minutes == 2
    assert states[0].closed[0].volume == minute(5).volume + minute(9).volume


def test_minutes_of_a_parent_bucket_the_watermark_closed_are_late() -> None:
    """14:00 arrives, then 15 minutes of silence: the watermark closes 14:00-14:05 and
    the 15m bucket 14:00-14:15. A backlog of 14:05-14:14 arriving afterwards belongs to a
    closed 15m bucket: late, or the 15m timeframe gets a second 14:00 bar and a second
    decision instant at 14:15."""
    eng = engine()
    feed(eng, [minute(0)])
    closed = eng.tick(T0 + 900 + GRACE)
    assert [(s.at, [b.timeframe for b in s.closed]) for s in closed] == [
        (T0 + 300, [5]), (T0 + 900, [15]),
    ]  # fmt: skip
    backlog = [eng.add(minute(i), T0 + 1000.0 + i) for i in range(5, 15)]
    assert [outcome for outcome, _ in backlog] == [Outcome.LATE] * 10
    later = [s for _, states in backlog for s in states] + list(eng.flush())
    assert all(s.at > T0 + 900 for s in later), [s.at for s in later]
    fifteen = [b for s in [*closed, *later] for b in s.closed if b.timeframe == 15]
    assert [b.open_time for b in fifteen] == [T0]


def test_out_of_order_minute_of_the_open_bucket_is_applied() -> None:
    eng = engine()
    bars = [minute(i) for i in range(5)]
    order = [bars[2], bars[0], bars[3], bars[1], bars[4]]
    states = feed(eng, order)
    assert [ohlcv(b) for s in states for b in s.closed] == [expected_bar(5, bars, T0)]


# -- indicators ----------------------------------------------------------------------------


@pytest.mark.parametrize(("warmup", "first_regime_bar"), [(0, 4), (6, 6)])
def test_ema_and_slope_are_none_until_defined(warmup: int, first_regime_bar: int) -> None:
    """EMA(3): None for 2 bars, SMA seed on the 3rd; slope over 2 EMAs from the 4th."""
    eng = engine(timeframes=(5,), ema_period=3, slope_window=2, warmup_bars=warmup)
    closes = [100.0, 103.0, 106.0, 112.0, 90.0, 90.0, 90.0]
    bars = [minute(5 * k + 4, open=c, high=c, low=c, close=c) for k, c in enumerate(closes)]
    closed = [b for s in feed(eng, bars) for b in s.closed]
    ema, slope = [b.ema for b in closed], [b.slope for b in closed]
    e3 = (100.0 + 103.0 + 106.0) / 3
    e4 = 0.5 * 112.0 + 0.5 * e3
    e5 = 0.5 * 90.0 + 0.5 * e4
    assert ema[:4] == [None, None, pytest.approx(e3, rel=1e-12), pytest.approx(e4, rel=1e-12)]
    assert ema[4] == pytest.approx(e5, rel=1e-12)
    assert slope[:3] == [None, None, None]
    assert slope[3] == pytest.approx((e4 - e3) / e4, rel=1e-9)
    assert slope[4] == pytest.approx((e5 - e4) / e5, rel=1e-9)
    regimes = [b.regime for b in closed]
    assert regimes[: first_regime_bar - 1] == ["insufficient"] * (first_regime_bar - 1)
    assert regimes[first_regime_bar - 1] == ("trend_up" if first_regime_bar == 4 else "trend_down")
    assert [b.bars_seen for b in closed] == list(range(1, 8))


def test_flat_closes_are_a_range() -> None:
    eng = engine(timeframes=(5,), ema_period=2, slope_window=2, warmup_bars=0)
    bars = [minute(5 * k + 4, open=50.0, high=50.0, low=50.0, close=50.0) for k in range(4)]
    closed = [b for s in feed(eng, bars) for b in s.closed]
    assert [b.regime for b in closed] == ["insufficient", "insufficient", "range", "range"]
    assert closed[-1].slope == 0.0


# -- bounded state ---------------------------------------------------------------------------


def container_sizes(obj: object, seen: set[int] | None = None) -> int:
    """Total length of every dict/list/set/deque reachable from `obj`'s engine objects."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    total = 0
    if isinstance(obj, dict | list | set | deque):
        total += len(obj)
        items = obj.values() if isinstance(obj, dict) else obj
        return total + sum(container_sizes(x, seen) for x in list(items)[:64])
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return sum(container_sizes(x, seen) for x in obj)
    if type(obj).__module__.startswith("engine."):
        # `__slots__` interpreted; a mypyc-compiled class lists its fields in `__mypyc_attrs__`.
        names = [
            n
            for cls in type(obj).__mro__
            for n in (*getattr(cls, "__slots__", ()), *getattr(cls, "__mypyc_attrs__", ()))
        ]
        values = [getattr(obj, n) for n in names if hasattr(obj, n)]
        values += list(getattr(obj, "__dict__", {}).values())
        total += sum(container_sizes(v, seen) for v in values)
    return total


def test_state_stays_bounded_over_200k_minutes() -> None:
    """Dedup memory is generational, so its size saw-tooths: compare the peaks."""
    eng = engine()
    sizes: dict[int, int] = {}
    t = T0
    for n in range(1, 200_001):
        eng.add(Bar1m("MES", t, 100.0, 101.0, 99.0, 100.5, 1.0), t + 62.0)
        t += 60
        if n % 2_000 == 0:
            sizes[n] = container_sizes(eng)
    first = max(v for n, v in sizes.items() if n <= 100_000)
    second = max(v for n, v in sizes.items() if n > 100_000)
    horizon_minutes = EngineConfig().dedup_horizon_s // 60
    assert first >= horizon_minutes  # the walk does see the dedup memory
    assert second <= first + 10
    assert second <= 2 * horizon_minutes + 100
