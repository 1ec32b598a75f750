"""Every log event the program emits, each a function named exactly as the event, with
its fields as keyword parameters: callers never write an event name or build its fields.

    from adapters import events
    events.order_skipped(entry, reason="standby", message="...")

Event names are an interface: users grep them and alert on them, and README's "Log
events" table lists each (tests/test_log_events.py checks both ways, and that nothing
outside this package logs an event itself). Values are formatted here, once: instants
(epoch seconds in) as ISO 8601 UTC text (`engine.timefmt.iso`), sides as `buy`/`sell`.
A field that does not apply is left out, not logged as null (`_common.known`). Secrets
are masked in every field by the processor `adapters/logs.py` configures.

It lives in adapters/, not worker/: adapters emit events too, and the dependency rule is
worker -> adapters -> engine. Each module is one area; this one re-exports them all.
The logger is looked up at each call (`structlog.get_logger()`), so the configuration in
force then applies (tests capture lines with `structlog.testing.capture_logs`).
"""

from adapters.events.decisions import (  # closes and decisions
    action_plan,
    context_failed,
    market_state,
)
from adapters.events.feed import (  # the live source (Supabase)
    backfill_done,
    close_failed,
    enqueue_failed,
    feed_recovered,
    feed_stale,
    history_error,
    source_bad_event,
    source_bad_frame,
    source_state,
    symbol_resumed,
    symbol_silent,
)
from adapters.events.leadership import (  # one active trader (the lease)
    leader,
    leader_lost,
    leader_released,
    lease_unavailable,
    standby,
)
from adapters.events.lifecycle import (  # the worker's and a replay's own life
    replay_done,
    replay_started,
    shutdown_cut,
    startup_failed,
    startup_retry,
    task_crashed,
    warmup_done,
    worker_crashed,
    worker_started,
    worker_stopped,
    worker_stopping,
)
from adapters.events.monitoring import (  # the health server and the event loop
    event_loop_lag,
    health,
    health_listening,
    health_server_stopped,
    health_unavailable,
    metrics_failed,
    webhook_accepted,
    webhook_failed,
    webhook_rejected,
)
from adapters.events.notify import (  # notifications and the pause switch
    daily_summary,
    notify_dropped,
    notify_failed,
    pause_changed,
)
from adapters.events.orders import (  # orders and paper fills
    order_ambiguous,
    order_failed,
    order_lookup_failed,
    order_placed,
    order_resend,
    order_skipped,
    order_unresolved,
    order_unresolved_at_start,
    paper_exit,
    paper_fill,
)
from adapters.events.projectx import (  # ProjectX over REST
    contract_refresh_failed,
    contract_resolved,
    projectx_retry,
    projectx_token,
)
from adapters.events.results import (  # trade results and their outbox
    close_without_entry,
    outbox_delivered,
    outbox_flush_incomplete,
    outbox_put,
    outbox_retry,
    outbox_stopped,
    trade_result,
    trade_result_revoked,
)
from adapters.events.rows import (  # rows in
    row_ambiguous,
    row_conflict,
    row_duplicate,
    row_ignored,
    row_late,
    row_rejected,
)
from adapters.events.user_hub import (  # the ProjectX user hub and the account state
    account_reconciled,
    account_update,
    hub_bad_event,
    hub_bad_frame,
    hub_deliver_failed,
    hub_foreign_thread,
    hub_reconcile_failed,
    hub_state,
    order_update,
    position_update,
    signalr_stop_failed,
    trade_fill,
)

__all__ = [
    "account_reconciled",
    "account_update",
    "action_plan",
    "backfill_done",
    "close_failed",
    "close_without_entry",
    "context_failed",
    "contract_refresh_failed",
    "contract_resolved",
    "daily_summary",
    "enqueue_failed",
    "event_loop_lag",
    "feed_recovered",
    "feed_stale",
    "health",
    "health_listening",
    "health_server_stopped",
    "health_unavailable",
    "history_error",
    "hub_bad_event",
    "hub_bad_frame",
    "hub_deliver_failed",
    "hub_foreign_thread",
    "hub_reconcile_failed",
    "hub_state",
    "leader",
    "leader_lost",
    "leader_released",
    "lease_unavailable",
    "market_state",
    "metrics_failed",
    "notify_dropped",
    "notify_failed",
    "order_ambiguous",
    "order_failed",
    "order_lookup_failed",
    "order_placed",
    "order_resend",
    "order_skipped",
    "order_unresolved",
    "order_unresolved_at_start",
    "order_update",
    "outbox_delivered",
    "outbox_flush_incomplete",
    "outbox_put",
    "outbox_retry",
    "outbox_stopped",
    "paper_exit",
    "paper_fill",
    "pause_changed",
    "position_update",
    "projectx_retry",
    "projectx_token",
    "replay_done",
    "replay_started",
    "row_ambiguous",
    "row_conflict",
    "row_duplicate",
    "row_ignored",
    "row_late",
    "row_rejected",
    "shutdown_cut",
    "signalr_stop_failed",
    "source_bad_event",
    "source_bad_frame",
    "source_state",
    "standby",
    "startup_failed",
    "startup_retry",
    "symbol_resumed",
    "symbol_silent",
    "task_crashed",
    "trade_fill",
    "trade_result",
    "trade_result_revoked",
    "warmup_done",
    "webhook_accepted",
    "webhook_failed",
    "webhook_rejected",
    "worker_crashed",
    "worker_started",
    "worker_stopped",
    "worker_stopping",
]
