"""Prometheus metrics read at scrape time from the worker's own counters.

Nothing in the hot path changes: `Pipeline.counts`, `Trader.counts` and the source's
`counts` are plain `Counter`s the worker already keeps; `WorkerCollector` turns them
into metric families when `/metrics` is scraped. The registry is our own, never the
process-global one, so tests and several workers in one process do not collide.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters import events
from adapters.tasks import cancel_and_wait

PREFIX = "worker"
_NOT_APPLIED = ("duplicate", "conflict", "late")


class Counted(Protocol):
    """Anything that keeps a `counts` Counter (Pipeline, Trader, SupabaseSource)."""

    @property
    def counts(self) -> Mapping[str, int]: ...


class LoopLagMonitor:
    """Measures how late `asyncio.sleep(interval_s)` wakes up: the time the event loop
    was busy elsewhere (a blocking call, a long synchronous burst). Seconds."""

    def __init__(self, interval_s: float = 0.5, warn_s: float | None = 1.0) -> None:
        self.interval_s = interval_s
        self.warn_s = warn_s  # log `event_loop_lag` when one wake-up is this late
        self.last_s = 0.0
        self.max_s = 0.0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.interval_s)
            self.record(loop.time() - started - self.interval_s)

    def record(self, lag_s: float) -> None:
        lag_s = max(0.0, lag_s)
        self.last_s, self.max_s, self.samples = lag_s, max(self.max_s, lag_s), self.samples + 1
        if self.warn_s is not None and lag_s >= self.warn_s:
            events.event_loop_lag(lag_s=lag_s)


class WorkerCollector(Collector):
    """Reads the live counters at scrape time. Every source object is optional."""

    def __init__(
        self,
        pipeline: Counted | None = None,
        trader: Counted | None = None,
        source: Counted | None = None,
        orders: Mapping[str, int] | None = None,
        monitor: LoopLagMonitor | None = None,
        clock: Callable[[], float] = time.time,
        notifier: Counted | None = None,
        paused: Callable[[], bool] | None = None,
    ) -> None:
        self.notifier = notifier  # counts: sent, failed, retried, dropped, abandoned, errors
        self.paused = paused
        self.pipeline = pipeline
        self.trader = trader
        self.source = source
        self.orders = orders  # keys "order_placed" / "order_failed" / "order_skipped"
        self.monitor = monitor
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        if self.pipeline is not None:
            yield from _pipeline_metrics(dict(self.pipeline.counts))
        if self.trader is not None:
            yield _decisions(dict(self.trader.counts))
        if self.orders is not None:
            yield _by_label(
                "orders",
                "Order outcomes reported by the executors.",
                "outcome",
                {_strip(key, "order_"): value for key, value in dict(self.orders).items()},
            )
        if self.source is not None:
            yield from _source_metrics(self.source)
        age = self.last_row_age()
        if age is not None:
            yield _gauge("last_row_age_seconds", "Seconds since the newest row arrived.", age)
        if self.notifier is not None:
            yield _by_label(
                "notifications",
                "Notifications by outcome: sent, failed, retried, dropped (queue full), ...",
                "outcome",
                dict.fromkeys(("sent", "failed", "retried", "dropped"), 0)
                | dict(self.notifier.counts),
            )
        if self.paused is not None:
            yield _gauge("paused", "1 while the pause switch is on.", float(self.paused()))
        if self.monitor is not None:
            m = self.monitor
            yield _gauge("event_loop_lag_seconds", "Latest event-loop wake-up delay.", m.last_s)
            yield _gauge("event_loop_lag_max_seconds", "Largest event-loop delay seen.", m.max_s)

    def last_row_age(self) -> float | None:
        """Seconds since the newest live row: the source's wall clock, or without a source
        the pipeline's arrival. The sample feed has neither in wall-clock time: no value."""
        if self.source is not None:
            last = _attr_float(self.source, "last_row_at")
        else:
            last = _attr_float(self.pipeline, "last_row_arrival")
        return None if last is None else max(0.0, self.clock() - last)


def build_registry(
    pipeline: Counted | None = None,
    trader: Counted | None = None,
    source: Counted | None = None,
    orders: Mapping[str, int] | None = None,
    monitor: LoopLagMonitor | None = None,
    clock: Callable[[], float] = time.time,
    *,
    notifier: Counted | None = None,
    paused: Callable[[], bool] | None = None,
) -> CollectorRegistry:
    """A fresh registry holding only the worker's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        WorkerCollector(pipeline, trader, source, orders, monitor, clock, notifier, paused)
    )
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition format (0.0.4) of `registry`."""
    return generate_latest(registry)


def _pipeline_metrics(counts: dict[str, int]) -> Iterator[Metric]:
    yield _counter("rows", "Rows received (every row, good or bad).", counts.get("rows", 0))
    yield _counter("rows_accepted", "Rows applied to the engine.", counts.get("accepted", 0))
    yield _counter(
        "rows_ambiguous", "Rows whose receipt time was ambiguous.", counts.get("ambiguous", 0)
    )
    yield _by_label(
        "rows_rejected", "Rows rejected as bad input.", "reason", _with_prefix(counts, "rejected.")
    )
    yield _by_label(
        "rows_ignored",
        "Rows ignored on purpose (other symbol, timeframe).",
        "reason",
        _with_prefix(counts, "ignored."),
    )
    yield _by_label(
        "rows_not_applied",
        "Valid rows not applied: duplicate, conflict, late.",
        "outcome",
        {k: counts.get(k, 0) for k in _NOT_APPLIED},
    )
    yield _by_label(
        "bars_closed", "Bars closed by timeframe.", "timeframe", _with_prefix(counts, "bars.")
    )


def _decisions(counts: dict[str, int]) -> Metric:
    family = CounterMetricFamily(
        f"{PREFIX}_decisions", "Decisions by action and reason code.", labels=["action", "reason"]
    )
    for key, value in sorted(counts.items()):
        action, _, reason = key.partition(".")
        family.add_metric([action, reason], value)
    return family


def _source_metrics(source: Counted) -> Iterator[Metric]:
    counts = dict(getattr(source, "counts", {}))
    yield _counter("source_reconnects", "Source reconnects.", counts.get("reconnects", 0))
    yield _by_label(
        "source_states", "Source state changes by state.", "state", _with_prefix(counts, "state.")
    )
    yield _by_label(
        "source_backfill_rows",
        "Rows read by REST backfill, by trigger.",
        "why",
        _with_prefix(counts, "backfill_rows."),
    )
    yield _by_label(
        "source_bad_frames",
        "Malformed realtime frames.",
        "reason",
        _with_prefix(counts, "bad_frame."),
    )
    yield _by_label(
        "source_bad_events",
        "Realtime events that were not a usable row.",
        "reason",
        _with_prefix(counts, "bad_event."),
    )
    live = getattr(source, "live", None)
    if isinstance(live, bool):
        yield _gauge("source_live", "1 when the source is subscribed and caught up.", live)


def _counter(name: str, doc: str, value: float) -> Metric:
    return CounterMetricFamily(f"{PREFIX}_{name}", doc, value=value)


def _gauge(name: str, doc: str, value: float) -> Metric:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, value=float(value))


def _by_label(name: str, doc: str, label: str, values: Mapping[str, int]) -> Metric:
    family = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def _with_prefix(counts: Mapping[str, int], prefix: str) -> dict[str, int]:
    return {key[len(prefix) :]: value for key, value in counts.items() if key.startswith(prefix)}


def _strip(key: str, prefix: str) -> str:
    return key[len(prefix) :] if key.startswith(prefix) else key


def _attr_float(obj: Any, name: str) -> float | None:
    value = getattr(obj, name, None)
    if isinstance(value, int | float) and value > float("-inf"):
        return float(value)
    return None
