"""The ProjectX user hub (adapters/projectx/hub/) and the account state it feeds
(worker/accounts.py): the connection, one line per push, what could not be read.

A push's line carries the push's fields as the gateway sent them, codes included, with
their names (adapters/projectx/parsing.py `log_fields`): read once, logged once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from adapters.events._common import known


def hub_state(
    state: str,
    *,
    client: str | None = None,
    accounts: Sequence[int] | None = None,
    attempt: int | None = None,
    delay_s: float | None = None,
    reason: str | None = None,
) -> None:
    """The connection: connecting, connected, subscribed (`accounts`), closed (`reason`),
    reconnecting (`attempt`, `delay_s`, `reason`), stopped. `client`: the SignalR
    client in use."""
    structlog.get_logger().info(
        "hub_state",
        state=state,
        **known(
            client=client,
            accounts=list(accounts) if accounts is not None else None,
            attempt=attempt,
            delay_s=round(delay_s, 3) if delay_s is not None else None,
            reason=reason,
        ),
    )


def account_update(fields: Mapping[str, object]) -> None:
    structlog.get_logger().info("account_update", **fields)


def order_update(fields: Mapping[str, object]) -> None:
    structlog.get_logger().info("order_update", **fields)


def position_update(fields: Mapping[str, object]) -> None:
    structlog.get_logger().info("position_update", **fields)


def trade_fill(fields: Mapping[str, object]) -> None:
    structlog.get_logger().info("trade_fill", **fields)


def hub_bad_frame(*, reason: str, detail: str) -> None:
    """A frame that is no push we know (unknown target, odd arguments, not JSON)."""
    structlog.get_logger().warning("hub_bad_frame", reason=reason, detail=detail)


def hub_bad_event(*, target: str, reason: str) -> None:
    """A push whose payload could not be read (a field missing, a code unknown), logged
    in place of its line."""
    structlog.get_logger().warning("hub_bad_event", target=target, reason=reason)


def hub_reconcile_failed(*, error: str) -> None:
    """The REST reconcile after a (re)subscribe failed; the hub goes on."""
    structlog.get_logger().warning("hub_reconcile_failed", error=error)


def hub_deliver_failed(*, kind: str) -> None:
    """A consumer of a push raised. Call it inside the `except` block: the traceback is
    logged with it."""
    structlog.get_logger().exception("hub_deliver_failed", kind=kind)


def hub_foreign_thread(*, call: str) -> None:
    """An adapter called the listener off the event loop thread (re-posted to it)."""
    structlog.get_logger().error("hub_foreign_thread", call=call)


def signalr_stop_failed(*, client: str, error: str) -> None:
    """A SignalR client that would not stop (abandoned)."""
    structlog.get_logger().debug("signalr_stop_failed", client=client, error=error)


def account_reconciled(*, account: str, positions: int, fills: int, net_pnl: float) -> None:
    """The REST snapshot of an account after a (re)subscribe."""
    structlog.get_logger().info(
        "account_reconciled", account=account, positions=positions, fills=fills, net_pnl=net_pnl
    )
