"""The ProjectX user-hub listener: logging only, no order management.

For every (re)connect it asks `token_provider` for the newest token, builds a NEW
`HubConnection` (a rotated token needs a new connection with both clients), connects with
`?access_token=` and negotiation skipped, and invokes SubscribeAccounts and, per account,
SubscribeOrders, SubscribePositions, SubscribeTrades — the only things it ever sends.
A connection ends when the adapter reports it closed (socket closed, server Close
message, failed ping) or when nothing at all (server pings included) arrived for
`keepalive_s` (the watchdog). Then it reconnects with jittered, capped exponential
backoff, forever. Each push is read once (adapters/projectx/parsing.py) into an engine
event, logged once (`account_update`, `order_update`, `position_update`, `trade_fill`)
and handed to `deliver` on the event loop thread. Malformed frames and unknown targets
are logged (`hub_bad_frame`), pushes whose payload cannot be read (`hub_bad_event`), both
counted, and the listener keeps running. The token is never logged, nor any URL.

`in_sync`: the state folded from its pushes may stand in for REST reads — subscribed, the
`on_subscribed` reconcile of this connection done, and no push left unread since.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from adapters import events
from adapters.backoff import backoff_delay
from adapters.projectx.hub.port import AdapterFactory, HubConnection, HubUnauthorized
from adapters.projectx.parsing import BadEvent, BadPush, parse_push
from engine.account_state import AccountEvent, Event, OrderEvent, PositionEvent

TokenProvider = Callable[[], Awaitable[str]]
PER_ACCOUNT = ("SubscribeOrders", "SubscribePositions", "SubscribeTrades")
_TOKEN_IN_TEXT = re.compile(r"(access_token=)[^&\s'\"]+", re.I)
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    url: str  # the user hub without a token, e.g. https://rtc.topstepx.com/hubs/user
    account_ids: tuple[int, ...]
    keepalive_s: float = 30.0  # silence (no frame at all) that means a dead connection
    connect_timeout_s: float = 10.0  # token + upgrade + SignalR handshake
    invoke_timeout_s: float = 10.0  # each Subscribe* until its Completion
    backoff_initial_s: float = 1.0  # first reconnect delay (jittered down to half)
    backoff_cap_s: float = 60.0


def subscriptions(account_ids: tuple[int, ...]) -> list[tuple[str, list[Any]]]:
    """Every invocation the listener sends after a (re)connect, in order."""
    calls: list[tuple[str, list[Any]]] = [("SubscribeAccounts", [])]
    calls += [(method, [account]) for account in account_ids for method in PER_ACCOUNT]
    return calls


def with_token(url: str, token: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}access_token={quote(token, safe='')}"


class UserHubListener:
    def __init__(
        self,
        config: ListenerConfig,
        adapter_factory: AdapterFactory,
        token_provider: TokenProvider,
        deliver: Callable[[Event], None],
        on_subscribed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        # After every (re)subscribe, e.g. reconcile state from REST: events missed while
        # disconnected are not replayed by the hub.
        self.on_subscribed = on_subscribed
        self.adapter_factory = adapter_factory
        self.token_provider = token_provider
        self.deliver = deliver  # called on the event loop thread, in arrival order
        self.counts: Counter[str] = Counter()
        self.state = "new"
        self._synced = False  # this connection's reconcile done, no push unread since
        self._task: asyncio.Task[None] | None = None

    @property
    def in_sync(self) -> bool:
        """Every push since this connection's reconcile was read and delivered: the
        consumer's state is as current as the hub (see the module docstring)."""
        return self._synced and self.state == "subscribed"

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="user-hub-listener")

    async def stop(self) -> None:
        task, self._task = self._task, None
        # Python 3.11's wait_for (in the libraries too) can swallow a cancellation that
        # races a completion: cancel again until the task is really gone, leaving each
        # round time for the adapter's own stop.
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_TIMEOUT_S + 1)
        self._state("stopped")

    async def run(self) -> None:
        """Connect, subscribe, listen; reconnect forever. Cancel to stop."""
        attempt = 0
        me = asyncio.current_task()
        while True:
            if me is not None and me.cancelling():  # a cancellation swallowed on the way
                raise asyncio.CancelledError
            subscribed, reason = await self._connection()
            attempt = 1 if subscribed else attempt + 1
            self.counts["reconnects"] += 1
            delay = backoff_delay(attempt, self.config.backoff_initial_s, self.config.backoff_cap_s)
            self._state("reconnecting", attempt=attempt, delay_s=delay, reason=reason)
            await asyncio.sleep(delay)

    async def _connection(self) -> tuple[bool, str]:
        """One connection from token to end; returns (subscribed, why it ended)."""
        config, session = self.config, _Session(self)
        adapter = self.adapter_factory(session)
        client = getattr(adapter, "name", type(adapter).__name__)
        subscribed = False
        try:
            async with asyncio.timeout(config.connect_timeout_s):
                token = await self.token_provider()
                self._state("connecting", client=client)
                await adapter.start(with_token(config.url, token))
            session.touch()
            self._state("connected", client=client)
            await self._subscribe(adapter)
            subscribed = True
            self.counts["subscribed"] += 1
            self._state("subscribed", client=client, accounts=list(config.account_ids))
            self._synced = await self._reconcile()
            reason = await session.ended(config.keepalive_s)
        except HubUnauthorized as exc:
            self.counts["unauthorized"] += 1
            reason = f"unauthorized: {exc}"
        except TimeoutError:
            reason = "timed out"
        except Exception as exc:  # noqa: BLE001 -- any failure: log, back off, new connection
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        finally:
            self._synced = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await adapter.stop()
        # A library's error text may quote the URL: never let the token reach a log line.
        reason = _TOKEN_IN_TEXT.sub(r"\1***", reason)
        self._state("closed", client=client, reason=reason)
        return subscribed, reason

    async def _reconcile(self) -> bool:
        """`on_subscribed` (events missed while away, from REST); False when it failed."""
        if self.on_subscribed is None:
            return True
        try:
            async with asyncio.timeout(self.config.invoke_timeout_s * 3):  # never stall
                await self.on_subscribed()
        except Exception as exc:  # noqa: BLE001 -- a failed reconcile must not end the hub
            events.hub_reconcile_failed(error=f"{type(exc).__name__}: {exc}")
            return False
        return True

    async def _subscribe(self, adapter: HubConnection) -> None:
        for target, arguments in subscriptions(self.config.account_ids):
            async with asyncio.timeout(self.config.invoke_timeout_s):
                await adapter.invoke(target, arguments)
            self.counts[f"invoked.{target}"] += 1

    def on_push(self, target: str, arguments: list[Any]) -> None:
        """One push: read once, logged once (its event, or why it was not read)."""
        push = parse_push(target, arguments)
        if isinstance(push, BadPush):
            self.on_bad_frame(push.reason, push.detail)
            return
        if isinstance(push, BadEvent):
            self._synced = False  # a push not folded: REST until the next reconcile
            self.counts["bad_event"] += 1
            events.hub_bad_event(target=push.target, reason=push.reason)
            return
        kind = type(push.event).__name__.removesuffix("Event").lower()  # account, order, ...
        self.counts[f"event.{kind}"] += 1
        _log_push(push.event, push.fields)
        try:
            self.deliver(push.event)
        except Exception:  # noqa: BLE001 -- a consumer bug must not end the listener
            self._synced = False
            self.counts["deliver_failed"] += 1
            events.hub_deliver_failed(kind=kind)

    def on_bad_frame(self, reason: str, detail: str) -> None:
        self._synced = False  # it may have been a push: REST until the next reconcile
        self.counts["bad_frame"] += 1
        self.counts[f"bad_frame.{reason}"] += 1
        events.hub_bad_frame(reason=reason, detail=detail)

    def on_foreign_thread(self, call: str) -> None:
        self.counts["foreign_thread"] += 1
        events.hub_foreign_thread(call=call)

    def _state(
        self,
        state: str,
        *,
        client: str | None = None,
        accounts: list[int] | None = None,
        attempt: int | None = None,
        delay_s: float | None = None,
        reason: str | None = None,
    ) -> None:
        """Keep, count and log the state (`hub_state`, whose fields these are)."""
        self.state = state
        self.counts[f"state.{state}"] += 1
        events.hub_state(
            state, client=client, accounts=accounts, attempt=attempt, delay_s=delay_s, reason=reason
        )


def _log_push(event: Event, fields: dict[str, Any]) -> None:
    """The push's one line, named by its kind."""
    if isinstance(event, AccountEvent):
        events.account_update(fields)
    elif isinstance(event, OrderEvent):
        events.order_update(fields)
    elif isinstance(event, PositionEvent):
        events.position_update(fields)
    else:
        events.trade_fill(fields)


class _Session:
    """The HubSink of one connection. Adapters call it on the loop thread; a call from any
    other thread is re-posted to the loop (never run there), then counted and logged."""

    def __init__(self, listener: UserHubListener) -> None:
        self._listener = listener
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._ended = asyncio.Event()
        self.last_frame = self._loop.time()
        self.reason: str | None = None

    def touch(self) -> None:
        self.last_frame = self._loop.time()

    def message(self, target: str, arguments: list[Any]) -> None:
        if self._foreign(self.message, target, arguments):
            return
        self.touch()
        self._listener.on_push(target, arguments)

    def alive(self) -> None:
        if not self._foreign(self.alive):
            self.touch()

    def bad_frame(self, reason: str, detail: str) -> None:
        if not self._foreign(self.bad_frame, reason, detail):
            self._listener.on_bad_frame(reason, detail)

    def closed(self, reason: str) -> None:
        if not self._foreign(self.closed, reason) and self.reason is None:
            self.reason = reason
            self._ended.set()

    async def ended(self, keepalive_s: float) -> str:
        """Wait until the connection is closed or silent for keepalive_s; say why."""
        while True:
            remaining = self.last_frame + keepalive_s - self._loop.time()
            if remaining <= 0:
                self._listener.counts["watchdog"] += 1
                return f"silent for {keepalive_s} s"
            try:
                async with asyncio.timeout(remaining):
                    await self._ended.wait()
            except TimeoutError:
                continue
            return self.reason or "closed"

    def _foreign(self, fn: Callable[..., None], *args: Any) -> bool:
        if threading.get_ident() == self._loop_thread:
            return False
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(self._listener.on_foreign_thread, fn.__name__)
            self._loop.call_soon_threadsafe(fn, *args)
        return True
