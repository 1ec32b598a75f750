"""Result rows to Supabase over PostgREST: `trade_results` (and `trigger_decisions`).

`PostgrestWriter.write(kind, row)` POSTs one row with
`Prefer: return=minimal,resolution=ignore-duplicates` and `on_conflict=<key column>`:
a retry after an unclear answer (timeout, reset, 5xx after commit) finds the row
already there and adds nothing. It is the `RowWriter` of `adapters.supabase.outbox`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.projectx.parsing import SIDE_CODES
from adapters.supabase.http import postgrest_client
from adapters.supabase.outbox import RowRejected
from engine.model import ActionPlan, ClosedBar, MarketState
from engine.ports import Recorder, ResultsSink
from engine.records import decision_record
from engine.round_trips import Leg, RoundTrip
from engine.timefmt import iso

STRATEGY = "reduction_trigger"
TRADE_RESULT = "trade_result"
TRIGGER_DECISION = "trigger_decision"
# kind -> (table, unique key column); see supabase/migrations/0002_trade_results.sql
TABLES: Mapping[str, tuple[str, str]] = {
    TRADE_RESULT: ("trade_results", "result_key"),
    TRIGGER_DECISION: ("trigger_decisions", "decision_key"),
}
_PREFER = "return=minimal,resolution=ignore-duplicates"
# Statuses that say nothing about the row itself: the service, the key or the table.
_NOT_THE_ROW = {401, 403, 404, 408, 429}
_EXIT_LABELS = {"limit": "target", "stop": "stop", "stop_limit": "stop", "trailing_stop": "stop"}


class WriteFailed(RuntimeError):
    """PostgREST could not take the row now (5xx, 429, auth, missing table): retry later."""


@dataclass(frozen=True, slots=True)
class ResultsConfig:
    url: str  # https://<project>.supabase.co
    key: str  # service key: sent as `apikey` and `Authorization: Bearer`
    schema: str = "public"
    timeout_s: float = 10.0  # per request, connect to last byte


class PostgrestWriter:
    def __init__(
        self,
        config: ResultsConfig,
        transport: httpx.AsyncBaseTransport | None = None,
        tables: Mapping[str, tuple[str, str]] = TABLES,
    ) -> None:
        self.config, self.tables = config, tables
        self._http = postgrest_client(
            config.url,
            config.key,
            config.schema,
            timeout_s=config.timeout_s,
            writes=True,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def write(self, kind: str, row: Mapping[str, Any]) -> None:
        """Insert `row` unless its key is already there. Returns on 2xx, and on a 409
        for a duplicate key; raises `RowRejected` when the row itself is refused (400, 422, ...),
        `WriteFailed` or an `httpx` error otherwise."""
        if kind not in self.tables:
            raise RowRejected(f"no table for kind {kind!r}")
        table, key_column = self.tables[kind]
        response = await self._http.post(
            f"/{table}",
            params={"on_conflict": key_column},
            json=dict(row),
            headers={"Prefer": _PREFER},
        )
        status = response.status_code
        if 200 <= status < 300 or (status == 409 and _duplicate(response)):
            return
        detail = f"HTTP {status} from {table}: {response.text[:200]}"
        if 400 <= status < 500 and status not in _NOT_THE_ROW:
            raise RowRejected(detail)
        raise WriteFailed(detail)


def _duplicate(response: httpx.Response) -> bool:
    """A 409 for the unique key (SQLSTATE 23505), not for, say, a foreign key."""
    try:
        body = response.json()
    except ValueError:
        return True  # a bare 409 from a proxy: PostgREST's own always has a body
    return not isinstance(body, dict) or body.get("code") in (None, "23505")


def trade_result_row(trip: RoundTrip, strategy: str = STRATEGY) -> dict[str, Any]:
    """The `trade_results` row of a round trip, in the previous bot's columns plus
    `result_key`. Times ISO 8601 UTC, money USD net of fees, sizes in contracts."""
    exit_label = _EXIT_LABELS.get(trip.exit_kind or "", trip.exit_kind or "unknown")
    return {
        "result_key": trip.key,
        "strategy": strategy,
        "signal": trip.signal,
        "symbol": trip.symbol,
        "account": trip.account,
        "size": trip.size,
        "ai_decision_id": trip.tag,
        "entry_time": iso(trip.entry_time),
        "exit_time": iso(trip.exit_time),
        "duration_sec": trip.duration_s,
        "alert": f"{trip.signal} {trip.size} {trip.symbol} closed by {exit_label}",
        "total_pnl": trip.net_pnl,
        "raw_trades": [_raw(leg, "entry", trip) for leg in trip.entries]
        + [_raw(leg, "exit", trip) for leg in trip.exits],
        "order_id": None if trip.entry_order_id is None else str(trip.entry_order_id),
        "comment": (
            f"{trip.contract} entry {trip.entry_price:.4f} exit {trip.exit_price:.4f} "
            f"gross {trip.gross_pnl:.2f} fees {trip.fees:.2f} net {trip.net_pnl:.2f}"
        ),
        "trade_ids": ",".join(str(i) for i in trip.fill_ids),
    }


def _raw(leg: Leg, role: str, trip: RoundTrip) -> dict[str, Any]:
    """One fill in the gateway's field names and codes, plus its role and the part of it used
    (a flip's fill appears in two round trips, split by `legSize`)."""
    fill = leg.fill
    return {
        "id": fill.id,
        "accountId": trip.account_id,
        "contractId": fill.contract,
        "creationTimestamp": iso(fill.at),
        "price": fill.price,
        "profitAndLoss": fill.pnl,
        "fees": fill.fees,
        "side": SIDE_CODES[fill.side],  # the gateway's OrderSide: 0 buy, 1 sell
        "size": fill.size,
        "voided": fill.voided,
        "orderId": fill.order_id,
        "role": role,
        "legSize": leg.size,
    }


class DecisionRecorder:
    """RECORD_DECISIONS: every decision also goes to `trigger_decisions` via the outbox
    (and to the recorder it wraps)."""

    def __init__(self, inner: Recorder, delivery: ResultsSink) -> None:
        self.inner, self.delivery = inner, delivery

    def bar(self, bar: ClosedBar) -> None:
        self.inner.bar(bar)

    def decision(self, state: MarketState, plan: ActionPlan) -> None:
        self.inner.decision(state, plan)
        record = decision_record(state, plan)
        key = f"{state.symbol}:{record['at']}"
        row = {
            "decision_key": key,
            "symbol": state.symbol,
            "at": record["at"],
            "action": record["action"],
            "reason_code": record["reason_code"],
            "regimes": record["regimes"],
            "slopes": record["slopes"],
        }
        self.delivery.submit(TRIGGER_DECISION, key, row)

    def close(self) -> None:
        self.inner.close()
