"""Notifications (adapters/notify/) and the trader's pause switch (worker/control.py)."""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from adapters.events._common import known
from engine.timefmt import iso


def notify_failed(*, notification: str, target: str, attempt: int, error: str, final: bool) -> None:
    """A notification did not reach a target (`target`: its position in NOTIFY_URLS and
    the service's name, never the URL): retried with backoff unless `final`. `error`
    is masked."""
    structlog.get_logger().warning(
        "notify_failed",
        notification=notification,
        target=target,
        attempt=attempt,
        error=error,
        final=final,
    )


def notify_dropped(*, notification: str, dropped: int) -> None:
    """The notification queue is full (a service that hangs): this note and the next
    are dropped; logged once per run of drops, `dropped` counts them all."""
    structlog.get_logger().warning("notify_dropped", notification=notification, dropped=dropped)


def pause_changed(*, paused: bool, by: str, since: float | None) -> None:
    """The pause switch changed (`by`: `control` for POST /control, `PAUSE_ON_START`):
    while paused, BUY/SELL become HOLD `paused`. `since`: when it changed, epoch s."""
    structlog.get_logger().warning(
        "pause_changed",
        paused=paused,
        by=by,
        **known(since=iso(since) if since is not None else None),
    )


def daily_summary(
    *, account: str, day: str, decisions: Mapping[str, int], trades: int, net_pnl: float
) -> None:
    """After 17:00 CT, the trading day that ended (`day`: the date it ended on): the
    account's decisions by action, closed trades and their net P&L after fees (USD),
    as far as this run saw them."""
    structlog.get_logger().info(
        "daily_summary",
        account=account,
        day=day,
        decisions=dict(decisions),
        trades=trades,
        net_pnl=net_pnl,
    )
