"""Every port the worker depends on, once: the events a source yields and the roles
adapters play (`typing.Protocol`s, satisfied structurally). Times are epoch seconds UTC.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from engine.execution import PlaceEntry
from engine.model import ActionPlan, Bar1m, ClosedBar, MarketState, PositionContext

# -- what a bar source yields ------------------------------------------------------------


class RowReceived(NamedTuple):
    """A raw `tv_datafeed` row (a NamedTuple, as every per-row value: see engine/model.py).

    `arrival`: the wall clock when a live row came; None when its own receipt `ts` is
    its time (a file, the warm-up history). `backfilled`: re-read from the table while
    live (after a reconnect, in a gap check) — it never moves the engine's clock, so an
    outage cannot make the watermark close a bucket whose minutes are on their way.
    `line`: where a row read from a file starts in it (the header is line 1)."""

    row: Mapping[str, object]
    arrival: float | None = None
    backfilled: bool = False
    line: int | None = None


@dataclass(frozen=True, slots=True)
class RowUnreadable:
    """A line of a file that is no row: the wrong number of cells, a cell over the csv
    module's size limit. `reason` is its rejection code; `cells` what could be read."""

    line: int
    reason: str
    detail: str
    cells: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes without a row (`now`, the wall clock): the watermark may close."""

    now: float


@dataclass(frozen=True, slots=True)
class Resumed:
    """Rows were just received in bulk (warm-up, backfill): the watermark's silence
    clock restarts at `now`."""

    now: float


SourceEvent = RowReceived | RowUnreadable | Tick | Resumed


class BarSource(Protocol):
    """Rows of `tv_datafeed`: the warm-up history first, then events in order."""

    name: str
    is_live_feed: bool  # the table's live inserts on the wall clock: the only source orders follow

    @property
    def counts(self) -> Mapping[str, int]:
        """What it saw besides rows (reconnects, bad frames, ...)."""
        ...

    def warm_up(self) -> AsyncIterator[RowReceived | RowUnreadable]: ...

    def events(self) -> AsyncIterator[SourceEvent]: ...


# -- roles of the decision stage ---------------------------------------------------------


class Decider(Protocol):
    """Turns a market snapshot and an account's context into a plan. Must be pure."""

    def decide(self, state: MarketState | None, context: PositionContext | None) -> ActionPlan: ...


class ContextProvider(Protocol):
    """Position and risk context of one account; raises when it cannot be obtained (the
    trader then holds `no_position_context`). One that reads over a network bounds the
    read with its own timeout: the trader awaits it as it is."""

    async def context(self, account: str, symbol: str) -> PositionContext | None: ...


class ContractSource(Protocol):
    """TradingView root (MES) -> the broker's contract id, known in advance: `current`
    makes no request (a network source resolves at start and once per trading day)."""

    def current(self, symbol: str) -> str: ...


class Executor(Protocol):
    """Carries out an entry, or logs why not. Never raises for an order's outcome."""

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None: ...


class Recorder(Protocol):
    """Where closed bars and decisions are written (bars.jsonl, decisions.jsonl, ...)."""

    def bar(self, bar: ClosedBar) -> None: ...

    def decision(self, state: MarketState, plan: ActionPlan) -> None: ...

    def close(self) -> None: ...


class MinuteListener(Protocol):
    """Sees every accepted 1-minute bar in stream order (the paper broker's market)."""

    def on_minute(self, bar: Bar1m) -> None: ...


class StopSignal(Protocol):
    """Set when the worker stops (an `asyncio.Event`)."""

    def is_set(self) -> bool: ...

    async def wait(self) -> object: ...


class Lease(Protocol):
    """One active trader: only the holder of the lease sends orders."""

    @property
    def is_leader(self) -> bool: ...

    async def run(self, stop: StopSignal) -> None:
        """Hold or wait for the lease until `stop` is set."""
        ...


# -- what the broker side reports, and where results go ----------------------------------


class UserEvents(Protocol):
    """The broker's account, order, position and trade events, delivered as engine values
    (engine/account_state.py) to the callback it was built with; it (re)connects and
    re-subscribes on its own until stopped."""

    @property
    def in_sync(self) -> bool:
        """The state folded from its events is current: connected, caught up after the
        (re)connect, nothing left unread since."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ResultsSink(Protocol):
    """Where closed-trade results (and recorded decisions) go, durably: `submit` returns
    at once (True for a new `key`, False for one already there); delivery is its job."""

    def submit(self, kind: str, key: str, row: Mapping[str, object]) -> bool: ...
