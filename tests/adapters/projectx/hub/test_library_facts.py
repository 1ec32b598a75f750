"""What signalrcore 1.0.2 and pysignalr 1.3.3 do on their own, pinned against FakeUserHub.

These are the reasons behind the adapters' design (their docstrings cite this file). They
use the libraries raw, without our adapters. If an upgrade makes one of them fail, the
library changed: re-check the workaround it justifies before deleting it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pysignalr.client import SignalRClient
from pysignalr.exceptions import NegotiationFailure
from signalrcore.hub_connection_builder import HubConnectionBuilder  # type: ignore[import-untyped]

from adapters.projectx.hub.signalrcore_adapter import in_daemon_thread
from tests.fakes.signalr_hub import FakeUserHub
from tests.fakes.wait import eventually, never


@pytest.fixture
async def hub() -> AsyncIterator[FakeUserHub]:
    async with FakeUserHub({"tok-1"}, ping_interval_s=0.1) as fake:
        yield fake


def signalrcore(url: str, reconnect: bool = False) -> Any:
    builder = HubConnectionBuilder().with_url(url, options={"skip_negotiation": True})
    if reconnect:
        builder = builder.with_automatic_reconnect(
            {"type": "raw", "keep_alive_interval": 10, "reconnect_interval": 0.1}
        )
    return builder.build()


async def stop_signalrcore(connection: Any) -> None:
    await asyncio.wait_for(in_daemon_thread(connection.stop, "test-stop"), 5)


# ----- signalrcore 1.0.2


async def test_signalrcore_calls_back_on_its_own_receive_thread(hub: FakeUserHub) -> None:
    connection = signalrcore(f"{hub.url}?access_token=tok-1")
    threads: list[str] = []
    connection.on(
        "GatewayUserAccount", lambda _args: threads.append(threading.current_thread().name)
    )
    connection.on_open(lambda: connection.invoke("SubscribeAccounts", []))
    await in_daemon_thread(connection.start, "test-start")
    await eventually(lambda: hub.invocations)
    await hub.emit("GatewayUserAccount", {"id": 7})
    await eventually(lambda: threads)
    assert threads == ["Signalrcore websocket client"]  # not the event loop's thread
    assert hub.negotiations == 0  # skip_negotiation is honoured
    assert hub.sessions[0].handshake == {"protocol": "json", "version": 0}
    await stop_signalrcore(connection)


async def test_signalrcore_reconnect_keeps_the_start_token_and_then_hangs(
    hub: FakeUserHub,
) -> None:
    connection = signalrcore(f"{hub.url}?access_token=tok-1", reconnect=True)
    calls: list[str] = []
    connection.on_open(lambda: calls.append("open"))
    connection.on_reconnect(lambda: calls.append("reconnect"))
    connection.on_close(lambda: calls.append("close"))
    await in_daemon_thread(connection.start, "test-start")
    await eventually(lambda: calls == ["open"])
    connection.invoke("SubscribeAccounts", [])
    await eventually(lambda: hub.invocations)

    await hub.drop_all()
    await eventually(lambda: len(hub.open_sessions) == 1)
    # The reconnect callback did fire here (reported never to); the subscriptions were
    # not sent again: the new connection has no invocations.
    await eventually(lambda: calls == ["open", "reconnect"])
    assert hub.sessions[1].token == "tok-1" and hub.sessions[1].invocations == []

    await hub.rotate_token("tok-2")  # closes it; its reconnect still uses tok-1 -> 401
    await eventually(lambda: len(hub.rejected) == 1)
    assert hub.rejected[0].token == "tok-1"
    await never(lambda: len(hub.attempts) > 3, within=1.0)  # no further attempt, ever
    assert connection.transport.state.name == "reconnecting"
    assert calls == ["open", "reconnect"]  # and no callback tells anyone
    await stop_signalrcore(connection)


async def test_signalrcore_sends_no_pings_without_automatic_reconnect() -> None:
    async with FakeUserHub({"tok-1"}, ping_interval_s=0.1, client_timeout_s=0.5) as hub:
        connection = signalrcore(f"{hub.url}?access_token=tok-1")
        await in_daemon_thread(connection.start, "test-start")
        await eventually(lambda: hub.client_timeouts == 1, timeout=3)
        assert hub.sessions[0].client_pings == 0
        await stop_signalrcore(connection)


async def test_signalrcore_stop_waits_for_its_receive_thread_and_shutdown_frees_it() -> None:
    """stop() closes the socket and joins the thread blocked in recv(). Whether close()
    wakes that recv() depends on the kernel: on Linux it does not (stop() hangs until the
    server hangs up); CI's sandbox kernel did wake it. shutdown() wakes it everywhere, which
    is what `_close` in the adapter relies on; this pins that, not the kernel's behaviour."""
    async with FakeUserHub({"tok-1"}, ping_interval_s=None) as hub:
        connection = signalrcore(f"{hub.url}?access_token=tok-1")
        await in_daemon_thread(connection.start, "test-start")
        await eventually(lambda: hub.sessions and hub.sessions[0].handshake)
        receiver = connection.transport._client.recv_thread  # private: 1.0.2
        assert receiver is not None and receiver.is_alive()
        connection.transport._client.sock.shutdown(socket.SHUT_RDWR)
        await eventually(lambda: not receiver.is_alive(), timeout=1.0)
        await asyncio.wait_for(in_daemon_thread(connection.stop, "test-stop"), 1.0)


async def test_signalrcore_malformed_record_ends_receiving_with_the_socket_open(
    hub: FakeUserHub,
) -> None:
    connection = signalrcore(f"{hub.url}?access_token=tok-1")
    closed: list[bool] = []
    connection.on_close(lambda: closed.append(True))
    await in_daemon_thread(connection.start, "test-start")
    await eventually(lambda: hub.sessions and hub.sessions[0].handshake)
    await hub.send_raw("not json\x1e")
    await eventually(lambda: closed)
    await never(lambda: not hub.sessions[0].open, within=0.5)  # the server still sees it
    await hub.drop_all()


# ----- pysignalr 1.3.3


def handshaken(hub: FakeUserHub) -> bool:
    """The first session is open and its handshake read (not only its socket)."""
    return bool(hub.sessions and hub.sessions[0].handshake)


async def run_until(client: SignalRClient, condition: Any, within: float = 3) -> asyncio.Task[None]:
    task = asyncio.create_task(client.run())
    await eventually(condition, timeout=within)
    return task


async def finish(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_pysignalr_negotiates_though_negotiation_is_not_needed(hub: FakeUserHub) -> None:
    client = SignalRClient(f"{hub.url}?access_token=tok-1")
    task = await run_until(client, lambda: handshaken(hub))
    assert hub.negotiations == 1  # SignalRClient never passes skip_negotiation on
    assert hub.sessions[0].ws.request is not None
    assert hub.sessions[0].ws.request.path.endswith("access_token=tok-1&id=conn-1")
    assert hub.sessions[0].handshake == {"protocol": "json", "version": 1}
    await finish(task)


async def test_pysignalr_reconnect_keeps_the_url_so_the_old_token() -> None:
    valid = {"tok-1"}
    async with FakeUserHub(lambda token: token in valid, ping_interval_s=0.1) as hub:
        client = SignalRClient(f"{hub.url}?access_token=tok-1", retry_count=1)
        opened: list[bool] = []

        async def on_open() -> None:
            opened.append(True)

        client.on_open(on_open)
        task = await run_until(client, lambda: opened)
        await hub.drop_all()
        await eventually(lambda: len(opened) == 2)  # on_open fires again: re-subscribe there
        assert hub.negotiations == 1  # the reconnect reuses the negotiated URL and its id
        assert [s.token for s in hub.sessions] == ["tok-1", "tok-1"]
        valid.clear()  # the token expired; the open connection is dropped
        await hub.drop_all()
        await eventually(task.done, timeout=5)
        assert isinstance(task.exception(), NegotiationFailure)  # the 401, renamed
        assert [a.token for a in hub.rejected] == ["tok-1"]


async def test_pysignalr_close_message_with_error_ends_run(hub: FakeUserHub) -> None:
    client = SignalRClient(f"{hub.url}?access_token=tok-1")
    task = await run_until(client, lambda: handshaken(hub))
    await hub.close_all(error="Server is shutting down.")
    await eventually(task.done)
    assert repr(task.exception()) == "ServerError(message='Server is shutting down.')"


async def test_pysignalr_malformed_record_ends_run(hub: FakeUserHub) -> None:
    client = SignalRClient(f"{hub.url}?access_token=tok-1")
    task = await run_until(client, lambda: handshaken(hub))
    await hub.send_raw("not json\x1e")
    await eventually(task.done)
    assert "JSONDecodeError" in type(task.exception()).__name__


async def test_pysignalr_error_completion_without_error_callback_ends_run(
    hub: FakeUserHub,
) -> None:
    client = SignalRClient(f"{hub.url}?access_token=tok-1")
    task = await run_until(client, lambda: handshaken(hub))

    async def completed(_message: Any) -> None:
        return None

    await client.send("NoSuchMethod", [], on_invocation=completed)
    await eventually(task.done)
    assert repr(task.exception()) == "RuntimeError('Error callback is not set')"


def test_pysignalr_patches_websockets_connect_when_imported() -> None:
    import websockets.asyncio.client

    # Process-wide: every `async for ws in connect(...)` loop now retries pysignalr's way
    # and turns handshake errors (an HTTP 401 too) into NegotiationFailure.
    assert websockets.asyncio.client.connect.__aiter__.__module__ == "pysignalr"
