"""The live source (adapters/supabase/): the Realtime subscription, REST reads of
`tv_datafeed`, and symbols that fall silent."""

from __future__ import annotations

import structlog

from adapters.events._common import known
from engine.model import Rejection
from engine.timefmt import iso


def source_state(
    *,
    source: str,
    state: str,
    error: str | None = None,
    reason: str | None = None,
    attempt: int | None = None,
    delay_s: float | None = None,
    waited_s: float | None = None,
) -> None:
    """The source's connection: a channel state (SUBSCRIBED, READY, CHANNEL_ERROR, ...,
    with the channel's `error`), `ready_timeout` (`waited_s`), `stale` / `dead`
    (`reason`), `error` (the failure), `reconnecting` (`attempt`, `delay_s`), or `ended`
    (a finite source ran out)."""
    structlog.get_logger().info(
        "source_state",
        source=source,
        state=state,
        **known(
            error=error,
            reason=reason,
            attempt=attempt,
            delay_s=round(delay_s, 3) if delay_s is not None else None,
            waited_s=round(waited_s, 1) if waited_s is not None else None,
        ),
    )


def backfill_done(*, why: str, since: float, rows: int) -> None:
    """Rows re-read over REST from `since` (epoch s): `why` is `subscribed` (after every
    subscribe) or `gap_check` (before the watermark may close a bucket)."""
    structlog.get_logger().info("backfill_done", why=why, since=iso(since), rows=rows)


def source_bad_frame(*, reason: str, detail: str) -> None:
    """A Realtime frame that could not be read: counted, skipped."""
    structlog.get_logger().warning("source_bad_frame", reason=reason, detail=detail)


def source_bad_event(rejection: Rejection) -> None:
    """An INSERT whose record could not be read (debug when it is not ours)."""
    log = structlog.get_logger()
    emit = log.debug if rejection.ignored else log.warning
    emit("source_bad_event", reason=rejection.reason, detail=rejection.detail)


def symbol_silent(*, symbol: str, silent_s: float) -> None:
    """Inside the session, no row of `symbol` for `silent_s` while other symbols send."""
    seconds = round(silent_s)
    structlog.get_logger().warning(
        "symbol_silent",
        symbol=symbol,
        silent_s=seconds,
        message=f"no {symbol} row for {seconds} s inside the session while other symbols "
        "send: is its TradingView alert still running?",
    )


def symbol_resumed(*, symbol: str, silent_s: float) -> None:
    """The next row of a silent symbol, after `silent_s`."""
    structlog.get_logger().info("symbol_resumed", symbol=symbol, silent_s=round(silent_s))


def history_error(*, status: int, body: str) -> None:
    """PostgREST answered an error: its status and the start of its body."""
    structlog.get_logger().warning("history_error", status=status, body=body[:200])


def enqueue_failed() -> None:
    """A received row could not be queued. Call it inside the `except` block: the
    traceback is logged with it."""
    structlog.get_logger().exception("enqueue_failed")


def close_failed(*, error: str) -> None:
    """Closing a dead Realtime client failed (it is dropped anyway)."""
    structlog.get_logger().debug("close_failed", error=error)


def feed_stale(*, source: str, reason: str) -> None:
    """Once started, the feed became unhealthy (the `/healthz` rule: inside the session
    no row for STALE_AFTER_SECONDS, or the source not live): no decision is made."""
    structlog.get_logger().warning("feed_stale", source=source, reason=reason)


def feed_recovered(*, source: str, stale_s: float) -> None:
    """The feed is healthy again after `stale_s` seconds."""
    structlog.get_logger().info("feed_recovered", source=source, stale_s=round(stale_s))
