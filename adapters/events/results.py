"""Trade results (worker/accounts.py) and the durable outbox that delivers them to
Supabase (adapters/supabase/outbox.py, worker/userhub.py)."""

from __future__ import annotations

import structlog

from engine.risk import Fill
from engine.round_trips import RoundTrip
from engine.timefmt import iso


def trade_result(trip: RoundTrip) -> None:
    """A closed round trip from the hub, queued for `trade_results` (`key`: its
    `result_key`, `tag`: the entry's customTag, `side` the position's direction, prices
    size-weighted in points, `fees` USD, `total_pnl`: net of fees, USD)."""
    structlog.get_logger().info(
        "trade_result",
        key=trip.key,
        tag=trip.tag,
        account=trip.account,
        symbol=trip.symbol,
        signal=trip.signal,
        side=trip.side.value,
        size=trip.size,
        entry_price=trip.entry_price,
        exit_price=trip.exit_price,
        fees=trip.fees,
        total_pnl=trip.net_pnl,
        entry_time=iso(trip.entry_time),
        exit_time=iso(trip.exit_time),
    )


def trade_result_revoked(trip: RoundTrip) -> None:
    """A round trip announced before no longer stands (a fill voided or missed)."""
    structlog.get_logger().warning("trade_result_revoked", key=trip.key)


def close_without_entry(fill: Fill) -> None:
    """A closing fill while flat: its position was opened before the known fills."""
    structlog.get_logger().warning("close_without_entry", trade_id=fill.id, account=fill.account)


def outbox_put(*, kind: str, key: str, new: bool) -> None:
    """A row recorded durably under its key (`new` False: the key was known)."""
    structlog.get_logger().info("outbox_put", kind=kind, key=key, new=new)


def outbox_delivered(*, kind: str, key: str, attempts: int) -> None:
    structlog.get_logger().info("outbox_delivered", kind=kind, key=key, attempts=attempts)


def outbox_retry(*, kind: str, key: str, attempts: int, error: str) -> None:
    """A delivery failed; the row stays and is tried again."""
    structlog.get_logger().warning(
        "outbox_retry", kind=kind, key=key, attempts=attempts, error=error[:200]
    )


def outbox_flush_incomplete(*, pending: int) -> None:
    """Rows left undelivered at stop: delivered after the next start."""
    structlog.get_logger().warning("outbox_flush_incomplete", pending=pending)


def outbox_stopped(*, all_delivered: bool, pending: int) -> None:
    structlog.get_logger().info("outbox_stopped", all_delivered=all_delivered, pending=pending)
