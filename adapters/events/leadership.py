"""One active trader (adapters/lease.py): the advisory lock on the lease database.
`endpoint` is where that database is (host, port, db), never its password."""

from __future__ import annotations

from collections.abc import Mapping

import structlog


def leader(*, lease: str, key: int, pid: int | None, endpoint: Mapping[str, str]) -> None:
    """This copy holds the lock (`pid`: its session's server process)."""
    structlog.get_logger().info("leader", lease=lease, key=key, pid=pid, **endpoint)


def standby(
    *, lease: str, key: int, pid: int | None, retry_s: float, endpoint: Mapping[str, str]
) -> None:
    """Another copy holds the lock: this one decides and logs, and sends no order."""
    structlog.get_logger().info(
        "standby",
        lease=lease,
        key=key,
        pid=pid,
        retry_s=retry_s,
        message="another instance holds the trading lease",
        **endpoint,
    )


def leader_lost(*, lease: str, error: str, endpoint: Mapping[str, str]) -> None:
    """The lock is in doubt: stepped down at once."""
    structlog.get_logger().warning("leader_lost", lease=lease, error=error, **endpoint)


def lease_unavailable(
    *, lease: str, error: str, retry_s: float, endpoint: Mapping[str, str]
) -> None:
    """The lease database cannot be reached: no lead (logged once per outage)."""
    structlog.get_logger().warning(
        "lease_unavailable", lease=lease, error=error, retry_s=retry_s, **endpoint
    )


def leader_released(*, lease: str, endpoint: Mapping[str, str]) -> None:
    structlog.get_logger().info("leader_released", lease=lease, **endpoint)
