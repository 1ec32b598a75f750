"""Round trips: one contract's fills, flat to flat, as one result each. Pure.

A round trip starts with the fill that opens a position from flat and ends with the
fill that brings it back to flat. Fills are taken in (time, trade id) order, voided
ones skipped. These definitions are ours, not the broker's:
- a fill in the position's direction is an entry (scale-in), against it an exit
  (partial exits until flat); partial fills of one order are separate entries/exits;
- a fill that crosses through flat (a flip) is split: the part up to flat closes the
  round trip and carries the fill's whole `profitAndLoss`; the rest opens the next one.
  Its fees are shared in proportion to the contracts;
- net P&L = sum of its fills' `profitAndLoss` (the closing fills carry it) - all fees
  of its legs, rounded to cents, as `engine.risk.day_metrics` counts a day;
- a closing fill (`profitAndLoss` not null) arriving while flat closes a position we
  never saw open (opened before the known fills): it is reported as an orphan and
  takes no part in any round trip;
- the decision that opened it is the first entry order's `customTag` (the trigger's
  `rt-<account>-<symbol>-<YYYYmmddTHHMMZ>`), else the first tagged entry order's;
- the key is `<account id>:<contract>:<first entry fill id>:<last exit fill id>:<digest>`
  where digest is 8 hex digits of SHA-256 over every leg's (fill id, contracts): the same
  fills always give the same key, and a round trip changed by a voided fill a new one.
Times are epoch seconds UTC, money USD, prices in points.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from engine.model import OrderType, Side
from engine.risk import Fill

_CENTS = 2


# The order types a round trip's exit is named by (`RoundTrip.exit_kind`); any other is "other".
_EXIT_KINDS = frozenset(
    {
        OrderType.LIMIT,
        OrderType.MARKET,
        OrderType.STOP_LIMIT,
        OrderType.STOP,
        OrderType.TRAILING_STOP,
    }
)


class OrderRef(Protocol):
    """What a round trip needs to know of an order."""

    @property
    def type(self) -> OrderType: ...

    @property
    def custom_tag(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Leg:
    """The part of one fill used by one round trip: all of it, except across a flip."""

    fill: Fill
    size: int  # contracts of this fill in this round trip
    pnl: float  # USD, the fill's profitAndLoss (0 when null, and on a flip's opening part)
    fees: float  # USD, this part's share of the fill's fees


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One position from flat back to flat on one contract of one account."""

    key: str
    account: str
    account_id: int
    contract: str
    symbol: str  # contract root: CON.F.US.MES.Z25 -> MES
    side: Side  # direction of the position: BUY (long) or SELL (short)
    size: int  # contracts entered (= contracts exited)
    entries: tuple[Leg, ...]
    exits: tuple[Leg, ...]
    entry_price: float  # size-weighted average, points
    exit_price: float
    gross_pnl: float  # USD, sum of the legs' profitAndLoss
    fees: float  # USD, every leg's fees
    net_pnl: float  # USD, gross_pnl - fees
    tag: str | None  # customTag of the entry order, when known
    exit_order_type: OrderType | None  # type of the last exit's order, when known

    @property
    def entry_time(self) -> float:
        return self.entries[0].fill.at

    @property
    def exit_time(self) -> float:
        return self.exits[-1].fill.at

    @property
    def duration_s(self) -> float:
        return self.exit_time - self.entry_time

    @property
    def signal(self) -> str:
        return "BUY" if self.side == Side.BUY else "SELL"

    @property
    def entry_order_id(self) -> int | None:
        return self.entries[0].fill.order_id

    @property
    def fill_ids(self) -> tuple[int, ...]:
        """Distinct trade ids, entries then exits, in order."""
        return tuple(dict.fromkeys(leg.fill.id for leg in (*self.entries, *self.exits)))

    @property
    def exit_kind(self) -> str | None:
        """How it ended, from the last exit order's type: stop, limit, market, ..."""
        if self.exit_order_type is None:
            return None
        return self.exit_order_type.value if self.exit_order_type in _EXIT_KINDS else "other"


@dataclass(frozen=True, slots=True)
class OpenTrip:
    """The round trip in progress on a contract."""

    contract: str
    position: int  # signed contracts: + long, - short
    entries: tuple[Leg, ...]
    exits: tuple[Leg, ...]


@dataclass(frozen=True, slots=True)
class Book:
    """What one contract's fills add up to."""

    closed: tuple[RoundTrip, ...]
    open: OpenTrip | None
    orphans: tuple[Fill, ...]  # closing fills seen while flat


def symbol_of(contract: str) -> str:
    """Root symbol of a ProjectX contract id: CON.F.US.MES.Z25 -> MES."""
    parts = contract.split(".")
    return parts[-2] if len(parts) >= 3 else contract


def ordered(fills: Iterable[Fill], contract: str) -> list[Fill]:
    """The contract's counted fills (not voided) in (time, trade id) order."""
    counted = (f for f in fills if f.contract == contract and not f.voided)
    return sorted(counted, key=lambda f: (f.at, f.id))


def _signed(fill: Fill) -> int:
    return fill.size if fill.side == Side.BUY else -fill.size


class _Walk:
    """Mutable accumulator of `book_of`, local to one call."""

    def __init__(self) -> None:
        self.position = 0
        self.entries: list[Leg] = []
        self.exits: list[Leg] = []
        self.done: list[tuple[tuple[Leg, ...], tuple[Leg, ...]]] = []
        self.orphans: list[Fill] = []

    def add(self, fill: Fill) -> None:
        delta = _signed(fill)
        if self.position == 0 and fill.pnl is not None:
            self.orphans.append(fill)
        elif self.position == 0 or (delta > 0) == (self.position > 0):
            # pnl is None on an opening fill; kept if the broker says otherwise
            self.entries.append(Leg(fill, fill.size, fill.pnl or 0.0, fill.fees))
            self.position += delta
        else:
            self._exit(fill, delta)

    def _exit(self, fill: Fill, delta: int) -> None:
        closing = min(abs(delta), abs(self.position))
        share = fill.fees if closing == fill.size else fill.fees * closing / fill.size
        self.exits.append(Leg(fill, closing, fill.pnl or 0.0, share))
        self.position += closing if delta > 0 else -closing
        if self.position != 0:
            return
        self.done.append((tuple(self.entries), tuple(self.exits)))
        self.entries, self.exits = [], []
        rest = fill.size - closing
        if rest:  # a flip: the rest of the fill opens the next round trip
            self.entries.append(Leg(fill, rest, 0.0, fill.fees - share))
            self.position = rest if delta > 0 else -rest


def book_of(
    contract: str, fills: Iterable[Fill], account_id: int, orders: Mapping[int, OrderRef]
) -> Book:
    """Round trips (closed and open) of one contract from its fills, in any order."""
    walk = _Walk()
    for fill in ordered(fills, contract):
        walk.add(fill)
    closed = tuple(_trip(account_id, e, x, orders) for e, x in walk.done)
    is_open = walk.position != 0
    opened = OpenTrip(contract, walk.position, tuple(walk.entries), tuple(walk.exits))
    return Book(closed, opened if is_open else None, tuple(walk.orphans))


def settled_before(fills: Iterable[Fill], contract: str, t: float) -> set[int]:
    """Trade ids of the contract's history up to its last flat point before `t`:
    forgetting them leaves the same open round trip and the round trips after."""
    counted = ordered(fills, contract)
    settled: set[int] = set()
    seen: list[int] = []
    position = 0
    for fill in counted:
        if fill.at >= t:
            break
        seen.append(fill.id)
        if not (position == 0 and fill.pnl is not None):  # an orphan leaves it flat
            position += _signed(fill)
        if position == 0:
            settled.update(seen)
    voided = (f.id for f in fills if f.contract == contract and f.voided and f.at < t)
    return settled | set(voided)


def _avg_price(legs: tuple[Leg, ...]) -> float:
    return math.fsum(leg.fill.price * leg.size for leg in legs) / sum(leg.size for leg in legs)


def _cents(x: float) -> float:
    return round(x, _CENTS) + 0.0  # + 0.0: no negative zero


def _tag(entries: tuple[Leg, ...], orders: Mapping[int, OrderRef]) -> str | None:
    for leg in entries:
        order = orders.get(leg.fill.order_id) if leg.fill.order_id is not None else None
        if order is not None and order.custom_tag:
            return order.custom_tag
    return None


def trip_key(account_id: int, contract: str, legs: Iterable[Leg]) -> str:
    listed = list(legs)
    ids = ",".join(f"{leg.fill.id}x{leg.size}" for leg in listed)
    digest = hashlib.sha256(ids.encode()).hexdigest()[:8]
    return f"{account_id}:{contract}:{listed[0].fill.id}:{listed[-1].fill.id}:{digest}"


def _trip(
    account_id: int,
    entries: tuple[Leg, ...],
    exits: tuple[Leg, ...],
    orders: Mapping[int, OrderRef],
) -> RoundTrip:
    first, last = entries[0].fill, exits[-1].fill
    gross = math.fsum(leg.pnl for leg in (*entries, *exits))
    fees = math.fsum(leg.fees for leg in (*entries, *exits))
    exit_order = orders.get(last.order_id) if last.order_id is not None else None
    return RoundTrip(
        key=trip_key(account_id, first.contract, (*entries, *exits)),
        account=first.account,
        account_id=account_id,
        contract=first.contract,
        symbol=symbol_of(first.contract),
        side=first.side,
        size=sum(leg.size for leg in entries),
        entries=entries,
        exits=exits,
        entry_price=_avg_price(entries),
        exit_price=_avg_price(exits),
        gross_pnl=_cents(gross),
        fees=_cents(fees),
        net_pnl=_cents(gross - fees),
        tag=_tag(entries, orders),
        exit_order_type=exit_order.type if exit_order is not None else None,
    )
