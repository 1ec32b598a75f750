"""The health server (worker/health.py): /healthz, /metrics and the manual-trigger
webhook; and the event loop's lag (worker/metrics.py)."""

from __future__ import annotations

import structlog


def health_listening(*, host: str, port: int, webhook: bool) -> None:
    structlog.get_logger().info("health_listening", host=host, port=port, webhook=webhook)


def health_unavailable(*, error: str) -> None:
    """The health port could not be bound; the worker runs on without it."""
    structlog.get_logger().error("health_unavailable", error=error)


def health_server_stopped() -> None:
    structlog.get_logger().info("health_server_stopped")


def health(*, ok: bool, reason: str | None) -> None:
    """/healthz turned ok (info) or unhealthy (warning, with why)."""
    log = structlog.get_logger()
    emit = log.info if ok else log.warning
    emit("health", status="ok" if ok else "unhealthy", reason=reason)


def metrics_failed(*, error: str) -> None:
    """A metrics collector raised: /metrics answered 500."""
    structlog.get_logger().error("metrics_failed", error=error)


def event_loop_lag(*, lag_s: float) -> None:
    """The event loop was blocked this long past a wake-up."""
    structlog.get_logger().warning("event_loop_lag", lag_s=round(lag_s, 3))


def webhook_accepted(*, client: str, path: str) -> None:
    """A POST (`path`: /webhook or /control) with the right secret."""
    structlog.get_logger().info("webhook_accepted", client=client, path=path)


def webhook_rejected(*, status: int, reason: str, client: str, path: str) -> None:
    """A refused POST: who sent it, never its body or secret."""
    structlog.get_logger().warning(
        "webhook_rejected", status=status, reason=reason, client=client, path=path
    )


def webhook_failed(*, error: str, client: str, path: str) -> None:
    """A POST's handler raised (500). `error`: the exception's type only."""
    structlog.get_logger().error("webhook_failed", error=error, client=client, path=path)
