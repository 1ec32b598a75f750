"""One ProjectX account's live state, folded from user-hub events. Pure.

`reduce(state, event) -> (state, effects)` applies one parsed hub event
(`GatewayUserAccount/Order/Position/Trade` as `AccountEvent`, `OrderEvent`,
`PositionEvent`, `TradeEvent`); `reconcile(state, positions, fills, ...)` applies REST
snapshots (`Position/searchOpen`, `Trade/search`, `Order/search`) after every
(re)connect, since the hub does not replay what it sent while we were away.
Definitions (ours):
- fills are keyed by trade id: the same trade seen twice (hub and REST, or a resend)
  counts once; a later copy replaces the earlier one, except that voided is sticky (a
  snapshot taken before the void cannot revive a voided fill);
- positions are the broker's (`GatewayUserPosition`, size 0 = closed); a snapshot
  replaces them all. Round trips come from the fills (`engine.round_trips`);
- day metrics (net P&L after fees, consecutive losses, closing fills) are
  `engine.risk.day_metrics` over the fills from `day_start` on; voided fills never count;
- a round trip is announced once (`RoundTripClosed`); if a later void, or a missed fill
  that a reconcile brings in, changes it, `RoundTripRevoked` says so and the corrected
  one, if any, is announced with its new key.
Times are epoch seconds UTC, money USD.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from engine.model import OrderStatus, OrderType, PositionType, Side
from engine.risk import DayMetrics, Fill, day_metrics
from engine.round_trips import Book, RoundTrip, book_of, settled_before

_WORKING = {OrderStatus.OPEN, OrderStatus.PENDING}  # orders that may still fill


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """`GatewayUserAccount` / an `Account/search` item."""

    id: int
    name: str
    balance: float
    can_trade: bool
    is_visible: bool = True
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """`GatewayUserOrder` / an `Order/search` item; prices in points."""

    id: int
    account_id: int
    contract: str
    created_at: float
    updated_at: float | None
    status: OrderStatus
    type: OrderType
    side: Side
    size: int
    limit_price: float | None = None
    stop_price: float | None = None
    fill_volume: int = 0
    filled_price: float | None = None
    custom_tag: str | None = None


@dataclass(frozen=True, slots=True)
class PositionEvent:
    """`GatewayUserPosition` / a `Position/searchOpen` item; size 0 means closed."""

    id: int
    account_id: int
    contract: str
    created_at: float
    type: PositionType
    size: int
    average_price: float


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """`GatewayUserTrade` / a `Trade/search` item: one fill of the account `account_id`.

    The broker knows accounts by id; `fill.account` stays empty until the account's own
    state names it (`named`)."""

    account_id: int
    fill: Fill

    def named(self, account: str) -> Fill:
        return replace(self.fill, account=account)


Event = AccountEvent | OrderEvent | PositionEvent | TradeEvent


@dataclass(frozen=True, slots=True)
class Position:
    contract: str
    size: int  # signed contracts: + long, - short
    average_price: float  # points
    opened_at: float


@dataclass(frozen=True, slots=True)
class RoundTripClosed:
    """A round trip closed: announced once. Should a later void or a missed fill change
    it, a `RoundTripRevoked` follows, and the corrected trip is announced again."""

    trip: RoundTrip


@dataclass(frozen=True, slots=True)
class RoundTripRevoked:
    """An announced round trip no longer stands (a fill voided or missed before)."""

    trip: RoundTrip


@dataclass(frozen=True, slots=True)
class CloseWithoutEntry:
    """A closing fill while flat: its position was opened before the known fills (at
    start, by hand, or on a day the worker did not see), so no round trip can be built."""

    fill: Fill


@dataclass(frozen=True, slots=True)
class EventIgnored:
    """An event not for this account's state (`reason` "other_account")."""

    reason: str
    detail: str


Effect = RoundTripClosed | RoundTripRevoked | CloseWithoutEntry | EventIgnored


@dataclass(frozen=True, slots=True)
class AccountState:
    """`account` is the worker's name for the account (fills and results carry it),
    `name` the broker's. Treat the mappings as read-only: every change is a copy."""

    id: int
    account: str
    day_start: float  # the trading day's start, epoch s UTC (17:00 America/Chicago)
    name: str = ""
    balance: float | None = None  # USD, None until the broker said
    can_trade: bool = False
    positions: Mapping[str, Position] = field(default_factory=dict)  # by contract id
    fills: Mapping[int, Fill] = field(default_factory=dict)  # by trade id
    orders: Mapping[int, OrderEvent] = field(default_factory=dict)  # by order id
    announced: Mapping[str, RoundTrip] = field(default_factory=dict)  # by round-trip key
    orphans: frozenset[int] = frozenset()  # trade ids reported as CloseWithoutEntry

    @property
    def metrics(self) -> DayMetrics:
        return day_metrics(self.fills.values(), self.day_start)

    @property
    def net_pnl(self) -> float:
        return self.metrics.net_pnl

    @property
    def consecutive_losses(self) -> int:
        return self.metrics.consecutive_losses

    @property
    def closing_fills(self) -> tuple[Fill, ...]:
        """Today's counted closing fills in (time, id) order."""
        closes = (
            f for f in self.fills.values() if f.closing and not f.voided and f.at >= self.day_start
        )
        return tuple(sorted(closes, key=lambda f: (f.at, f.id)))

    def book(self, contract: str) -> Book:
        return book_of(contract, self.fills.values(), self.id, self.orders)


def reduce(state: AccountState, event: Event) -> tuple[AccountState, tuple[Effect, ...]]:
    """Apply one hub event. Events of another account are ignored (and said so)."""
    ignored: list[Effect] = []
    if not _mine(state, event, ignored):
        return state, tuple(ignored)
    if isinstance(event, AccountEvent):
        return _account(state, event), ()
    if isinstance(event, OrderEvent):
        return replace(state, orders={**state.orders, event.id: event}), ()
    if isinstance(event, PositionEvent):
        positions = dict(state.positions)
        positions.pop(event.contract, None)
        if event.size != 0:
            positions[event.contract] = _position(event)
        return replace(state, positions=positions), ()
    return _with_fills(state, [event])


def reconcile(
    state: AccountState,
    positions: Iterable[PositionEvent],
    fills: Iterable[TradeEvent],
    orders: Iterable[OrderEvent] = (),
    account: AccountEvent | None = None,
) -> tuple[AccountState, tuple[Effect, ...]]:
    """Apply REST snapshots: positions replace the known ones; orders and fills are
    merged by id (a fill the hub delivered but the snapshot lacks yet is kept)."""
    ignored: list[Effect] = []
    mine = [p for p in positions if _mine(state, p, ignored)]
    state = replace(
        state,
        positions={p.contract: _position(p) for p in mine if p.size != 0},
        orders={**state.orders, **{o.id: o for o in orders if _mine(state, o, ignored)}},
    )
    if account is not None and _mine(state, account, ignored):
        state = _account(state, account)
    state, effects = _with_fills(state, [f for f in fills if _mine(state, f, ignored)])
    return state, (*ignored, *effects)


def start_day(state: AccountState, day_start: float) -> AccountState:
    """Move to a new trading day: forget fills (and their orders and announced round
    trips) settled before it; keep what an open round trip still needs."""
    contracts = {f.contract for f in state.fills.values()}
    gone: set[int] = set()
    for contract in contracts:
        gone |= settled_before(state.fills.values(), contract, day_start)
    fills = {i: f for i, f in state.fills.items() if i not in gone}
    used = {f.order_id for f in fills.values()}
    orders = {i: o for i, o in state.orders.items() if i in used or o.status in _WORKING}
    announced = {k: t for k, t in state.announced.items() if t.exits[-1].fill.id in fills}
    return replace(
        state,
        day_start=day_start,
        fills=fills,
        orders=orders,
        announced=announced,
        orphans=state.orphans - gone,
    )


def _mine(state: AccountState, event: Event, ignored: list[Effect]) -> bool:
    owner = event.id if isinstance(event, AccountEvent) else event.account_id
    if owner != state.id:
        detail = f"{type(event).__name__} for account {owner}"
        ignored.append(EventIgnored("other_account", detail))
    return owner == state.id


def _account(state: AccountState, event: AccountEvent) -> AccountState:
    return replace(state, name=event.name, balance=event.balance, can_trade=event.can_trade)


def _position(event: PositionEvent) -> Position:
    size = -event.size if event.type == PositionType.SHORT else event.size
    return Position(event.contract, size, event.average_price, event.created_at)


def _with_fills(
    state: AccountState, events: list[TradeEvent]
) -> tuple[AccountState, tuple[Effect, ...]]:
    fills, touched = _merged(state, events)
    if not touched:
        return state, ()
    return _settle(replace(state, fills=fills), touched)


def _merged(state: AccountState, events: list[TradeEvent]) -> tuple[dict[int, Fill], set[str]]:
    """The fills with `events` merged in by trade id, and the contracts that changed."""
    fills = dict(state.fills)
    touched: set[str] = set()
    for event in events:
        fill = event.named(state.account)
        known = fills.get(fill.id)
        if known is not None and known.voided and not fill.voided:
            fill = replace(fill, voided=True)
        if fill != known:
            fills[fill.id] = fill
            touched.add(fill.contract)
            if known is not None:
                touched.add(known.contract)
    return fills, touched


def _settle(state: AccountState, contracts: set[str]) -> tuple[AccountState, tuple[Effect, ...]]:
    """Rebuild the contracts' round trips and announce what changed."""
    announced = dict(state.announced)
    orphans = set(state.orphans)
    revoked: list[Effect] = []
    closed: list[Effect] = []
    lone: list[Effect] = []
    for contract in sorted(contracts):
        book = state.book(contract)
        keys = {t.key for t in book.closed}
        for key, trip in list(announced.items()):
            if trip.contract == contract and key not in keys:
                revoked.append(RoundTripRevoked(announced.pop(key)))
        for trip in book.closed:
            if trip.key not in announced:
                announced[trip.key] = trip
                closed.append(RoundTripClosed(trip))
        lone += [CloseWithoutEntry(f) for f in book.orphans if f.id not in orphans]
        orphans |= {f.id for f in book.orphans}
    new = replace(state, announced=announced, orphans=frozenset(orphans))
    return new, (*revoked, *lone, *closed)
