"""The live loop: warm up from history, then stream rows, decide on every close."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog

from adapters.files.timefmt import iso
from worker.app import App


async def run(app: App) -> int:
    log = structlog.get_logger("worker")
    settings = app.settings
    log.info(
        "worker_started", source=app.source.name, sample_feed=app.on_sample_feed,
        symbols=list(settings.symbol_list), accounts=list(app.trader.accounts), broker=app.broker,
        trading_enabled=settings.trading_enabled, dry_run=not settings.trading_enabled,
        message=(
            "running on the bundled SAMPLE FEED (no SUPABASE_URL set); dry run, no orders"
            if app.on_sample_feed else "running on live data"
        ),
    )  # fmt: skip
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    for hook in app.startup:  # broker login, then unresolved order intents
        await hook()
    await _warm_up(app, log)
    streaming = asyncio.create_task(_stream(app))
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({streaming, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if stopping in done:
        streaming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await streaming
        log.info("worker_stopping", reason="signal")
    else:
        stopping.cancel()
        streaming.result()  # a crash in the stream surfaces here
        for state in app.pipeline.flush():
            await app.trader.on_state(state)
        log.info("source_state", source=app.source.name, state="ended")
    app.recorder.close()
    for hook in reversed(app.shutdown):
        await hook()
    log.info(
        "worker_stopped", counts=dict(app.pipeline.counts), decisions=dict(app.trader.counts),
        source=dict(getattr(app.source, "counts", {})),
    )  # fmt: skip
    return 0


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


async def _stream(app: App) -> None:
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
            await on_state(state)


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
