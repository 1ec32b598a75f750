"""Rows in (worker/pipeline.py): what became of each row that is not plainly fine.
See README "How it decides" and "One bad row"."""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from engine.model import Bar1m, Outcome, Rejection
from engine.timefmt import iso


def row_rejected(rejection: Rejection, *, row: Mapping[str, object]) -> None:
    """A bad row: `row` its columns worth showing (from a file, its `line` too)."""
    structlog.get_logger().warning(
        "row_rejected", reason=rejection.reason, detail=rejection.detail, row=dict(row)
    )


def row_ignored(rejection: Rejection) -> None:
    """A valid row that is not ours (another symbol or timeframe)."""
    structlog.get_logger().debug("row_ignored", reason=rejection.reason, detail=rejection.detail)


def row_ambiguous(bar: Bar1m, *, reason: str) -> None:
    """A bar whose minute was inferred from a receipt later than the tolerance."""
    structlog.get_logger().warning(
        "row_ambiguous",
        symbol=bar.symbol,
        bar_open=iso(bar.open_time),
        received=iso(bar.received or 0.0),
        reason=reason,
    )


def row_duplicate(bar: Bar1m) -> None:
    """An exact copy of a minute already seen: nothing to do."""
    structlog.get_logger().debug(
        "row_duplicate", symbol=bar.symbol, bar_open=iso(bar.open_time), reason=Outcome.DUPLICATE
    )


def row_conflict(bar: Bar1m) -> None:
    """A different copy of a minute already seen: the first one is kept."""
    structlog.get_logger().warning(
        "row_conflict", symbol=bar.symbol, bar_open=iso(bar.open_time), reason=Outcome.CONFLICT
    )


def row_late(bar: Bar1m) -> None:
    """A minute of a bucket that already closed: not applied."""
    structlog.get_logger().warning(
        "row_late", symbol=bar.symbol, bar_open=iso(bar.open_time), reason=Outcome.LATE
    )
