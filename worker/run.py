"""The live loop: warm up from history, then stream rows, decide on every close.

Lifecycle: SIGTERM/SIGINT stop intake; a decision whose order call is in flight is
allowed to finish (bounded by `DRAIN_S`; an unfinished one stays a durable `sending`
intent, resolved by its tag at the next start); then shutdown hooks run in reverse
(outbox flush, clients closed) and the worker exits 0. A crash in the stream is logged
and the stream restarts with backoff; configuration errors stop the worker at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from adapters.files.timefmt import iso
from engine.calendar import CALENDARS
from engine.model import MarketState
from worker.app import App, run_mode
from worker.health import HealthServer, Webhook, health_check
from worker.metrics import LoopLagMonitor, build_registry, render
from worker.native import build_name

DRAIN_S = 7.0  # the in-flight decision may finish within this after a stop signal
RESTART_CAP_S = 30.0


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
    log = structlog.get_logger("worker")
    log.info(
        "worker_started", symbols=list(app.settings.symbol_list), engine_build=build_name(),
        **run_mode(app).fields(),
    )  # fmt: skip
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    lease_stop = asyncio.Event()
    lease_task = asyncio.create_task(app.lease.run(lease_stop))
    monitor = LoopLagMonitor()
    monitor.start()
    status = StreamStatus()
    health = await _start_health(app, status, monitor, log)
    for hook in app.startup:  # broker login, then unresolved order intents
        await hook()
    await _warm_up(app, log)
    streaming = asyncio.create_task(_supervised(app, status))
    status.task = streaming
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({streaming, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if stopping in done:
        log.info("worker_stopping", reason="signal", order_in_flight=status.busy)
        await _drain(streaming, status)
    else:
        stopping.cancel()
        streaming.result()
        for state in app.pipeline.flush():
            await app.trader.on_state(state)
        log.info("source_state", source=app.source.name, state="ended")
    app.recorder.close()
    for hook in reversed(app.shutdown):
        await hook()
    lease_stop.set()
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await asyncio.wait_for(lease_task, 3)
    if health is not None:
        await health.stop()
    await monitor.stop()
    log.info(
        "worker_stopped", counts=dict(app.pipeline.counts), decisions=dict(app.trader.counts),
        source=dict(getattr(app.source, "counts", {})),
        **({"paper": app.paper.totals()} if app.paper is not None else {}),
    )  # fmt: skip
    return 0


async def _start_health(
    app: App, status: StreamStatus, monitor: LoopLagMonitor, log: Any
) -> HealthServer | None:
    """/healthz, /metrics and the optional webhook. A port in use is logged, not fatal:
    trading must not depend on the health endpoint."""
    settings = app.settings
    registry = build_registry(app.pipeline, app.trader, app.source, app.event_counts, monitor)
    secret = settings.webhook_secret
    webhook = (
        Webhook(secret.get_secret_value(), lambda payload: _on_webhook(app, payload))
        if secret is not None and secret.get_secret_value()
        else None
    )
    server = HealthServer(
        settings.health_host,
        settings.port if settings.port is not None else settings.health_port,
        health_check(
            app.source, stale_after_s=settings.stale_after_seconds, running=status.running,
            live_grace_s=settings.reconnect_cap_seconds + 30.0,
            session=CALENDARS[settings.session_calendar],
        ),
        lambda: render(registry),
        webhook=webhook,
    )  # fmt: skip
    try:
        await server.start()
    except OSError as exc:
        log.error("health_unavailable", error=f"{type(exc).__name__}: {exc}")
        return None
    log.info("health_listening", host=settings.health_host, port=server.port,
             webhook=webhook is not None)  # fmt: skip
    return server


async def _on_webhook(app: App, payload: dict[str, Any]) -> dict[str, Any]:
    """The old bot's manual trigger: decide now on the current market state, through the
    same gates and execution path (the decision instant is the current minute)."""
    at = int(time.time()) // 60 * 60
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
    streaming.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await streaming


async def _warm_up(app: App, log: structlog.typing.FilteringBoundLogger) -> None:
    """History goes through the engine so state equals a worker that never stopped;
    its decisions are not acted on (they are in the past)."""
    rows = 0
    async for row in app.source.warm_up_rows():
        app.pipeline.ingest(row, None)
        rows += 1
    frames = {
        symbol: {f"{b.timeframe}m": b.regime for b in engine.frames if b is not None}
        for symbol, engine in app.pipeline.engines.items()
    }
    last = app.pipeline.last_row_arrival
    log.info("warmup_done", rows=rows, regimes=frames, last_row=iso(last) if last else None)


async def _supervised(app: App, status: StreamStatus) -> None:
    """Run the stream; restart it with capped, jittered backoff when it crashes."""
    log = structlog.get_logger("worker")
    crashes = 0
    while not status.stopping:
        try:
            await _stream(app, status)
            return  # a finite source ran out
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # log, back off, restart the stream
            crashes += 1
            delay = min(RESTART_CAP_S, 0.5 * 2**crashes) * random.uniform(0.5, 1.0)  # noqa: S311
            log.exception("task_crashed", task="stream", error=f"{type(exc).__name__}: {exc}",
                          restart_in_s=round(delay, 2))  # fmt: skip
            await asyncio.sleep(delay)


async def _stream(app: App, status: StreamStatus) -> None:
    pipeline, on_state = app.pipeline, app.trader.on_state
    async for kind, payload, arrival in app.source.events():
        if kind == "row":
            states = pipeline.ingest(payload, arrival)
        elif kind == "tick":
            states = pipeline.tick(arrival)
        else:  # "resume": a bulk of rows was just received (warm-up, backfill)
            pipeline.resume(arrival)
            continue
        for state in states:
            status.idle.clear()
            try:
                await on_state(state)
            finally:
                status.idle.set()
        if status.stopping:
            return


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
