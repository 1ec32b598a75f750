"""The live loop: start up, warm up from history, then stream rows, decide on every close.

Start: after `worker_started`, signal handlers and /healthz; then each start-up phase
(broker login, order intents, ..., warm-up) runs under one retry policy
(worker/startup.py): a transient failure is retried forever with backoff while /healthz
answers 503 with the reason; a permanent one exits 2 with one line naming the setting.

Stop: SIGTERM/SIGINT at any moment ends the worker with exit 0 within 2 s. Streaming, an
in-flight decision (and its order call) may finish within `DRAIN_S`; an unfinished one
stays a durable `sending` intent, resolved by its tag at the next start. Then the
shutdown hooks run in reverse (outbox flush: durable, the rest goes at the next start;
clients closed) and the lease is released, all within `SHUTDOWN_S`. A crash in the
stream is logged and the stream restarts with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from adapters import events
from adapters.backoff import backoff_delay
from adapters.tasks import cancel_and_wait
from engine.calendar import CALENDARS
from engine.model import MarketState
from engine.timefmt import iso
from worker.app import App, run_mode
from worker.failures import describe
from worker.health import HealthFn, HealthServer, Webhook, health_check
from worker.metrics import LoopLagMonitor, build_registry, render
from worker.outputs import run_parameters, write_results, write_run
from worker.startup import StartupStatus, start_up
from worker.watch import FeedWatch, watch

# Signal to exit within 2 s: the in-flight decision gets DRAIN_S, the shutdown hooks
# and the lease SHUTDOWN_S, and the interpreter's own exit the rest.
DRAIN_S = 0.5
SHUTDOWN_S = 0.5


@dataclass
class StreamStatus:
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # not inside on_state
    stopping: bool = False
    task: asyncio.Task[None] | None = None

    def running(self) -> bool:
        return self.task is None or not self.task.done()

    def __post_init__(self) -> None:
        self.idle.set()

    @property
    def busy(self) -> bool:
        """Inside Trader.on_state: an order call may be in flight."""
        return not self.idle.is_set()


async def run(app: App) -> int:
    """0 after a stop signal or the end of a finite source. Raises StartupRefused (exit
    2) on a permanent start-up failure; anything unexpected goes up (exit 1)."""
    if app.notifier is not None:
        app.notifier.start()  # stopped by the caller, after the last event (worker/__main__.py)
    events.worker_started(
        symbols=app.settings.symbol_list,
        flat_window=app.settings.flat_window_text,
        mode=run_mode(app).fields(),
    )
    started = time.monotonic()
    out_dir = app.settings.out_dir
    if out_dir is not None:  # the run's parameters, for `python -m worker report`
        out_dir.mkdir(parents=True, exist_ok=True)
        write_run(out_dir, run_parameters(app.settings, **_described(app)))
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    lease_stop = asyncio.Event()
    lease_task = asyncio.create_task(app.lease.run(lease_stop))
    monitor = LoopLagMonitor()
    monitor.start()
    starting, status = StartupStatus(), StreamStatus()
    health, watching = await _start_health(app, status, starting, monitor)
    try:
        if await _unless_stopped(stop, start_up(app, starting)):
            await _serve(app, status, starting, stop)
        else:
            events.worker_stopping(reason="signal", phase=starting.phase, order_in_flight=False)
    finally:
        await cancel_and_wait(watching)
        await _shut_down(app, (lease_stop, lease_task), health, monitor)
    if out_dir is not None:  # trades.jsonl and summary.json, as a replay ends
        wall_s = time.monotonic() - started
        write_results(out_dir, app.pipeline, app.trader, app.paper, wall_s)
    events.worker_stopped(
        counts=app.pipeline.counts,
        decisions=app.trader.counts,
        source=getattr(app.source, "counts", {}),
        paper=app.paper.totals() if app.paper is not None else None,
    )
    return 0


def _described(app: App) -> dict[str, Any]:
    settings = app.settings
    if app.on_sample_feed:
        source = f"sample feed {settings.sample_feed}"
    elif app.source.is_live_feed:
        source = f"supabase {settings.supabase_table} (live)"
    else:
        source = app.source.name
    return {"symbols": settings.symbol_list, "source": source, "broker": app.broker}


async def _unless_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, None]) -> bool:
    """Run `work` to its end (True), or cancel it when `stop` is set first (False)."""
    task = asyncio.create_task(work)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not task.done():
        await cancel_and_wait(task)
        return False
    task.result()  # a start-up failure goes up from here
    return True


async def _serve(
    app: App, status: StreamStatus, starting: StartupStatus, stop: asyncio.Event
) -> None:
    """Stream until a stop signal (drain the in-flight decision) or the source ends."""
    streaming = asyncio.create_task(_supervised(app, status, starting))
    status.task = streaming
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({streaming, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if stopping in done:
        events.worker_stopping(reason="signal", phase=starting.phase, order_in_flight=status.busy)
        await _drain(streaming, status)
        return
    stopping.cancel()
    streaming.result()
    for state in app.pipeline.flush():
        await app.trader.on_state(state)
    events.source_state(source=app.source.name, state="ended")


async def _shut_down(
    app: App,
    lease: tuple[asyncio.Event, asyncio.Task[None]],
    health: HealthServer | None,
    monitor: LoopLagMonitor,
) -> None:
    """Shutdown hooks in reverse, then the lease: all within SHUTDOWN_S. What is cut
    short is safe: intents and the outbox are durable and resumed at the next start."""
    deadline = asyncio.get_running_loop().time() + SHUTDOWN_S
    app.recorder.close()
    for hook in reversed(app.shutdown):
        await _bounded(getattr(hook, "__qualname__", "hook"), hook(), deadline)
    lease_stop, lease_task = lease
    lease_stop.set()
    await _bounded("lease", lease_task, deadline)
    if health is not None:
        await health.stop()
    await monitor.stop()


async def _bounded(step: str, work: Awaitable[object], deadline: float) -> None:
    try:
        async with asyncio.timeout_at(deadline):
            await work
    except TimeoutError:
        events.shutdown_cut(step=step, reason="out of time")
    except Exception as exc:  # noqa: BLE001 -- a failing hook must not stop the others
        events.shutdown_cut(step=step, reason=describe(exc))


async def _start_health(
    app: App, status: StreamStatus, starting: StartupStatus, monitor: LoopLagMonitor
) -> tuple[HealthServer | None, asyncio.Task[None]]:
    """/healthz, /metrics and the optional webhook and /control, before any start-up
    phase (503 with the phase until started); and the watch over the feed's health and
    the trading day (worker/watch.py). A port in use is logged, not fatal: trading must
    not depend on the health endpoint."""
    settings, control = app.settings, app.control
    registry = build_registry(
        app.pipeline,
        app.trader,
        app.source,
        app.event_counts,
        monitor,
        notifier=app.notifier,
        paused=(lambda: control.paused) if control is not None else None,
    )
    secret = settings.webhook_secret
    webhook = (
        Webhook(
            secret.get_secret_value(),
            lambda payload: _on_webhook(app, starting, payload),
            control=control.handle if control is not None else None,
        )
        if secret is not None and secret.get_secret_value()
        else None
    )
    running = health_check(
        app.source,
        stale_after_s=settings.stale_after_seconds,
        running=status.running,
        live_grace_s=settings.reconnect_cap_seconds + 30.0,
        session=CALENDARS[settings.session_calendar],
    )
    feed = FeedWatch(app.source.name, running)
    watching = asyncio.create_task(
        watch(feed, lambda: starting.reason is None, app.notifier), name="watch"
    )
    server = HealthServer(
        settings.health_host,
        settings.port if settings.port is not None else settings.health_port,
        _with_pause(app, _until_started(starting, running)),
        lambda: render(registry),
        webhook=webhook,
    )
    try:
        await server.start()
    except OSError as exc:
        events.health_unavailable(error=f"{type(exc).__name__}: {exc}")
        return None, watching
    events.health_listening(
        host=settings.health_host, port=server.port, webhook=webhook is not None
    )
    return server, watching


def _with_pause(app: App, check: HealthFn) -> HealthFn:
    """The health answer with the pause switch (`paused`, and since when and by whom)."""

    def checked() -> tuple[bool, dict[str, Any]]:
        ok, details = check()
        if app.control is not None:
            details = {**details, **app.control.status()}
        return ok, details

    return checked


def _until_started(starting: StartupStatus, running: HealthFn) -> HealthFn:
    """Unhealthy with the start-up phase (and its last error) until started."""

    def check() -> tuple[bool, dict[str, Any]]:
        reason = starting.reason
        if reason is None:
            return running()
        return False, {"reason": reason, "phase": starting.phase}

    return check


async def _on_webhook(app: App, starting: StartupStatus, payload: dict[str, Any]) -> dict[str, Any]:
    """The old bot's manual trigger: decide now on the current market state, through the
    same gates and execution path (the decision instant is the current minute). Not
    before the worker has started: intents are reconciled before any decision."""
    at = int(time.time()) // 60 * 60
    if starting.reason is not None:
        return {"at": iso(at), "decisions": {}, "skipped": starting.reason}
    answer: dict[str, Any] = {}
    for symbol, engine in app.pipeline.engines.items():
        state = MarketState(symbol, at, tuple(engine.frames), ())
        plans = await app.trader.on_state(state)
        answer[symbol] = [
            {"account": account, "action": plan.action.value, "reason_code": plan.reason_code}
            for account, plan in zip(app.trader.accounts, plans, strict=True)
        ]
    return {"at": iso(at), "decisions": answer}


async def _drain(streaming: asyncio.Task[None], status: StreamStatus) -> None:
    """Stop intake; give an in-flight decision (and its order call) time to finish."""
    status.stopping = True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(status.idle.wait(), DRAIN_S)
    await cancel_and_wait(streaming)


async def _supervised(app: App, status: StreamStatus, starting: StartupStatus) -> None:
    """Run the stream; restart it with the reconnect backoff when it crashes."""
    settings = app.settings
    crashes = 0
    while not status.stopping:
        try:
            await _stream(app, status, starting)
            return  # a finite source ran out
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 -- log, back off, restart the stream
            crashes += 1
            delay = backoff_delay(
                crashes, settings.reconnect_initial_seconds, settings.reconnect_cap_seconds
            )
            events.task_crashed(task="stream", error=describe(exc), restart_in_s=delay)
            await asyncio.sleep(delay)


async def _stream(app: App, status: StreamStatus, starting: StartupStatus) -> None:
    async for event in app.source.events():
        if starting.phase is not None and getattr(app.source, "live", True):
            starting.phase = None  # subscribed and caught up: started
        for state in app.pipeline.handle(event):
            status.idle.clear()
            try:
                await app.trader.on_state(state)
            finally:
                status.idle.set()
        if status.stopping:
            return


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
