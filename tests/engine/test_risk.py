"""Table tests of `engine.risk`: day metrics from hand-computed fills, each gate, in order."""

from __future__ import annotations

import pytest

from engine.model import PositionContext, Side
from engine.risk import (
    DayMetrics,
    Fill,
    GateReason,
    RiskLimits,
    context_from,
    day_metrics,
    gate_reason,
)

DAY = 1_750_114_800.0  # 2025-06-16 17:00 CDT, a trading day's start
LIMITS = RiskLimits()


def fill(id_: int, at: float, pnl: float | None, fees: float = 0.37, voided: bool = False) -> Fill:
    side = Side.BUY if pnl is None else Side.SELL
    return Fill(id_, "acct", "CON.F.US.MES.U25", at, 6000.0, pnl, fees, side, 1, voided, id_)


def opened(id_: int, at: float, fees: float = 0.37) -> Fill:
    return fill(id_, at, None, fees)


# -- day_metrics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fills", "expected"),
    [
        pytest.param([], DayMetrics(0.0, 0, 0, 0.0), id="no_fills"),
        pytest.param(
            [opened(1, DAY + 60), fill(2, DAY + 120, 25.0)],
            DayMetrics(24.26, 0, 1, 0.74),  # 25 - 0.37 - 0.37
            id="fees_on_opening_and_closing",
        ),
        pytest.param(
            [opened(1, DAY + 60)], DayMetrics(-0.37, 0, 0, 0.37), id="half_turn_only_fees"
        ),
        pytest.param(
            [
                opened(1, DAY + 60),
                fill(2, DAY + 120, -50.0),
                fill(3, DAY + 180, -50.0, voided=True),
            ],
            DayMetrics(-50.74, 1, 1, 0.74),
            id="voided_fill_ignored",
        ),
        pytest.param(
            [opened(1, DAY - 120), fill(2, DAY - 60, -400.0), opened(3, DAY), fill(4, DAY, 10.0)],
            DayMetrics(9.26, 0, 1, 0.74),  # the fill at exactly day_start counts
            id="fills_before_day_start_ignored",
        ),
        pytest.param(
            [opened(1, DAY - 60), fill(2, DAY + 60, -50.0)],
            DayMetrics(-50.37, 1, 1, 0.37),  # the entry fee was paid the day before
            id="round_trip_across_the_day_start",
        ),
        pytest.param(
            [
                fill(1, DAY + 60, -10.0),
                fill(2, DAY + 120, -10.0),
                fill(3, DAY + 180, 5.0),
                fill(4, DAY + 240, -10.0),
                fill(5, DAY + 300, -10.0),
            ],
            DayMetrics(-36.85, 2, 5, 1.85),
            id="streak_counts_back_to_the_last_win",
        ),
        pytest.param(
            [fill(1, DAY + 60, -10.0), fill(2, DAY + 120, 0.37), fill(3, DAY + 180, -10.0)],
            DayMetrics(-20.74, 1, 3, 1.11),
            id="break_even_close_ends_streak",
        ),
        pytest.param(
            [fill(1, DAY + 60, -10.0), fill(2, DAY + 120, 0.2)],
            DayMetrics(-10.54, 2, 2, 0.74),  # 0.2 gross minus its 0.37 fee is a loss
            id="small_win_eaten_by_fees_is_a_loss",
        ),
        pytest.param(
            [fill(3, DAY + 60, -10.0), fill(2, DAY + 60, 20.0)],
            DayMetrics(9.26, 1, 2, 0.74),  # same instant: id 3 is the most recent
            id="ties_in_time_ordered_by_id_loss_last",
        ),
        pytest.param(
            [fill(2, DAY + 60, -10.0), fill(3, DAY + 60, 20.0)],
            DayMetrics(9.26, 0, 2, 0.74),
            id="ties_in_time_ordered_by_id_win_last",
        ),
        pytest.param(
            [fill(5, DAY + 300, -1.0), fill(1, DAY + 60, 3.0), fill(4, DAY + 240, -1.0)],
            DayMetrics(-0.11, 2, 3, 1.11),
            id="input_order_does_not_matter",
        ),
        pytest.param(
            [fill(i, DAY + 60 * i, -0.1, fees=0.1) for i in range(1, 11)],
            DayMetrics(-2.0, 10, 10, 1.0),  # exact sums: no 0.30000000000000004
            id="sums_rounded_to_cents",
        ),
    ],
)
def test_day_metrics(fills: list[Fill], expected: DayMetrics) -> None:
    assert day_metrics(fills, DAY) == expected


# -- gate_reason ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metrics", "limits", "can_trade", "reason"),
    [
        pytest.param(DayMetrics(0.0, 0, 0, 0.0), LIMITS, True, None, id="fresh_day_open"),
        pytest.param(DayMetrics(0.0, 0, 0, 0.0), LIMITS, False, "cannot_trade", id="cannot_trade"),
        pytest.param(DayMetrics(-499.99, 0, 5, 3.7), LIMITS, True, None, id="loss_just_inside"),
        pytest.param(
            DayMetrics(-500.0, 0, 5, 3.7), LIMITS, True, "daily_loss_limit", id="loss_exactly_limit"
        ),
        pytest.param(
            DayMetrics(-650.0, 0, 5, 3.7), LIMITS, True, "daily_loss_limit", id="loss_beyond_limit"
        ),
        pytest.param(DayMetrics(499.99, 0, 5, 3.7), LIMITS, True, None, id="profit_just_inside"),
        pytest.param(
            DayMetrics(500.0, 0, 5, 3.7), LIMITS, True, "daily_profit_target", id="profit_exactly"
        ),
        pytest.param(DayMetrics(-30.0, 2, 2, 1.5), LIMITS, True, None, id="streak_below_limit"),
        pytest.param(
            DayMetrics(-30.0, 3, 3, 2.2), LIMITS, True, "consecutive_losses", id="streak_at_limit"
        ),
        pytest.param(
            DayMetrics(-30.0, 3, 3, 2.2),
            RiskLimits(max_consecutive_losses=0),
            True,
            None,
            id="zero_disables_streak_gate",
        ),
        pytest.param(
            DayMetrics(-600.0, 4, 4, 3.0), LIMITS, False, "cannot_trade", id="cannot_trade_first"
        ),
        pytest.param(
            DayMetrics(-600.0, 4, 4, 3.0), LIMITS, True, "daily_loss_limit", id="loss_before_streak"
        ),
        pytest.param(
            DayMetrics(600.0, 4, 8, 3.0),
            LIMITS,
            True,
            "daily_profit_target",
            id="target_before_streak",
        ),
        pytest.param(
            DayMetrics(0.0, 0, 0, 0.0),
            RiskLimits(max_daily_loss=0.0),
            True,
            "daily_loss_limit",
            id="zero_loss_limit_blocks_at_once",
        ),
    ],
)
def test_gate_reason(
    metrics: DayMetrics, limits: RiskLimits, can_trade: bool, reason: str | None
) -> None:
    assert gate_reason(metrics, limits, can_trade) == reason


def test_gate_reasons_are_the_documented_strings() -> None:
    reasons = (GateReason.CANNOT_TRADE, GateReason.DAILY_LOSS_LIMIT)
    reasons += (GateReason.DAILY_PROFIT_TARGET, GateReason.CONSECUTIVE_LOSSES)
    assert reasons == (
        "cannot_trade",
        "daily_loss_limit",
        "daily_profit_target",
        "consecutive_losses",
    )


def test_hand_computed_day_closes_loss_gate_exactly_at_limit() -> None:
    # Ten round trips, each -49.26 gross with 0.37 per side: -50.00 net each.
    fills = []
    for i in range(10):
        fills += [opened(2 * i + 1, DAY + 600 * i), fill(2 * i + 2, DAY + 600 * i + 300, -49.26)]
    no_streak = RiskLimits(max_consecutive_losses=0)
    metrics = day_metrics(fills, DAY)
    assert metrics == DayMetrics(-500.0, 10, 10, 7.4)
    assert gate_reason(metrics, no_streak, True) == "daily_loss_limit"
    before_last_close = day_metrics(fills[:-1], DAY)
    assert before_last_close.net_pnl == -450.37
    assert gate_reason(before_last_close, no_streak, True) is None


# -- context_from --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position_open", "metrics", "can_trade", "expected"),
    [
        pytest.param(False, DayMetrics(0.0, 0, 0, 0.0), True, PositionContext("a"), id="flat_open"),
        pytest.param(
            True, DayMetrics(0.0, 0, 0, 0.0), True,
            PositionContext("a", position_open=True), id="position_open",
        ),
        pytest.param(
            False, DayMetrics(-501.0, 0, 3, 2.0), True,
            PositionContext("a", gate_open=False, gate_reason="daily_loss_limit"), id="loss_gate",
        ),
        pytest.param(
            True, DayMetrics(0.0, 0, 0, 0.0), False,
            PositionContext("a", True, gate_open=False, gate_reason="cannot_trade"), id="both",
        ),
    ],
)  # fmt: skip
def test_context_from(
    position_open: bool, metrics: DayMetrics, can_trade: bool, expected: PositionContext
) -> None:
    assert context_from("a", position_open, metrics, LIMITS, can_trade) == expected


# -- RiskLimits validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_daily_loss": 1.0},
        {"daily_profit_target": -1.0},
        {"max_consecutive_losses": -1},
        {"max_daily_loss": float("nan")},
        {"daily_profit_target": float("inf")},
    ],
)
def test_risk_limits_reject_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"max_|daily_"):
        RiskLimits(**kwargs)


def test_risk_limits_accept_boundaries() -> None:
    assert RiskLimits(0.0, 0.0, 0) == RiskLimits(0.0, 0.0, 0)
