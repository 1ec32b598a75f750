"""Table tests of `HoldFirstDecider.decide`: every gate and reason code, in order."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from engine.config import DecisionConfig
from engine.decide import FlatWindow, HoldFirstDecider, Reason
from engine.model import Action, ActionPlan, ClosedBar, MarketState, PositionContext

UP, DOWN, RANGE, INSUFFICIENT = "trend_up", "trend_down", "range", "insufficient"
CDT, CST = timezone(timedelta(hours=-5)), timezone(timedelta(hours=-6))
# Monday 2025-06-16 10:00 CDT: a plain session instant, far from the get-flat window.
SESSION = int(datetime(2025, 6, 16, 10, 0, tzinfo=CDT).timestamp())
FLAT = PositionContext("acct")
OPEN = PositionContext("acct", position_open=True)
BLOCKED = PositionContext("acct", gate_open=False, gate_reason="daily_loss_limit")
PAUSED = PositionContext("acct", paused=True)


def bar(timeframe: int, regime: str, at: int = SESSION) -> ClosedBar:
    size = timeframe * 60
    return ClosedBar(
        "MES", timeframe, at - size, at, 6000.0, 6001.0, 5999.0, 6000.5, 100.0, timeframe,
        6000.0, 0.0001, regime, 100,
    )  # fmt: skip


def state(*regimes: str | None, at: int = SESSION) -> MarketState:
    frames = tuple(
        None if r is None else bar(tf, r, at) for tf, r in zip((5, 15, 30), regimes, strict=False)
    )
    return MarketState("MES", at, frames, tuple(f for f in frames if f is not None))


def decide(
    market: MarketState | None,
    context: PositionContext | None,
    config: DecisionConfig | None = None,
) -> ActionPlan:
    return HoldFirstDecider(config or DecisionConfig()).decide(market, context)


def ct(day: date, hh: int, mm: int, ss: int = 0, tz: timezone = CDT) -> int:
    """Epoch seconds of a Chicago wall-clock time, the UTC offset given explicitly."""
    return int(datetime.combine(day, time(hh, mm, ss), tz).timestamp())


def utc(day: date, hh: int, mm: int, ss: int = 0) -> int:
    return int(datetime.combine(day, time(hh, mm, ss), UTC).timestamp())


# -- each reason code, gates in order ----------------------------------------------------


@pytest.mark.parametrize(
    ("market", "context", "action", "reason"),
    [
        pytest.param(None, FLAT, Action.HOLD, Reason.NO_MARKET_STATE, id="no_market_state"),
        pytest.param(None, None, Action.HOLD, Reason.NO_MARKET_STATE, id="no_state_no_context"),
        pytest.param(state(UP, UP, UP), None, Action.HOLD, Reason.NO_POSITION_CONTEXT,
                     id="no_position_context"),
        pytest.param(state(UP, UP, UP), PAUSED, Action.HOLD, Reason.PAUSED, id="paused_buy"),
        pytest.param(state(DOWN, DOWN, DOWN), PAUSED, Action.HOLD, Reason.PAUSED,
                     id="paused_sell"),
        pytest.param(state(RANGE, UP, UP), PAUSED, Action.HOLD, Reason.PAUSED,
                     id="paused_hold"),
        pytest.param(state(UP, UP, UP), OPEN, Action.HOLD, Reason.POSITION_OPEN,
                     id="position_open"),
        pytest.param(state(UP, UP, UP), BLOCKED, Action.HOLD, Reason.ACCOUNT_GATE_BLOCK,
                     id="account_gate_block"),
        pytest.param(state(None, UP, UP), FLAT, Action.HOLD, Reason.INSUFFICIENT_DATA,
                     id="none_frame_5m"),
        pytest.param(state(UP, UP, None), FLAT, Action.HOLD, Reason.INSUFFICIENT_DATA,
                     id="none_frame_30m"),
        pytest.param(state(UP, INSUFFICIENT, UP), FLAT, Action.HOLD, Reason.INSUFFICIENT_DATA,
                     id="insufficient_regime"),
        pytest.param(state(RANGE, UP, UP), FLAT, Action.HOLD, Reason.RANGE, id="range_5m"),
        pytest.param(state(DOWN, DOWN, RANGE), FLAT, Action.HOLD, Reason.RANGE, id="range_30m"),
        pytest.param(state(UP, DOWN, UP), FLAT, Action.HOLD, Reason.MIXED_TREND, id="mixed"),
        pytest.param(state(DOWN, DOWN, UP), FLAT, Action.HOLD, Reason.MIXED_TREND,
                     id="mixed_30m"),
        pytest.param(state(UP, UP, UP), FLAT, Action.BUY, Reason.ALIGNED_UPTREND, id="buy"),
        pytest.param(state(DOWN, DOWN, DOWN), FLAT, Action.SELL, Reason.ALIGNED_DOWNTREND,
                     id="sell"),
        pytest.param(state(UP), FLAT, Action.BUY, Reason.ALIGNED_UPTREND, id="one_timeframe_up"),
        pytest.param(state(DOWN), FLAT, Action.SELL, Reason.ALIGNED_DOWNTREND,
                     id="one_timeframe_down"),
    ],
)  # fmt: skip
def test_reason_codes(
    market: MarketState | None, context: PositionContext | None, action: Action, reason: str
) -> None:
    plan = decide(market, context)
    assert (plan.action, plan.reason_code) == (action, reason)


def test_reason_codes_are_the_documented_strings() -> None:
    assert [
        Reason.NO_MARKET_STATE, Reason.GET_FLAT_WINDOW, Reason.PAUSED, Reason.NO_POSITION_CONTEXT,
        Reason.POSITION_OPEN, Reason.ACCOUNT_GATE_BLOCK, Reason.INSUFFICIENT_DATA,
        Reason.RANGE, Reason.MIXED_TREND, Reason.ALIGNED_UPTREND, Reason.ALIGNED_DOWNTREND,
    ] == [
        "no_market_state", "get_flat_window", "paused", "no_position_context", "position_open",
        "account_gate_block", "insufficient_data", "range", "mixed_trend", "aligned_uptrend",
        "aligned_downtrend",
    ]  # fmt: skip


@pytest.mark.parametrize("gate_reason", ["daily_loss_limit", "max_trades", None])
def test_account_gate_block_carries_the_gate_reason(gate_reason: str | None) -> None:
    context = PositionContext("acct", gate_open=False, gate_reason=gate_reason)
    plan = decide(state(UP, UP, UP), context)
    assert plan == ActionPlan(Action.HOLD, Reason.ACCOUNT_GATE_BLOCK, {"gate": gate_reason})


def test_plans_without_a_block_carry_no_details() -> None:
    for market in (state(UP, UP, UP), state(DOWN, DOWN, DOWN), state(RANGE, UP, UP)):
        assert dict(decide(market, FLAT).details) == {}


def test_empty_frames_are_insufficient_data_not_a_trade() -> None:
    """No timeframe at all is no evidence of a trend: hold, never SELL."""
    plan = decide(MarketState("MES", SESSION, (), ()), FLAT)
    assert (plan.action, plan.reason_code) == (Action.HOLD, Reason.INSUFFICIENT_DATA)


def test_unknown_regime_is_a_hold() -> None:
    assert decide(state(UP, "sideways?", UP), FLAT).action is Action.HOLD


# -- precedence ----------------------------------------------------------------------------

FLAT_INSTANT = ct(date(2025, 6, 16), 15, 30)


@pytest.mark.parametrize(
    ("market", "context", "reason"),
    [
        pytest.param(state(UP, UP, UP, at=FLAT_INSTANT), OPEN, Reason.GET_FLAT_WINDOW,
                     id="flat_beats_position_open"),
        pytest.param(state(UP, UP, UP, at=FLAT_INSTANT), None, Reason.GET_FLAT_WINDOW,
                     id="flat_beats_no_context"),
        pytest.param(state(UP, UP, UP, at=FLAT_INSTANT), BLOCKED, Reason.GET_FLAT_WINDOW,
                     id="flat_beats_gate_block"),
        pytest.param(state(UP, UP, UP, at=FLAT_INSTANT), FLAT, Reason.GET_FLAT_WINDOW,
                     id="flat_beats_buy"),
        pytest.param(state(None, None, None, at=FLAT_INSTANT), FLAT, Reason.GET_FLAT_WINDOW,
                     id="flat_beats_insufficient"),
        pytest.param(state(None, None, None), None, Reason.NO_POSITION_CONTEXT,
                     id="no_context_beats_insufficient"),
        pytest.param(state(UP, UP, UP, at=FLAT_INSTANT), PAUSED, Reason.GET_FLAT_WINDOW,
                     id="flat_beats_paused"),
        pytest.param(state(UP, UP, UP),
                     PositionContext("a", paused=True, position_open=True, gate_open=False),
                     Reason.PAUSED, id="paused_beats_position_open_and_gate_block"),
        pytest.param(state(None, None, None), PAUSED, Reason.PAUSED,
                     id="paused_beats_insufficient"),
        pytest.param(state(UP, UP, UP), PositionContext("a", position_open=True, gate_open=False),
                     Reason.POSITION_OPEN, id="position_open_beats_gate_block"),
        pytest.param(state(INSUFFICIENT, INSUFFICIENT, INSUFFICIENT), BLOCKED,
                     Reason.ACCOUNT_GATE_BLOCK, id="gate_block_beats_insufficient"),
        pytest.param(state(RANGE, UP, INSUFFICIENT), FLAT, Reason.INSUFFICIENT_DATA,
                     id="insufficient_beats_range_whatever_the_order"),
        pytest.param(state(RANGE, UP, None), FLAT, Reason.INSUFFICIENT_DATA,
                     id="none_frame_beats_range"),
        pytest.param(state(UP, DOWN, RANGE), FLAT, Reason.RANGE, id="range_beats_mixed"),
    ],
)  # fmt: skip
def test_precedence(market: MarketState, context: PositionContext | None, reason: str) -> None:
    assert decide(market, context).reason_code == reason


# -- the get-flat window: 15:07-17:00 America/Chicago, both ends inclusive ---------------------

# Around both 2025 DST changes (2nd Sunday of March, 1st Sunday of November), with the
# UTC offset in force written out: the window's UTC instants move by one hour.
DAYS = [
    pytest.param(date(2025, 1, 15), CST, id="winter"),
    pytest.param(date(2025, 3, 7), CST, id="fri_before_dst_start"),
    pytest.param(date(2025, 3, 9), CDT, id="dst_start_sunday"),
    pytest.param(date(2025, 3, 10), CDT, id="mon_after_dst_start"),
    pytest.param(date(2025, 7, 15), CDT, id="summer"),
    pytest.param(date(2025, 10, 31), CDT, id="fri_before_dst_end"),
    pytest.param(date(2025, 11, 2), CST, id="dst_end_sunday"),
    pytest.param(date(2025, 11, 3), CST, id="mon_after_dst_end"),
]
EDGES = [
    pytest.param((15, 6, 59), False, id="15:06:59"),
    pytest.param((15, 7, 0), True, id="15:07:00"),
    pytest.param((15, 30, 0), True, id="15:30:00"),
    pytest.param((16, 0, 0), True, id="16:00:00"),
    pytest.param((17, 0, 0), True, id="17:00:00"),
    pytest.param((17, 0, 1), False, id="17:00:01"),
    pytest.param((10, 0, 0), False, id="10:00:00"),
    pytest.param((0, 0, 0), False, id="00:00:00"),
]


@pytest.mark.parametrize(("day", "offset"), DAYS)
@pytest.mark.parametrize(("wall", "inside"), EDGES)
def test_flat_window_edges_on_the_market_clock(
    day: date, offset: timezone, wall: tuple[int, int, int], inside: bool
) -> None:
    at = ct(day, *wall, tz=offset)
    plan = decide(state(UP, UP, UP, at=at), FLAT)
    want = (Action.HOLD, Reason.GET_FLAT_WINDOW) if inside else (Action.BUY, Reason.ALIGNED_UPTREND)
    assert (plan.action, plan.reason_code) == want


@pytest.mark.parametrize(
    ("day", "utc_start", "utc_end"),
    [
        pytest.param(date(2025, 3, 7), (21, 7), (23, 0), id="cst_friday"),
        pytest.param(date(2025, 3, 10), (20, 7), (22, 0), id="cdt_monday"),
        pytest.param(date(2025, 10, 31), (20, 7), (22, 0), id="cdt_friday"),
        pytest.param(date(2025, 11, 3), (21, 7), (23, 0), id="cst_monday"),
    ],
)
def test_flat_window_utc_instants_shift_an_hour_with_dst(
    day: date, utc_start: tuple[int, int], utc_end: tuple[int, int]
) -> None:
    def reason(at: int) -> str:
        return decide(state(UP, UP, UP, at=at), FLAT).reason_code

    start, end = utc(day, *utc_start), utc(day, *utc_end)
    assert reason(start) == Reason.GET_FLAT_WINDOW
    assert reason(end) == Reason.GET_FLAT_WINDOW
    assert reason(start - 1) == Reason.ALIGNED_UPTREND
    assert reason(end + 1) == Reason.ALIGNED_UPTREND


def test_same_utc_instant_flat_in_summer_time_only() -> None:
    """20:07Z is 14:07 CST on Friday 2025-03-07 but 15:07 CDT on Monday 2025-03-10."""
    before = decide(state(UP, UP, UP, at=utc(date(2025, 3, 7), 20, 7)), FLAT)
    after = decide(state(UP, UP, UP, at=utc(date(2025, 3, 10), 20, 7)), FLAT)
    assert before.reason_code == Reason.ALIGNED_UPTREND
    assert after.reason_code == Reason.GET_FLAT_WINDOW
    fall_before = decide(state(UP, UP, UP, at=utc(date(2025, 10, 31), 22, 0)), FLAT)
    fall_after = decide(state(UP, UP, UP, at=utc(date(2025, 11, 3), 22, 0)), FLAT)
    assert fall_before.reason_code == Reason.GET_FLAT_WINDOW  # 17:00 CDT
    assert fall_after.reason_code == Reason.GET_FLAT_WINDOW  # 16:00 CST
    assert decide(state(UP, UP, UP, at=utc(date(2025, 10, 31), 22, 1)), FLAT).action is Action.BUY
    assert decide(state(UP, UP, UP, at=utc(date(2025, 11, 3), 23, 1)), FLAT).action is Action.BUY


def test_one_decider_answers_instants_in_any_order() -> None:
    """A decider keeps state (caches); out-of-order instants must not confuse it."""
    decider = HoldFirstDecider(DecisionConfig())
    day = date(2025, 3, 10)
    instants = [
        (ct(day, 15, 7), True), (ct(day, 15, 6, 59), False), (ct(day, 17, 0), True),
        (ct(day, 17, 0, 1), False), (ct(date(2025, 3, 7), 15, 7, tz=CST), True),
        (ct(day, 16, 0), True), (ct(date(2025, 3, 7), 15, 6, 59, tz=CST), False),
        (ct(day, 15, 7), True), (ct(day, 17, 0, 1), False), (ct(day, 15, 7) + 0.5, True),
        (ct(day, 17, 0) + 0.5, False), (ct(day, 15, 7) - 0.5, False),
    ]  # fmt: skip
    # Decision instants are whole seconds (bar close times); the window itself also
    # answers fractional instants, in any order, with its own cache.
    window = FlatWindow(time(15, 7), time(17, 0), "America/Chicago")
    got = [window.contains(at) for at, _ in instants]
    assert got == [inside for _, inside in instants]
    whole = [(int(at), inside) for at, inside in instants if at == int(at)]
    assert len(whole) == 9
    got = [
        decider.decide(state(UP, UP, UP, at=at), FLAT).reason_code == Reason.GET_FLAT_WINDOW
        for at, _ in whole
    ]
    assert got == [inside for _, inside in whole]


@pytest.mark.parametrize(
    ("wall", "tz", "inside"),
    [
        pytest.param((22, 59, 59), CDT, False, id="before"),
        pytest.param((23, 0, 0), CDT, True, id="start"),
        pytest.param((0, 30, 0), CDT, True, id="after_midnight"),
        pytest.param((1, 0, 0), CDT, True, id="end"),
        pytest.param((1, 0, 1), CDT, False, id="after"),
    ],
)
def test_flat_window_can_span_midnight(
    wall: tuple[int, int, int], tz: timezone, inside: bool
) -> None:
    config = DecisionConfig(flat_start=time(23, 0), flat_end=time(1, 0))
    at = ct(date(2025, 6, 17), *wall, tz=tz)
    plan = decide(state(UP, UP, UP, at=at), FLAT, config)
    assert (plan.reason_code == Reason.GET_FLAT_WINDOW) is inside


@pytest.mark.parametrize(
    ("tz_name", "wall", "inside"),
    [
        pytest.param("America/New_York", (15, 6, 59), False, id="ny_15:06:59_EDT"),
        pytest.param("America/New_York", (15, 7, 0), True, id="ny_15:07_EDT_is_14:07_CDT"),
        pytest.param("America/New_York", (17, 0, 0), True, id="ny_17:00_EDT"),
        pytest.param("America/New_York", (17, 0, 1), False, id="ny_17:00:01_EDT_is_16:00:01_CDT"),
        pytest.param("America/Chicago", (15, 7, 0), False, id="chicago_14:07_CDT"),
        pytest.param("America/Chicago", (18, 0, 1), False, id="chicago_17:00:01_CDT"),
        pytest.param("America/Chicago", (18, 0, 0), True, id="chicago_17:00_CDT"),
    ],
)
def test_market_time_zone_is_configurable(
    tz_name: str, wall: tuple[int, int, int], inside: bool
) -> None:
    config = DecisionConfig(market_tz=tz_name)
    at = ct(date(2025, 6, 16), *wall, tz=timezone(timedelta(hours=-4)))
    plan = decide(state(UP, UP, UP, at=at), FLAT, config)
    assert (plan.reason_code == Reason.GET_FLAT_WINDOW) is inside
