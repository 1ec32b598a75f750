"""`send_entry`: one market entry per decision, never two, never blind.

Order of events for a placement: a durable `sending` intent -> `Order/place` once ->
`placed` / `refused` / `unsent`. An ambiguous outcome (timeout, reset, 5xx, 429, a 2xx
answer that is neither success nor refusal) is resolved by looking the order up with
`Order/search`: by customTag, or by account, contract, side, size and time when the
answer carries no tags (adapters/projectx/lookup.py). The entry is sent again only when
the order is provably absent (the tag's uniqueness at the gateway guards even that),
never while more than one order could be it. Entries carry no stop, target or bracket:
the account's Auto OCO does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from adapters import events
from adapters.projectx.budget import BudgetExceeded
from adapters.projectx.client import AmbiguousOrder, GatewayError, ProjectXClient
from adapters.projectx.intents import IntentStore
from adapters.projectx.lookup import FOUND_BY_MATCH, SEVERAL_CANDIDATES, Lookup, find_order
from adapters.projectx.parsing import ORDER_TYPE_CODES, SIDE_CODES
from engine.execution import PlaceEntry
from engine.model import MarketState, OrderType


def order_body(entry: PlaceEntry, account_id: int) -> dict[str, Any]:
    """The complete `Order/place` body: market, side, size, tag — nothing else, ever."""
    return {
        "accountId": account_id,
        "contractId": entry.contract,
        "type": ORDER_TYPE_CODES[OrderType.MARKET],
        "side": SIDE_CODES[entry.side],
        "size": entry.size,
        "customTag": entry.tag,
    }


class ProjectXExecutor:
    def __init__(
        self,
        client: ProjectXClient,
        store: IntentStore,
        account_ids: dict[str, int],
        resolve_delays_s: tuple[float, ...] = (1.0, 3.0, 6.0),
        resend_within_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.store = store
        self.account_ids = account_ids
        self.resolve_delays_s = resolve_delays_s
        self.resend_within_s = resend_within_s  # a decision older than this is never sent
        self.clock = clock

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        account_id = self.account_ids.get(entry.account)
        if account_id is None:
            events.order_failed(
                account=entry.account,
                symbol=entry.symbol,
                at=entry.at,
                entry=entry,
                reason="unknown_account",
                sent=False,
            )
            return
        if not self.store.begin(entry, account_id):
            known = self.store.get(entry.tag)
            events.order_skipped(
                entry,
                reason="duplicate_decision",
                message="this decision's order was already sent, not sent again",
                warn=True,
                state=known.state if known else None,
            )
            return
        await self._send(entry, account_id, self.clock())

    async def _send(
        self, entry: PlaceEntry, account_id: int, sent_at: float, resending: bool = False
    ) -> None:
        """Place once. `sent_at`: when the entry's first placement left (epoch s)."""
        try:
            order_id = await self.client.place(order_body(entry, account_id))
        except BudgetExceeded as exc:
            self.store.mark(entry.tag, "unsent", detail=str(exc))
            events.order_failed(
                account=entry.account,
                symbol=entry.symbol,
                at=entry.at,
                entry=entry,
                reason="local_rate_budget",
                sent=False,
            )
        except GatewayError as exc:
            found = await self._find(entry, account_id, sent_at) if resending else None
            if found is not None and found.order_id is not None:
                # The first attempt landed after all; the tag refused the second.
                self.store.mark(entry.tag, "placed", found.order_id, detail="found after resend")
                events.order_placed(
                    entry,
                    order_id=found.order_id,
                    resolved="found_after_resend",
                    rule=found.rule,
                    match=found.fields if found.rule == FOUND_BY_MATCH else None,
                )
                return
            self.store.mark(entry.tag, "refused", detail=str(exc))
            events.order_failed(
                account=entry.account,
                symbol=entry.symbol,
                at=entry.at,
                entry=entry,
                reason="gateway_refused",
                sent=True,
                error_code=exc.code,
                error_message=exc.message,
            )
        except AmbiguousOrder as exc:
            events.order_ambiguous(entry, reason=str(exc))
            await self.resolve(entry, account_id, sent_at)
        else:
            self.store.mark(entry.tag, "placed", order_id)
            events.order_placed(entry, order_id=order_id)

    async def resolve(self, entry: PlaceEntry, account_id: int, sent_at: float) -> None:
        """Find the order; send again only when provably absent and fresh, never while
        more than one order could be it."""
        complete = False
        for delay in self.resolve_delays_s:
            await asyncio.sleep(delay)
            try:
                found = await self._find(entry, account_id, sent_at)
            except Exception as exc:  # noqa: BLE001 -- unknown stays unknown: look again
                events.order_lookup_failed(entry, error=f"{type(exc).__name__}: {exc}")
                continue
            if found.order_id is not None:
                self.store.mark(entry.tag, "placed", found.order_id, detail=found.rule)
                events.order_placed(
                    entry, order_id=found.order_id, resolved=found.rule, match=found.fields
                )
                return
            if found.rule == SEVERAL_CANDIDATES:
                events.order_unresolved(
                    entry,
                    reason=found.rule,
                    hint="resolve by hand; never re-sent",
                    candidates=found.candidates,
                    match=found.fields,
                )
                return  # stays `sending`: one of them may be ours
            complete = True
        if not complete:
            events.order_unresolved(entry, reason="lookups_failed", hint="reconciled at start")
            return  # stays `sending`: never re-sent without a complete lookup
        if self.clock() - entry.at > self.resend_within_s:
            self.store.mark(entry.tag, "abandoned", detail="absent and too old to send")
            events.order_failed(
                account=entry.account,
                symbol=entry.symbol,
                at=entry.at,
                entry=entry,
                reason="absent_and_stale",
                sent=False,
            )
            return
        events.order_resend(entry, reason="provably_absent")
        await self._send(entry, account_id, sent_at, resending=True)

    async def _find(self, entry: PlaceEntry, account_id: int, sent_at: float) -> Lookup:
        """The entry's order in a complete `Order/search` (by tag, else by match)."""
        start = datetime.fromtimestamp(min(entry.at, sent_at) - 3600, UTC).isoformat()
        return find_order(await self.client.orders(account_id, start), entry, account_id, sent_at)

    async def reconcile(self) -> int:
        """At start, before any new decision: resolve every `sending` intent."""
        pending = self.store.unresolved()
        for intent in pending:
            events.order_unresolved_at_start(intent.entry, created=intent.created)
            # `created` is written right before the request leaves: the send time.
            await self.resolve(intent.entry, intent.account_id, intent.created)
        return len(pending)
