"""Live `tv_datafeed` rows: warm-up over REST, Realtime INSERTs, backfill after every
(re)subscribe, a gap check before the watermark may close a bucket, a staleness
watchdog, a watch on symbols that fall silent, and reconnects with capped, jittered
backoff — forever.

Events yielded (engine/ports.py; one consumer, in order): `RowReceived` (a live row
with its wall-clock arrival, or a row re-read over REST, `backfilled`: it never moves
the engine's clock, so an outage cannot make the watermark close a bucket whose minutes
are still on their way), `Tick` (time passes) and `Resumed` after a bulk of rows
(warm-up, backfill): the watermark's silence clock restarts there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters import events
from adapters.backoff import backoff_delay
from adapters.supabase.parsing import record_of
from adapters.supabase.realtime import (
    READY,
    BadFrame,
    BadFrameCounter,
    ChannelState,
    FeedEvent,
    Inserted,
    RealtimeFeed,
)
from adapters.supabase.rest import HistoryClient, row_key
from engine.calendar import in_session
from engine.model import Rejection
from engine.ports import Resumed, RowReceived, SourceEvent, Tick
from engine.silence import SilenceChange, SymbolSilence
from engine.timefmt import parse_iso


@dataclass(frozen=True, slots=True)
class SourceConfig:
    symbols: tuple[str, ...]
    warmup_s: float = 5 * 86_400  # history replayed at start (>= warm-up bars + margin)
    overlap_s: float = 120.0  # backfill re-reads this much before the last row seen
    grace_s: float = 90.0  # silence after which a REST gap check runs (= watermark grace)
    stale_after_s: float = 180.0  # in-session silence that means a dead connection
    ready_timeout_s: float = 5.0  # SUBSCRIBED without the server's system message: go on
    tick_s: float = 1.0
    backoff_initial_s: float = 1.0
    backoff_cap_s: float = 60.0
    symbol_silent_s: float = 600.0  # in session, while other symbols send: a warning
    # A row the gap check finds that was written this recently may still be on its way
    # over Realtime: it is applied, but it does not make the subscription look dead.
    in_flight_s: float = 5.0
    # A row dated more than this ahead of the wall clock is bogus (the pipeline rejects it
    # `future_timestamp`); it must not become the newest row the backfills read from.
    future_tolerance_s: float = 120.0


def _never_due(now: float) -> bool:
    return False


class SupabaseSource:
    name = "supabase"
    is_live_feed = True  # the table's inserts on the wall clock: orders may follow

    def __init__(
        self,
        config: SourceConfig,
        history: HistoryClient,
        feed_factory: Callable[[asyncio.Queue[FeedEvent]], RealtimeFeed],
        clock: Callable[[], float] = time.time,
        session: Callable[[float], bool] = in_session,
        watermark_due: Callable[[float], bool] = _never_due,
    ) -> None:
        self.config = config
        self.history_client = history
        self.feed_factory = feed_factory
        self.clock = clock
        self.session = session
        # Would a tick at this instant let the watermark close a bucket (the pipeline's
        # `watermark_due`)? Then the table is asked first (a gap check).
        self.watermark_due = watermark_due
        self.counts: Counter[str] = Counter()
        self.live = False  # subscribed and caught up: the watermark may advance
        self.last_ts: float | None = None  # newest receipt ts seen (REST or live)
        self.last_row_at: float | None = None  # wall clock of the newest live row
        self._warm_since: float | None = None  # the warm-up window, fixed at its first read
        self._warm_after: dict[str, tuple[str, int]] = {}  # per symbol: last row yielded
        self._warm_done: set[str] = set()
        self._silence = SymbolSilence(config.symbols, config.symbol_silent_s)

    async def warm_up(self) -> AsyncIterator[RowReceived]:
        """History for the warm-up: every symbol, the last `warmup_s` seconds. Called
        again after a failure, it resumes after the last row it yielded (same window)."""
        if self._warm_since is None:
            self._warm_since = self.clock() - self.config.warmup_s
        for symbol in self.config.symbols:
            if symbol in self._warm_done:
                continue
            after = self._warm_after.get(symbol)
            async for page in self.history_client.rows(symbol, self._warm_since, after=after):
                for row in page:
                    self._seen(row)
                    self._warm_after[symbol] = row_key(row)
                    yield RowReceived(row)
            self._warm_done.add(symbol)

    async def events(self) -> AsyncIterator[SourceEvent]:
        yield Resumed(self.clock())  # the warm-up rows were received just now
        attempt = 0
        while True:
            queue: asyncio.Queue[FeedEvent] = asyncio.Queue()
            feed = self.feed_factory(queue)
            handler = BadFrameCounter(queue)
            logging.getLogger("realtime").addHandler(handler)
            try:
                await feed.open()
                attempt = 0
                async for event in self._session(feed, queue):
                    yield event
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:  # noqa: BLE001 -- any failure: log, back off, rebuild
                self._state("error", error=f"{type(exc).__name__}: {exc}")
            finally:
                self.live = False
                logging.getLogger("realtime").removeHandler(handler)
                await feed.close()
            attempt += 1
            self.counts["reconnects"] += 1
            delay = backoff_delay(attempt, self.config.backoff_initial_s, self.config.backoff_cap_s)
            self._state("reconnecting", attempt=attempt, delay_s=delay)
            await asyncio.sleep(delay)

    async def _session(
        self, feed: RealtimeFeed, queue: asyncio.Queue[FeedEvent]
    ) -> AsyncIterator[SourceEvent]:
        opened = last_gap_check = self.clock()
        subscribed_at: float | None = None
        while True:
            try:
                item: FeedEvent | None = await asyncio.wait_for(queue.get(), self.config.tick_s)
            except TimeoutError:
                item = None  # a tick: a second without anything from the feed
            now = self.clock()
            stale: str | None = None
            state = item if isinstance(item, ChannelState) else None
            if self.live and state is None and self._gap_check_due(now, opened, last_gap_check):
                # Before a row or tick can let the watermark close a bucket, ask the table
                # itself. Rows that never came live mean a dead subscription.
                last_gap_check, newest_before = now, self.last_ts
                missed = 0
                async for event in self._backfill("gap_check"):
                    missed += self._missed_live(event.row, newest_before, now)
                    yield event
                if missed:
                    stale = "rows in the table never came live"
            if state is not None:
                self._state(state.name, error=state.error)
                ready = state.name == READY or (
                    state.name == "SUBSCRIBED" and feed.ready_without_system
                )
                if ready:
                    async for event in self._backfill("subscribed"):
                        yield event
                    self.live, last_gap_check = True, self.clock()
                    yield Resumed(last_gap_check)
                elif state.name == "SUBSCRIBED":
                    subscribed_at = now
                else:  # CHANNEL_ERROR, TIMED_OUT, CLOSED: rebuild with our own backoff
                    return
            elif item is None and subscribed_at is not None and not self.live:
                if now - subscribed_at > self.config.ready_timeout_s:
                    self._state("ready_timeout", waited_s=now - subscribed_at)
                    async for event in self._backfill("subscribed"):
                        yield event
                    self.live, last_gap_check = True, self.clock()
                    yield Resumed(last_gap_check)
            elif isinstance(item, Inserted):
                row = self._parse(item.payload)
                if row is not None:
                    self.last_row_at = item.arrival
                    self._report(self._silence.row(str(row.get("symbol", "")).upper(), now))
                    yield RowReceived(row, arrival=item.arrival)
            elif isinstance(item, BadFrame):
                self.counts[f"bad_frame.{item.reason}"] += 1
                events.source_bad_frame(reason=item.reason, detail=item.detail)
            quiet = now - max(self.last_row_at or opened, opened)  # this session's silence
            if stale is None and self.live and quiet >= self.config.stale_after_s:
                stale = (
                    f"no row inside the session for {round(quiet)} s" if self.session(now) else None
                )
            if stale is not None:
                self._state("stale", reason=stale)
                return
            if feed.dead():
                self._state("dead", reason="connection lost")
                return
            if self.live:  # every event, not only ticks: a busy feed may leave no idle tick
                for change in self._silence.check(now, self.session(now)):
                    self._report(change)
            if item is None and self.live:
                yield Tick(now)

    def _gap_check_due(self, now: float, opened: float, last_check: float) -> bool:
        """Ask the table after `grace_s` without any row (a liveness probe), and right
        before the watermark may close a bucket (at most once a tick)."""
        silent_since = max(self.last_row_at or opened, last_check)
        if now - silent_since >= self.config.grace_s:
            return True
        return now - last_check >= self.config.tick_s and self.watermark_due(now)

    def _report(self, change: SilenceChange | None) -> None:
        if change is None:
            return
        if change.silent:
            self.counts["symbol_silent"] += 1
            events.symbol_silent(symbol=change.symbol, silent_s=change.silent_s)
        else:
            events.symbol_resumed(symbol=change.symbol, silent_s=change.silent_s)

    async def _backfill(self, why: str) -> AsyncIterator[RowReceived]:
        since = (
            self.last_ts - self.config.overlap_s
            if self.last_ts is not None
            else self.clock() - self.config.warmup_s
        )
        rows = 0
        for symbol in self.config.symbols:
            async for page in self.history_client.rows(symbol, since):
                for row in page:
                    rows += 1
                    self._seen(row)
                    yield RowReceived(row, backfilled=True)
        self.counts[f"backfill_rows.{why}"] += rows
        events.backfill_done(why=why, since=since, rows=rows)

    def _parse(self, payload: Any) -> dict[str, Any] | None:
        record = record_of(payload)
        if isinstance(record, Rejection):
            self.counts[f"bad_event.{record.reason}"] += 1
            events.source_bad_event(record)
            return None
        self._seen(record)
        return record

    def _missed_live(
        self, row: Mapping[str, object], newest_before: float | None, now: float
    ) -> bool:
        """Is `row`, found by a gap check, one that should have come live by `now`: newer
        than any row seen before the check, and not written in the last `in_flight_s`?"""
        try:
            ts = parse_iso(str(row.get("ts")))
        except ValueError:
            return False
        newer = newest_before is None or ts > newest_before
        return newer and ts <= now - self.config.in_flight_s

    def _seen(self, row: dict[str, Any]) -> None:
        ts = row.get("ts")
        if isinstance(ts, str):
            try:
                value = parse_iso(ts)
            except ValueError:
                return
            if value > self.clock() + self.config.future_tolerance_s:
                return
            if self.last_ts is None or value > self.last_ts:
                self.last_ts = value

    def _state(
        self,
        state: str,
        *,
        error: str | None = None,
        reason: str | None = None,
        attempt: int | None = None,
        delay_s: float | None = None,
        waited_s: float | None = None,
    ) -> None:
        """Count the state and log it (`source_state`, whose fields these are)."""
        self.counts[f"state.{state}"] += 1
        events.source_state(
            source=self.name,
            state=state,
            error=error,
            reason=reason,
            attempt=attempt,
            delay_s=delay_s,
            waited_s=waited_s,
        )
