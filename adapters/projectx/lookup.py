"""Find an entry's order in an `Order/search` answer after an ambiguous placement (pure).

By its customTag first. Only the newer revision of the docs returns `customTag`: when no
order in the answer carries the key at all, the tag cannot prove anything, so the order
is matched on account, contract, side, size and its creation time near the send. One
candidate is the order; several leave the entry unresolved (never re-sent); none is the
same proof of absence as a tag search that lacks the tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.projectx.parsing import SIDE_CODES, is_int, stamp
from engine.execution import PlaceEntry

MATCH_BEFORE_S = 5.0  # an order created this long before the send is not ours
MATCH_AFTER_S = 120.0  # ... nor one created this long after it (resends included)

FOUND_BY_TAG = "found_by_tag"
FOUND_BY_MATCH = "found_by_match"
SEVERAL_CANDIDATES = "several_candidates"
ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class Lookup:
    """`rule`: which rule decided. `order_id` is set for the two `found_*` rules only."""

    rule: str
    order_id: int | None = None
    candidates: tuple[int, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)  # what a match compared

    @property
    def found(self) -> bool:
        return self.order_id is not None


def find_order(
    orders: list[dict[str, Any]], entry: PlaceEntry, account_id: int, sent_at: float
) -> Lookup:
    """The entry's order among `orders` (one account's `Order/search` items).

    `sent_at`: epoch seconds when the first `Order/place` for the entry left."""
    for order in orders:
        if order.get("customTag") == entry.tag and is_int(order.get("id")):
            return Lookup(FOUND_BY_TAG, int(order["id"]))
    if any("customTag" in order for order in orders):
        return Lookup(ABSENT)  # tags are served and ours is not among them
    rule = match_rule(entry, account_id, sent_at)
    ids = tuple(int(o["id"]) for o in orders if is_int(o.get("id")) and _matches(o, rule))
    if len(ids) == 1:
        return Lookup(FOUND_BY_MATCH, ids[0], ids, rule)
    if ids:
        return Lookup(SEVERAL_CANDIDATES, None, ids, rule)
    return Lookup(ABSENT, fields=rule)


def match_rule(entry: PlaceEntry, account_id: int, sent_at: float) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "contract": entry.contract,
        "side": SIDE_CODES[entry.side],
        "size": entry.size,
        "created_from": sent_at - MATCH_BEFORE_S,
        "created_to": sent_at + MATCH_AFTER_S,
    }


def _matches(order: dict[str, Any], rule: dict[str, Any]) -> bool:
    same = (
        order.get("accountId") == rule["account_id"]
        and order.get("contractId") == rule["contract"]
        and order.get("side") == rule["side"]
        and order.get("size") == rule["size"]
    )
    if not same:
        return False
    created = stamp(order.get("creationTimestamp"))
    # An unreadable time cannot rule the order out: counting it blocks a resend (safe).
    return created is None or rule["created_from"] <= created <= rule["created_to"]
