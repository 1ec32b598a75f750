"""Which hub-connection adapter the worker uses, chosen by name; imports are lazy, so the
client not chosen is never imported (pysignalr patches websockets at import time)."""

from __future__ import annotations

from typing import Any

from adapters.projectx.hub.port import AdapterFactory, HubSink

# The default is the adapter that passes the whole fault matrix in
# tests/adapters/projectx/hub/test_contract.py: pysignalr passes every case; signalrcore fails
# one (RFC 6455 ping frames from the server end its connection), marked xfail there.
DEFAULT_CLIENT = "pysignalr"
CLIENTS = ("pysignalr", "signalrcore")


def adapter_factory(
    client: str = DEFAULT_CLIENT, *, ping_interval_s: float = 15.0
) -> AdapterFactory:
    """A factory building one new connection per (re)connect. `ping_interval_s`: seconds
    between the client's SignalR pings (the server drops a client silent for 30 s)."""
    if client == "pysignalr":
        from adapters.projectx.hub.pysignalr_adapter import PysignalrConnection as kind
    elif client == "signalrcore":
        from adapters.projectx.hub.signalrcore_adapter import (  # type: ignore[assignment]
            SignalrcoreConnection as kind,
        )
    else:
        raise ValueError(f"unknown SignalR client {client!r}; expected one of {CLIENTS}")

    def build(sink: HubSink) -> Any:
        return kind(sink, ping_interval_s=ping_interval_s)

    return build
