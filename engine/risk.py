"""Account risk gates from one trading day's fills: loss limit, profit target, loss streak.

Pure: fills in, metrics and a verdict out. Live, the fills come from ProjectX
`Trade/search` (or the user hub); in paper mode from `adapters.paper`. Both feed the
same functions, so the gates behave the same way in both modes. Money is in account
currency (USD), times are epoch seconds UTC; the caller picks the trading day's start
(17:00 America/Chicago, `engine.calendar.trading_day_start`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from engine.model import PositionContext, Side

_CENTS = 2  # money is summed exactly (fsum) and then rounded to cents


class GateReason:
    """Why an account may not open a new position, in the order they are checked."""

    CANNOT_TRADE = "cannot_trade"
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    DAILY_PROFIT_TARGET = "daily_profit_target"
    CONSECUTIVE_LOSSES = "consecutive_losses"


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution (a ProjectX trade). `pnl` None marks a half-turn (opening) fill.

    `at` epoch seconds UTC; `price` in points; `pnl` (ProjectX `profitAndLoss`, gross of
    fees) and `fees` in USD; `size` in contracts.
    """

    id: int
    account: str
    contract: str
    at: float
    price: float
    pnl: float | None
    fees: float
    side: Side
    size: int
    voided: bool
    order_id: int | None

    @property
    def closing(self) -> bool:
        return self.pnl is not None


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Per-account daily limits, USD on the day's net P&L; 0 disables the streak gate."""

    max_daily_loss: float = -500.0  # net P&L at or below this closes the gate
    daily_profit_target: float = 500.0  # net P&L at or above this closes the gate
    max_consecutive_losses: int = 3  # this many losing closes in a row close the gate

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_daily_loss) and math.isfinite(self.daily_profit_target)):
            raise ValueError("max_daily_loss and daily_profit_target must be finite")
        if not self.max_daily_loss <= 0 <= self.daily_profit_target:
            raise ValueError("max_daily_loss <= 0 <= daily_profit_target required")
        if self.max_consecutive_losses < 0:
            raise ValueError("max_consecutive_losses must be >= 0 (0 disables the gate)")


@dataclass(frozen=True, slots=True)
class DayMetrics:
    """One account's trading day so far; see `day_metrics` for the definitions."""

    net_pnl: float = 0.0  # USD, after fees
    consecutive_losses: int = 0  # most recent losing closes in a row
    trades: int = 0  # closing fills
    fees: float = 0.0  # USD, every counted fill's fees


def day_metrics(fills: Iterable[Fill], day_start: float) -> DayMetrics:
    """Metrics of the fills of one account from `day_start` (epoch s UTC) on.

    These definitions are our choice, not the broker's:
    - counted fills: `at >= day_start` and not voided; the caller passes one account's
      fills (and none from a later day);
    - `net_pnl` = sum of `pnl` over closing fills - sum of `fees` over all counted fills,
      opening fills included, so an entry's fee counts on the day it was paid;
    - `trades` = number of closing fills (`pnl` not None), partial closes count each;
    - `consecutive_losses` = walking the closing fills from the most recent back (by
      `at`, then `id`), how many have `pnl - fees` < 0 (the closing fill's own fees
      only) before the first that does not; a break-even close ends the streak.
    Sums are exact (`math.fsum`) and rounded to cents, so a limit is hit exactly.
    """
    counted = [f for f in fills if f.at >= day_start and not f.voided]
    closes = sorted((f for f in counted if f.pnl is not None), key=lambda f: (f.at, f.id))
    fees = math.fsum(f.fees for f in counted)
    gross = math.fsum(f.pnl for f in closes if f.pnl is not None)
    return DayMetrics(
        net_pnl=round(gross - fees, _CENTS) + 0.0,  # + 0.0: no negative zero
        consecutive_losses=_losing_streak(closes),
        trades=len(closes),
        fees=round(fees, _CENTS) + 0.0,
    )


def _losing_streak(closes: list[Fill]) -> int:
    streak = 0
    for fill in reversed(closes):
        if fill.pnl is None or round(fill.pnl - fill.fees, _CENTS) >= 0:
            break
        streak += 1
    return streak


def gate_reason(metrics: DayMetrics, limits: RiskLimits, can_trade: bool) -> str | None:
    """None when a new entry is allowed, else the first `GateReason` that blocks it."""
    if not can_trade:
        return GateReason.CANNOT_TRADE
    if metrics.net_pnl <= limits.max_daily_loss:
        return GateReason.DAILY_LOSS_LIMIT
    if metrics.net_pnl >= limits.daily_profit_target:
        return GateReason.DAILY_PROFIT_TARGET
    limit = limits.max_consecutive_losses
    if limit > 0 and metrics.consecutive_losses >= limit:
        return GateReason.CONSECUTIVE_LOSSES
    return None


def context_from(
    account: str, position_open: bool, metrics: DayMetrics, limits: RiskLimits, can_trade: bool
) -> PositionContext:
    """The decision stage's view of one account: its position and its gate."""
    reason = gate_reason(metrics, limits, can_trade)
    return PositionContext(
        account, position_open=position_open, gate_open=reason is None, gate_reason=reason
    )
