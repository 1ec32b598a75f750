"""UserHubListener with an in-memory HubConnection: the guards no real hub can provoke."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any, ClassVar

import pytest

from adapters.projectx.hub import listener as listener_module
from adapters.projectx.hub.listener import ListenerConfig, UserHubListener
from adapters.projectx.hub.port import HubSink
from engine.account_state import Event
from tests.fakes.wait import eventually

CONFIG = ListenerConfig("http://127.0.0.1:9/hubs/user", (7,), keepalive_s=60.0)
ORDER = {"id": 1, "accountId": 7, "contractId": "CON.F.US.MES.Z25",
         "creationTimestamp": "2026-11-27T14:30:00+00:00"}  # fmt: skip


async def token() -> str:
    return "tok"


class MemoryConnection:
    """Connects at once; `push_from_thread` calls the sink from a foreign thread."""

    name = "memory"
    built: ClassVar[list[MemoryConnection]] = []

    def __init__(self, sink: HubSink) -> None:
        self.sink, self.invoked = sink, list[str]()
        MemoryConnection.built.append(self)

    async def start(self, url: str) -> None:
        assert "access_token=tok" in url

    async def invoke(self, target: str, arguments: list[Any]) -> None:
        self.invoked.append(target)

    async def stop(self) -> None:
        return None

    def push_from_thread(self) -> None:
        worker = threading.Thread(target=self.sink.message, args=("GatewayUserOrder", [ORDER]))
        worker.start()
        worker.join()


class SwallowingConnection(MemoryConnection):
    """start() swallows its cancellation, as Python 3.11's wait_for can."""

    async def start(self, url: str) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(30)


async def test_sink_calls_from_another_thread_run_on_the_loop() -> None:
    MemoryConnection.built.clear()
    threads: list[int] = []
    hub = UserHubListener(CONFIG, MemoryConnection, token, lambda e: threads.append(
        threading.get_ident()))  # fmt: skip
    await hub.start()
    await eventually(lambda: hub.state == "subscribed")
    MemoryConnection.built[0].push_from_thread()
    await eventually(lambda: threads)
    assert threads == [threading.get_ident()]
    assert hub.counts["foreign_thread"] == 1
    await hub.stop()


async def test_a_failing_consumer_is_counted_and_the_listener_goes_on() -> None:
    MemoryConnection.built.clear()
    seen: list[Event] = []

    def deliver(event: Event) -> None:
        seen.append(event)
        raise RuntimeError("consumer bug")

    hub = UserHubListener(CONFIG, MemoryConnection, token, deliver)
    await hub.start()
    await eventually(lambda: hub.state == "subscribed")
    sink = MemoryConnection.built[0].sink
    sink.message("GatewayUserOrder", [ORDER])
    sink.message("GatewayUserOrder", [ORDER])
    assert len(seen) == 2 and hub.counts["deliver_failed"] == 2
    assert hub.state == "subscribed"
    await hub.stop()


async def test_stop_ends_the_listener_even_if_a_cancellation_is_swallowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(listener_module, "STOP_TIMEOUT_S", 0.2)
    hub = UserHubListener(CONFIG, SwallowingConnection, token, lambda e: None)
    await hub.start()
    await asyncio.sleep(0.05)  # inside start()
    await asyncio.wait_for(hub.stop(), 5)  # the first cancel is lost; the second is not
    assert hub.state == "stopped"


async def test_in_sync_only_after_the_reconcile_and_until_a_push_goes_unread() -> None:
    """What lets the hub's state stand in for REST reads (issue 15): subscribed AND the
    reconcile of this connection done; a push left unread (or a failed reconcile, or the
    connection's end) puts the reads back on REST."""
    MemoryConnection.built.clear()
    reconciling = asyncio.Event()
    reconciled = asyncio.Event()
    outcome: list[bool] = [True]

    finished: list[bool] = []

    async def reconcile() -> None:
        reconciling.set()
        await reconciled.wait()
        finished.append(outcome[0])
        if not outcome[0]:
            raise RuntimeError("Trade/search failed")

    hub = UserHubListener(CONFIG, MemoryConnection, token, lambda e: None, reconcile)
    assert not hub.in_sync
    await hub.start()
    await reconciling.wait()
    assert hub.state == "subscribed" and not hub.in_sync  # missed events not in yet
    reconciled.set()
    await eventually(lambda: hub.in_sync)
    sink = MemoryConnection.built[0].sink
    sink.message("GatewayUserOrder", [ORDER])  # read and delivered: still in sync
    assert hub.in_sync
    sink.message("GatewayUserTrade", [{"accountId": 7}])  # unreadable: a fill is lost
    assert hub.counts["bad_frame"] == 1 and not hub.in_sync
    outcome[0] = False
    sink.closed("server went away")  # the next connection's reconcile fails
    await eventually(lambda: finished == [True, False])
    await asyncio.sleep(0.01)  # the listener takes the failure and listens on
    assert hub.state == "subscribed" and not hub.in_sync
    await hub.stop()
    assert not hub.in_sync
