"""The report's figures: totals, profit factor, expectancy, streaks, drawdown, time in
market, and net per trading day (17:00 America/Chicago boundaries)."""

from __future__ import annotations

import math

from adapters.report.stats import daily_net, decision_counts, trade_stats


def trade(
    net: float, exit_time: str = "2025-06-16T15:00:00Z", held: int = 600
) -> dict[str, object]:
    return {
        "net": net,
        "gross": net + 0.74,
        "fees": 0.74,
        "exit_time": exit_time,
        "duration_s": held,
    }


def test_totals_rates_and_streaks() -> None:
    nets = [99.26, -50.74, -50.74, -50.74, 99.26, -50.74]
    s = trade_stats([trade(n) for n in nets], span_s=36_000)
    assert (s["trades"], s["wins"], s["losses"]) == (6, 2, 4)
    assert s["win_rate"] == 2 / 6
    assert s["net"] == round(math.fsum(nets), 2) == -4.44
    assert s["fees"] == 4.44 and s["gross"] == 0.0
    assert s["profit_factor"] == 198.52 / 202.96
    assert s["expectancy"] == -0.74
    assert s["longest_losing_streak"] == 3
    assert s["max_drawdown"] == 152.22  # 99.26 down to -52.96
    assert s["time_in_market"] == 6 * 600 / 36_000


def test_no_trades_and_no_losses() -> None:
    empty = trade_stats([], span_s=0)
    assert empty["trades"] == 0 and empty["win_rate"] is None and empty["profit_factor"] is None
    assert empty["expectancy"] is None and empty["time_in_market"] is None
    assert trade_stats([trade(10.0)], span_s=1)["profit_factor"] == math.inf


def test_a_trading_day_starts_at_17_00_chicago() -> None:
    """16:59 CDT (21:59Z) is the day that began at 17:00 the day before; 17:00 a new one."""
    trades = [
        trade(10.0, "2025-06-16T21:59:00Z"),
        trade(-3.0, "2025-06-16T22:00:00Z"),
        trade(5.0, "2025-06-17T03:00:00Z"),
    ]
    days = daily_net(trades, "America/Chicago")
    assert days == [(1750024800.0, 10.0), (1750111200.0, 2.0)]  # 06-15 and 06-16 17:00 CDT


def test_decisions_by_action_and_reason() -> None:
    decisions = [
        {"action": "HOLD", "reason_code": "range"},
        {"action": "BUY", "reason_code": "aligned_uptrend"},
        {"action": "HOLD", "reason_code": "range"},
    ]
    actions, reasons = decision_counts(decisions)
    assert actions == {"HOLD": 2, "BUY": 1}
    assert reasons == {"HOLD.range": 2, "BUY.aligned_uptrend": 1}
