"""The worker's and a replay's own life: start, start-up phases, stop, crash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from adapters.events._common import known
from engine.timefmt import iso


def worker_started(*, symbols: Sequence[str], flat_window: str, mode: Mapping[str, object]) -> None:
    """`mode`: what the run does with its decisions (worker/app.py `RunMode.fields()`:
    source, broker, trading_enabled, orders, dry_run, accounts, and the `message`
    sentence)."""
    structlog.get_logger().info(
        "worker_started", symbols=list(symbols), flat_window=flat_window, **mode
    )


def warmup_done(
    *, rows: int, regimes: Mapping[str, Mapping[str, str]], last_row: float | None
) -> None:
    """History ingested: `regimes` per symbol per timeframe; `last_row` the arrival of
    the newest row (epoch s), None when there was none."""
    structlog.get_logger().info(
        "warmup_done",
        rows=rows,
        regimes=regimes,
        last_row=iso(last_row) if last_row is not None else None,
    )


def startup_retry(*, phase: str, attempt: int, error: str, delay_s: float) -> None:
    """A start-up phase failed transiently; `error` is masked by the caller."""
    structlog.get_logger().warning(
        "startup_retry", phase=phase, attempt=attempt, error=error, delay_s=round(delay_s, 3)
    )


def startup_failed(*, phase: str, setting: str, error: str) -> None:
    """A start-up phase failed for good: the setting to fix (then exit 2)."""
    structlog.get_logger().error("startup_failed", phase=phase, setting=setting, error=error)


def task_crashed(*, task: str, error: str, restart_in_s: float) -> None:
    """Call it inside the `except` block: the traceback is logged with it."""
    structlog.get_logger().exception(
        "task_crashed", task=task, error=error, restart_in_s=round(restart_in_s, 2)
    )


def worker_stopping(*, reason: str, phase: str | None, order_in_flight: bool) -> None:
    """`phase`: the start-up phase it was in (None once started)."""
    structlog.get_logger().info(
        "worker_stopping", reason=reason, phase=phase, order_in_flight=order_in_flight
    )


def shutdown_cut(*, step: str, reason: str) -> None:
    """A shutdown step did not finish within the stop budget."""
    structlog.get_logger().warning("shutdown_cut", step=step, reason=reason)


def worker_stopped(
    *,
    counts: Mapping[str, int],
    decisions: Mapping[str, int],
    source: Mapping[str, int],
    paper: Mapping[str, object] | None = None,
) -> None:
    """The end: row counts, decisions by `action.reason`, the source's counts, and with
    the paper broker its totals."""
    structlog.get_logger().info(
        "worker_stopped",
        counts=dict(counts),
        decisions=dict(decisions),
        source=dict(source),
        **known(paper=paper),
    )


def worker_crashed(exc: BaseException, *, error: str) -> None:
    """Unexpected (then exit 1): `exc` for its type and traceback, `error` its masked
    description."""
    structlog.get_logger().error(
        "worker_crashed", error_type=type(exc).__name__, error=error, exc_info=exc
    )


# -- replay -------------------------------------------------------------------------------


def replay_started(*, input: str, symbol: str, out: str) -> None:
    structlog.get_logger().info("replay_started", input=input, symbol=symbol, out=out)


def replay_done(*, rows_read: int, rows_per_second: float) -> None:
    structlog.get_logger().info("replay_done", rows_read=rows_read, rows_per_second=rows_per_second)
