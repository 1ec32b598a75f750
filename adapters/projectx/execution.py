"""`send_entry`: one market entry per decision, never two, never blind.

Order of events for a placement: a durable `sending` intent -> `Order/place` once ->
`placed` / `refused` / `unsent`. An ambiguous outcome (timeout, reset, 5xx, 429) is
resolved by looking the customTag up with `Order/search`; the entry is sent again
only when the order is provably absent (the tag's uniqueness at the gateway guards
even that). Entries carry no stop, target or bracket: the account's Auto OCO does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from adapters.files.timefmt import iso
from adapters.projectx.budget import BudgetExceeded
from adapters.projectx.client import AmbiguousOrder, GatewayError, ProjectXClient
from adapters.projectx.intents import IntentStore
from engine.execution import ORDER_TYPE_MARKET, PlaceEntry
from engine.model import MarketState


def order_body(entry: PlaceEntry, account_id: int) -> dict[str, Any]:
    """The complete `Order/place` body: market, side, size, tag — nothing else, ever."""
    return {
        "accountId": account_id,
        "contractId": entry.contract,
        "type": ORDER_TYPE_MARKET,
        "side": entry.side,
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
        self._log = structlog.get_logger("execution")

    async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
        log = self._log.bind(**_fields(entry))
        account_id = self.account_ids.get(entry.account)
        if account_id is None:
            log.error("order_failed", reason="unknown_account", sent=False)
            return
        if not self.store.begin(entry, account_id):
            known = self.store.get(entry.tag)
            log.warning("order_skipped", reason="duplicate_decision",
                        state=known.state if known else None)  # fmt: skip
            return
        await self._send(entry, account_id, log)

    async def _send(
        self, entry: PlaceEntry, account_id: int, log: Any, resending: bool = False
    ) -> None:
        try:
            order_id = await self.client.place(order_body(entry, account_id))
        except BudgetExceeded as exc:
            self.store.mark(entry.tag, "unsent", detail=str(exc))
            log.error("order_failed", reason="local_rate_budget", sent=False)
        except GatewayError as exc:
            if resending and (found := await self._find(entry, account_id)) is not None:
                # The first attempt landed after all; the tag refused the second.
                self.store.mark(entry.tag, "placed", found, detail="found after resend")
                log.info("order_placed", order_id=found, resolved="found_after_resend")
                return
            self.store.mark(entry.tag, "refused", detail=str(exc))
            log.error("order_failed", reason="gateway_refused", error_code=exc.code,
                      error_message=exc.message, sent=True)  # fmt: skip
        except AmbiguousOrder as exc:
            log.warning("order_ambiguous", reason=str(exc))
            await self.resolve(entry, account_id, log)
        else:
            self.store.mark(entry.tag, "placed", order_id)
            log.info("order_placed", order_id=order_id)

    async def resolve(self, entry: PlaceEntry, account_id: int, log: Any) -> None:
        """Find the tag at the gateway; send again only when provably absent and fresh."""
        complete = False
        for delay in self.resolve_delays_s:
            await asyncio.sleep(delay)
            try:
                found = await self._find(entry, account_id)
            except Exception as exc:  # noqa: BLE001 -- unknown stays unknown: look again
                log.warning("order_lookup_failed", error=f"{type(exc).__name__}: {exc}")
                continue
            if found is not None:
                self.store.mark(entry.tag, "placed", found, detail="found by customTag")
                log.info("order_placed", order_id=found, resolved="found_by_tag")
                return
            complete = True
        if not complete:
            log.error("order_unresolved", reason="lookups_failed", hint="reconciled at start")
            return  # stays `sending`: never re-sent without a complete lookup
        if self.clock() - entry.at > self.resend_within_s:
            self.store.mark(entry.tag, "abandoned", detail="absent and too old to send")
            log.error("order_failed", reason="absent_and_stale", sent=False)
            return
        log.warning("order_resend", reason="provably_absent")
        await self._send(entry, account_id, log, resending=True)

    async def _find(self, entry: PlaceEntry, account_id: int) -> int | None:
        """orderId of the order carrying the tag; None when a complete search lacks it."""
        start = datetime.fromtimestamp(entry.at - 3600, UTC).isoformat()
        for order in await self.client.orders(account_id, start):
            if order.get("customTag") == entry.tag and isinstance(order.get("id"), int):
                return int(order["id"])
        return None

    async def reconcile(self) -> int:
        """At start, before any new decision: resolve every `sending` intent."""
        pending = self.store.unresolved()
        for intent in pending:
            log = self._log.bind(**_fields(intent.entry), reconcile=True)
            log.warning("order_unresolved_at_start", created=iso(intent.created))
            await self.resolve(intent.entry, intent.account_id, log)
        return len(pending)


def _fields(entry: PlaceEntry) -> dict[str, Any]:
    return {
        "account": entry.account, "symbol": entry.symbol, "contract": entry.contract,
        "side": entry.side_name, "size": entry.size, "tag": entry.tag, "at": iso(entry.at),
    }  # fmt: skip
