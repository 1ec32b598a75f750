"""Account state from the user hub: fold its events (read and logged by the listener),
reconcile over REST after every (re)connect, and hand each closed round trip to the
results outbox.

Logging only: nothing here sends, modifies or cancels an order.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from adapters import events
from adapters.projectx.client import ProjectXClient
from adapters.projectx.parsing import account_event, order_event, position_event, trade_event
from adapters.supabase.results import trade_result_row
from engine.account_state import (
    AccountEvent,
    AccountState,
    CloseWithoutEntry,
    Effect,
    Event,
    RoundTripClosed,
    RoundTripRevoked,
    reconcile,
    reduce,
    start_day,
)
from engine.calendar import trading_day_start
from engine.ports import ResultsSink


class AccountTracker:
    def __init__(
        self,
        client: ProjectXClient,
        account_ids: dict[str, int],
        results: ResultsSink | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.results, self.clock = client, results, clock
        day = trading_day_start(clock())
        self.states = {aid: AccountState(aid, name, day) for name, aid in account_ids.items()}
        self.counts: Counter[str] = Counter()

    def on_hub_event(self, event: Event) -> None:
        """The listener's delivery callback, on the event loop (the listener read and
        logged the push)."""
        account_id = event.id if isinstance(event, AccountEvent) else event.account_id
        state = self.states.get(account_id)
        if state is None:
            self.counts["other_account"] += 1
            return
        state = self._roll(state)
        state, effects = reduce(state, event)
        self.states[account_id] = state
        self._effects(effects)

    def warm(self, account_id: int, in_sync: bool) -> AccountState | None:
        """The account's state when it may stand in for REST reads (`in_sync`: the hub's
        word) and the broker has described the account (its `canTrade` is known)."""
        state = self.states.get(account_id)
        if not in_sync or state is None or state.balance is None:
            return None
        return state

    async def reconcile(self) -> None:
        """REST snapshots for every account: events missed while disconnected.

        The snapshots are fetched first; the state is read and replaced afterwards with
        no await in between, so hub events folded meanwhile are never overwritten."""
        listed = {item.get("id"): item for item in await self.client.accounts()}
        for account_id in list(self.states):
            start = datetime.fromtimestamp(self._roll(self.states[account_id]).day_start, UTC)
            since = start.isoformat()
            positions = [position_event(p) for p in await self.client.open_positions(account_id)]
            fills = [trade_event(t) for t in await self.client.trades(account_id, since)]
            orders = [order_event(o) for o in await self.client.orders(account_id, since)]
            item = listed.get(account_id)
            account = account_event(item) if item is not None else None
            state = self._roll(self.states[account_id])
            state, effects = reconcile(state, positions, fills, orders, account)
            self.states[account_id] = state
            events.account_reconciled(
                account=state.account,
                positions=len(positions),
                fills=len(fills),
                net_pnl=state.net_pnl,
            )
            self._effects(effects)

    def _roll(self, state: AccountState) -> AccountState:
        day = trading_day_start(self.clock())
        return start_day(state, day) if day > state.day_start else state

    def _effects(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, RoundTripClosed):
                row = trade_result_row(effect.trip)
                self.counts["round_trips"] += 1
                events.trade_result(effect.trip)
                if self.results is not None:
                    self.results.submit("trade_result", row["result_key"], row)
            elif isinstance(effect, RoundTripRevoked):
                events.trade_result_revoked(effect.trip)
            elif isinstance(effect, CloseWithoutEntry):
                events.close_without_entry(effect.fill)
