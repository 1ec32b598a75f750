"""The user-hub fault matrix: the same contract for both hub-connection adapters, each run
through the real UserHubListener against FakeUserHub (a real local SignalR server).

A case an adapter fails because of its library is kept and marked xfail(strict=True) for
that adapter only; the default adapter (adapters/projectx/hub/factory.py) passes them all.
Every case also checks, at teardown, that the listener invoked nothing but Subscribe* and
that no token reached a log line.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters.projectx.hub.factory import CLIENTS, adapter_factory
from adapters.projectx.hub.listener import ListenerConfig, UserHubListener, subscriptions
from engine.account_state import AccountEvent, Event, OrderEvent, PositionEvent, TradeEvent
from tests.fakes.signalr_hub import FakeUserHub
from tests.fakes.signalr_wire import SUBSCRIBE_METHODS
from tests.fakes.wait import eventually

ACCOUNTS = (7, 8)
SERVER_PING_S = 0.1
CLIENT_PING_S = 0.15
KEEPALIVE_S = 0.6
TOKENS = ("tok-1", "tok-2")
CONTRACT = "CON.F.US.MES.Z25"
AT = "2026-11-27T14:30:00+00:00"


def order(order_id: int, account: int = 7, **extra: Any) -> dict[str, Any]:
    return {"id": order_id, "accountId": account, "contractId": CONTRACT, "status": 1,
            "type": 2, "side": 0, "size": 1, "customTag": f"t{order_id}",
            "creationTimestamp": AT, **extra}  # fmt: skip


def trade(trade_id: int, account: int = 7, **extra: Any) -> dict[str, Any]:
    return {"id": trade_id, "accountId": account, "contractId": CONTRACT, "price": 6001.25,
            "creationTimestamp": AT, **extra}  # fmt: skip


def position(position_id: int, account: int = 7, **extra: Any) -> dict[str, Any]:
    return {"id": position_id, "accountId": account, "contractId": CONTRACT,
            "creationTimestamp": AT, **extra}  # fmt: skip


def clients(**xfail: str) -> list[Any]:
    """The adapters to run a case for; `xfail={client: reason}` marks a library failure."""
    return [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=xfail[c])) if c in xfail
        else c
        for c in CLIENTS
    ]  # fmt: skip


@dataclass
class Rig:
    hub: FakeUserHub
    listener: UserHubListener
    token: dict[str, str]
    events: list[Event] = field(default_factory=list)
    threads: set[int] = field(default_factory=set)
    logs: list[dict[str, Any]] = field(default_factory=list)

    def lines(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.logs if line["event"] == event]

    def subscribed(self, session_number: int) -> bool:
        if len(self.hub.sessions) < session_number:
            return False
        session = self.hub.sessions[session_number - 1]
        done = [(i.target, i.arguments) for i in session.invocations]
        return done == subscriptions(ACCOUNTS) and self.listener.state == "subscribed"

    def assert_only_subscriptions(self) -> None:
        """Logging only: the listener never invoked anything but Subscribe*."""
        assert {i.target for i in self.hub.invocations} <= SUBSCRIBE_METHODS
        assert self.hub.client_garbage == []

    def assert_no_token_logged(self) -> None:
        assert self.logs
        assert not [line for line in self.logs for t in TOKENS if t in repr(line)]


@pytest.fixture
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    client = request.node.callspec.params["client"]
    options = dict(getattr(request, "param", {}))  # FakeUserHub options, and "listener"
    timeouts = {"connect_timeout_s": 3.0, "invoke_timeout_s": 2.0, **options.pop("listener", {})}
    async with FakeUserHub({"tok-1"}, ping_interval_s=SERVER_PING_S, **options) as hub:
        token = {"current": "tok-1"}

        async def token_provider() -> str:
            return token["current"]

        config = ListenerConfig(
            hub.url, ACCOUNTS, keepalive_s=KEEPALIVE_S, backoff_initial_s=0.05,
            backoff_cap_s=0.2, **timeouts,
        )  # fmt: skip
        build = adapter_factory(client, ping_interval_s=CLIENT_PING_S)
        listener = UserHubListener(config, build, token_provider, lambda e: None)
        test_rig = Rig(hub, listener, token)

        def deliver(event: Event) -> None:
            test_rig.threads.add(threading.get_ident())
            test_rig.events.append(event)

        listener.deliver = deliver
        with capture_logs() as test_rig.logs:
            await listener.start()
            await eventually(lambda: test_rig.subscribed(1), timeout=5)
            yield test_rig
            await listener.stop()
        test_rig.assert_only_subscriptions()
        test_rig.assert_no_token_logged()


@pytest.mark.parametrize("client", clients())
async def test_connects_with_the_token_in_the_query_and_no_negotiation(
    rig: Rig, client: str
) -> None:
    first = rig.hub.attempts[0]
    assert (first.path, first.token, first.status, first.negotiate) == (
        "/hubs/user", "tok-1", 101, False,
    )  # fmt: skip
    assert rig.hub.negotiations == 0
    assert rig.hub.sessions[0].handshake is not None
    assert rig.hub.sessions[0].handshake["protocol"] == "json"


@pytest.mark.parametrize("client", clients())
async def test_subscribes_to_accounts_then_per_account_after_connect(rig: Rig, client: str) -> None:
    invocations = rig.hub.sessions[0].invocations
    assert [(i.target, i.arguments) for i in invocations] == [
        ("SubscribeAccounts", []),
        ("SubscribeOrders", [7]), ("SubscribePositions", [7]), ("SubscribeTrades", [7]),
        ("SubscribeOrders", [8]), ("SubscribePositions", [8]), ("SubscribeTrades", [8]),
    ]  # fmt: skip
    assert all(i.invocation_id for i in invocations)  # each waited for its Completion
    assert rig.listener.counts["invoked.SubscribeTrades"] == 2


@pytest.mark.parametrize("client", clients())
async def test_events_arrive_in_order_on_the_loop_thread(rig: Rig, client: str) -> None:
    hub = rig.hub
    await hub.emit("GatewayUserAccount", {"id": 7, "name": "PA-7", "balance": 50_000.0,
                                          "canTrade": True})  # fmt: skip
    await hub.emit("GatewayUserOrder", order(101))
    await hub.emit_batch([  # several records in one websocket frame
        ("GatewayUserOrder", order(101, status=2, fillVolume=1, filledPrice=6001.25)),
        ("GatewayUserTrade", trade(501, orderId=101, side=0, size=1, profitAndLoss=None,
                                   fees=0.37, voided=False)),
        ("GatewayUserPosition", position(9, account=8, type=1, size=1, averagePrice=6001.25)),
    ])  # fmt: skip
    await hub.emit("GatewayUserOrder", {"action": 1, "data": order(102, account=8)})
    await eventually(lambda: len(rig.events) == 6, timeout=3)
    assert [(type(e), e.fill.id if isinstance(e, TradeEvent) else e.id) for e in rig.events] == [
        (AccountEvent, 7), (OrderEvent, 101), (OrderEvent, 101), (TradeEvent, 501),
        (PositionEvent, 9), (OrderEvent, 102),
    ]  # fmt: skip
    assert rig.threads == {threading.get_ident()}  # the test runs on the loop thread
    assert rig.listener.counts["foreign_thread"] == 0
    lines = {line["event"]: line for line in rig.logs if line["event"] != "hub_state"}
    assert lines["trade_fill"] | {"log_level": "info"} == {
        "event": "trade_fill", "log_level": "info", "trade_id": 501, "account_id": 7,
        "contract_id": "CON.F.US.MES.Z25", "order_id": 101, "side": 0, "side_name": "buy",
        "size": 1, "price": 6001.25, "pnl": None, "fees": 0.37, "voided": False,
        "created_at": AT,
    }  # fmt: skip
    assert lines["order_update"]["custom_tag"] == "t102"
    assert lines["order_update"]["action"] == 1  # the wrapped push's action, logged
    assert len(rig.lines("order_update")) == 3  # one line per push
    assert lines["position_update"]["type_name"] == "long"
    assert lines["account_update"]["balance"] == 50_000.0


@pytest.mark.parametrize("client", clients())
async def test_dropped_connection_reconnects_and_subscribes_again(rig: Rig, client: str) -> None:
    await rig.hub.drop_all()
    await eventually(lambda: len(rig.hub.sessions) >= 2 and rig.subscribed(2), timeout=5)
    assert rig.hub.sessions[1].token == "tok-1"
    assert len(rig.hub.attempts) == 2  # one new client; the library's own reconnect is off
    assert await rig.hub.emit("GatewayUserOrder", order(201)) == 1
    await eventually(lambda: [e.id for e in rig.events] == [201])


@pytest.mark.parametrize("client", clients())
async def test_rotated_token_reconnects_with_the_newest_token(rig: Rig, client: str) -> None:
    hub = rig.hub
    await hub.rotate_token("tok-2")  # the old connection is closed; "tok-1" is refused
    await eventually(lambda: rig.listener.counts["unauthorized"] >= 1, timeout=5)
    assert hub.rejected[0].token == "tok-1"
    assert all(a.status == 401 for a in hub.attempts[1:] if a.token == "tok-1")
    rig.token["current"] = "tok-2"  # the token provider renewed it
    await eventually(lambda: hub.open_sessions and rig.subscribed(len(hub.sessions)), timeout=5)
    assert hub.sessions[-1].token == "tok-2"
    assert all(s.token == "tok-2" for s in hub.open_sessions)
    assert await hub.emit("GatewayUserTrade", trade(1, account=8)) == 1
    await eventually(lambda: len(rig.events) == 1)


@pytest.mark.parametrize("client", clients())
async def test_silent_open_connection_is_replaced_by_the_watchdog(rig: Rig, client: str) -> None:
    hub = rig.hub
    hub.stall()  # no pings, no pushes, no completions; the socket stays open
    await eventually(lambda: rig.listener.counts["watchdog"] >= 1, timeout=KEEPALIVE_S + 3)
    await eventually(lambda: not hub.sessions[0].open, timeout=3)  # the old socket is closed
    hub.stall(False)
    await eventually(lambda: hub.open_sessions and rig.subscribed(len(hub.sessions)), timeout=5)
    assert len(hub.open_sessions) == 1
    assert await hub.emit("GatewayUserOrder", order(301)) == 1
    await eventually(lambda: [e.id for e in rig.events] == [301])


MALFORMED = [
    "not json\x1e",
    "[1, 2]\x1e",
    '{"type": 99}\x1e',
    '{"type": true, "target": "GatewayUserOrder", "arguments": [{}]}\x1e',
    '{"target": "GatewayUserOrder", "arguments": [{"id": 1}]}\x1e',
    '{"type": 1, "target": 5, "arguments": []}\x1e',
    '{"type": 1, "target": "GatewayUserOrder", "arguments": "x"}\x1e',
    '{"type": 1, "target": "GatewayUserOrder", "arguments": []}\x1e',
    '{"type": 1, "target": "GatewayUserOrder", "arguments": [1, 2]}\x1e',
    '{"type": 3}\x1e',
    '{"type": 2, "invocationId": "x", "item": 1}\x1e',
    json.dumps({"type": 1, "target": "GatewayUserOrder", "arguments": [order(1)]})
    + "\x1e{oops\x1e",
]


@pytest.mark.parametrize("client", clients())
async def test_malformed_frames_and_unknown_targets_are_counted_and_ignored(
    rig: Rig, client: str
) -> None:
    hub = rig.hub
    for text in MALFORMED:
        assert await hub.send_raw(text) == 1
    assert await hub.emit("GatewayUserSomethingNew", {"id": 1}) == 1
    assert await hub.emit("GatewayUserOrder", {"id": 402, "accountId": 7}) == 1  # no contract
    assert await hub.emit("GatewayUserOrder", order(401)) == 1
    await eventually(lambda: [e.id for e in rig.events] == [1, 401], timeout=3)
    bad = rig.lines("hub_bad_frame")
    assert len(bad) == rig.listener.counts["bad_frame"] == len(MALFORMED) + 1
    unread = rig.lines("hub_bad_event")  # the push's one line: not an order_update too
    assert len(unread) == rig.listener.counts["bad_event"] == 1
    assert unread[0]["target"] == "GatewayUserOrder" and "contractId" in unread[0]["reason"]
    assert [line["order_id"] for line in rig.lines("order_update")] == [1, 401]
    assert rig.listener.counts["bad_frame.unknown_target"] == 1
    assert rig.listener.counts["bad_frame.not_json"] == 2
    assert len(hub.sessions) == 1 and hub.sessions[0].open  # same connection, still running
    assert rig.listener.state == "subscribed"


CLOSES = {  # how the server ends the connection -> how the listener's log names it
    "close-message-with-error": ({"error": "Server is shutting down."}, "server close: Server"),
    "close-message-no-error": ({"error": None}, "server close: no error"),
    "websocket-close-frame-only": ({"message": False}, ""),
}


@pytest.mark.parametrize("client", clients())
@pytest.mark.parametrize("how", CLOSES)
async def test_server_close_reconnects_and_subscribes_again(
    rig: Rig, client: str, how: str
) -> None:
    options, reason = CLOSES[how]
    await rig.hub.close_all(**options)  # type: ignore[arg-type]
    await eventually(lambda: len(rig.hub.sessions) >= 2 and rig.subscribed(2), timeout=5)
    closed = [line for line in rig.lines("hub_state") if line["state"] == "closed"]
    assert closed and closed[0]["reason"].startswith(reason)
    assert await rig.hub.emit("GatewayUserPosition", position(3, size=0)) == 1
    await eventually(lambda: len(rig.events) == 1)


@pytest.mark.parametrize("rig", [{"client_timeout_s": 0.5}], indirect=True)
@pytest.mark.parametrize("client", clients())
async def test_client_keeps_the_connection_alive(rig: Rig, client: str) -> None:
    await asyncio.sleep(1.5)  # three client timeouts: only the client's pings keep it open
    assert rig.hub.client_timeouts == 0
    assert len(rig.hub.sessions) == 1 and rig.hub.sessions[0].open
    assert rig.hub.sessions[0].client_pings >= 3


@pytest.mark.parametrize("client", clients())
async def test_stop_closes_the_connection_and_ends_reconnects(rig: Rig, client: str) -> None:
    await rig.listener.stop()
    await eventually(lambda: not rig.hub.open_sessions, timeout=3)
    attempts = len(rig.hub.attempts)
    await asyncio.sleep(0.3)
    assert len(rig.hub.attempts) == attempts
    assert rig.listener.state == "stopped"


@pytest.mark.parametrize("rig", [{"ws_ping_interval_s": 0.3}], indirect=True)
@pytest.mark.parametrize(
    "client",
    clients(
        signalrcore="signalrcore 1.0.2 hands RFC 6455 ping frames to the protocol as data: "
        "it never answers with a pong, and a non-UTF-8 payload ends its receive thread",
    ),
)
async def test_server_websocket_ping_frames_keep_the_connection(rig: Rig, client: str) -> None:
    await asyncio.sleep(1.5)  # five pings, each to be answered within 0.3 s
    assert len(rig.hub.sessions) == 1 and rig.hub.sessions[0].open
    assert rig.listener.counts["bad_frame"] == 0


@pytest.mark.parametrize("client", clients())
async def test_hub_restart_reconnects_once_the_port_answers_again(rig: Rig, client: str) -> None:
    old, port = rig.hub, rig.hub.port
    await old.stop()  # connections aborted; the port refuses connections meanwhile
    await eventually(lambda: rig.listener.counts["state.closed"] >= 2, timeout=5)
    rig.hub = FakeUserHub({"tok-1"}, ping_interval_s=SERVER_PING_S, port=port)
    await rig.hub.start()
    try:
        await eventually(lambda: rig.subscribed(1), timeout=8)
        assert await rig.hub.emit("GatewayUserOrder", order(601)) == 1
        await eventually(lambda: [e.id for e in rig.events] == [601])
    finally:
        await rig.listener.stop()
        await rig.hub.stop()


@pytest.mark.parametrize("client", clients())
async def test_handshake_error_is_reported_at_once(rig: Rig, client: str) -> None:
    rig.hub.handshake_error = "Requested protocol 'json' is not available."
    await rig.hub.drop_all()
    await eventually(lambda: rig.listener.counts["state.closed"] >= 2, timeout=1.5)  # < timeout
    closed = [line for line in rig.lines("hub_state") if line["state"] == "closed"]
    assert "not available" in closed[1]["reason"]
    rig.hub.handshake_error = None
    await eventually(lambda: rig.hub.open_sessions and rig.subscribed(len(rig.hub.sessions)))


@pytest.mark.parametrize("rig", [{"listener": {"connect_timeout_s": 0.4}}], indirect=True)
@pytest.mark.parametrize("client", clients())
async def test_unanswered_upgrade_times_out_and_is_retried(rig: Rig, client: str) -> None:
    rig.hub.hang_upgrades = True  # TCP accepted, the HTTP upgrade never answered
    await rig.hub.drop_all()
    await eventually(lambda: rig.listener.counts["state.closed"] >= 3, timeout=3)
    closed = [line for line in rig.lines("hub_state") if line["state"] == "closed"]
    assert [line["reason"] for line in closed[1:3]] == ["timed out", "timed out"]
    rig.hub.hang_upgrades = False
    await eventually(lambda: rig.hub.open_sessions and rig.subscribed(len(rig.hub.sessions)))
