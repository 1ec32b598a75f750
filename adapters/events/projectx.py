"""ProjectX over REST (adapters/projectx/client.py, contracts.py): the token, retried
reads, the contract each symbol trades."""

from __future__ import annotations

import structlog

from adapters.events._common import known


def projectx_token(*, action: str) -> None:
    """`login`, or `renewed` (the old token validated into a new one)."""
    structlog.get_logger().info("projectx_token", action=action)


def projectx_retry(*, endpoint: str, status: int | None, wait_s: float) -> None:
    """A read answered 429/5xx: retried after `wait_s` (Retry-After honoured)."""
    structlog.get_logger().warning(
        "projectx_retry", endpoint=endpoint, status=status, wait_s=round(wait_s, 3)
    )


def contract_resolved(
    *, symbol: str, symbol_id: str, contract: str, previous: str | None = None
) -> None:
    """A symbol's contract, at start and each trading day; `previous` when it changed."""
    structlog.get_logger().info(
        "contract_resolved",
        symbol=symbol,
        symbol_id=symbol_id,
        contract=contract,
        **known(previous=previous),
    )


def contract_refresh_failed(*, symbol: str, contract: str, retry_in_s: float, error: str) -> None:
    """The day's refresh failed: the known `contract` stays, tried again later."""
    structlog.get_logger().warning(
        "contract_refresh_failed",
        symbol=symbol,
        contract=contract,
        retry_in_s=retry_in_s,
        error=error,
    )
