"""Decisions (worker/trader.py): each close instant, and each account's plan at it."""

from __future__ import annotations

import structlog

from engine.model import ActionPlan, MarketState
from engine.records import decision_record, frames_record, tf_label
from engine.timefmt import iso


def market_state(state: MarketState) -> None:
    """Per close instant: which timeframes closed, and per timeframe its close, ema,
    slope and regime."""
    structlog.get_logger().info(
        "market_state",
        symbol=state.symbol,
        at=iso(state.at),
        closed=[tf_label(bar.timeframe) for bar in state.closed],
        frames=frames_record(state),
    )


def action_plan(account: str, state: MarketState, plan: ActionPlan) -> None:
    """One account's decision: the `decisions.jsonl` fields plus `account`."""
    structlog.get_logger().info("action_plan", account=account, **decision_record(state, plan))


def context_failed(*, account: str, symbol: str, at: int, error: str) -> None:
    """The account's position context could not be read: it holds
    (`no_position_context`). `at`: the decision instant, epoch s."""
    structlog.get_logger().warning(
        "context_failed", account=account, symbol=symbol, at=iso(at), error=error
    )
