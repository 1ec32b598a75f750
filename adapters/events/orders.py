"""Orders: what became of each BUY/SELL entry, from the gates (adapters/dryrun.py,
adapters/leader_gate.py, adapters/freshness_gate.py) through ProjectX
(adapters/projectx/execution.py) or the paper broker (adapters/paper/broker.py), and the
trader's own failures (worker/trader.py).

Every line about an entry names it the same way (`_entry`): account, symbol, contract,
side, size, tag (the idempotency key) and `at`, the decision instant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from adapters.events._common import known
from adapters.projectx.parsing import SIDE_CODES
from engine.execution import PlaceEntry
from engine.model import OrderType
from engine.timefmt import iso


def _entry(entry: PlaceEntry) -> dict[str, object]:
    return {
        "account": entry.account,
        "symbol": entry.symbol,
        "contract": entry.contract,
        "side": entry.side.value,
        "size": entry.size,
        "tag": entry.tag,
        "at": iso(entry.at),
    }


def _match(match: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What a tagless lookup compared (adapters/projectx/lookup.py), times as ISO."""
    if not match:
        return None
    shown = dict(match)
    shown["created_from"] = iso(shown["created_from"])
    shown["created_to"] = iso(shown["created_to"])
    return shown


def order_skipped(
    entry: PlaceEntry,
    *,
    reason: str,
    message: str,
    warn: bool = False,
    age_s: float | None = None,
    max_age_s: float | None = None,
    state: str | None = None,
) -> None:
    """A BUY/SELL not sent: the complete intent (with the gateway's side code and the
    order type it would have had), why, and a sentence. Info when by configuration
    (`trading disabled`, `standby`); `warn` when it is worth a look: a `stale_signal`
    (its `age_s` and `max_age_s`) or a `duplicate_decision` (the known intent's `state`)."""
    log = structlog.get_logger()
    emit = log.warning if warn else log.info
    emit(
        "order_skipped",
        **_entry(entry),
        side_code=SIDE_CODES[entry.side],
        order_type=OrderType.MARKET.value,
        reason=reason,
        message=message,
        **known(
            age_s=round(age_s, 1) if age_s is not None else None,
            max_age_s=max_age_s,
            state=state,
        ),
    )


def order_placed(
    entry: PlaceEntry,
    *,
    order_id: int,
    resolved: str | None = None,
    rule: str | None = None,
    match: Mapping[str, Any] | None = None,
) -> None:
    """The gateway took the order. After an ambiguous outcome, `resolved` says how it was
    settled (`found_by_tag`, `found_by_match`, `found_after_resend`; for the last, `rule`
    says which lookup found it) and `match` what a tagless lookup compared."""
    structlog.get_logger().info(
        "order_placed",
        **_entry(entry),
        order_id=order_id,
        **known(resolved=resolved, rule=rule, match=_match(match)),
    )


def order_failed(
    *,
    account: str,
    symbol: str,
    at: int,
    reason: str,
    sent: bool,
    entry: PlaceEntry | None = None,
    error: str | None = None,
    error_code: int | None = None,
    error_message: str | None = None,
) -> None:
    """An order that did not go out, or that the gateway refused (`sent`). Always the
    account, symbol and decision instant (`at`, epoch s); the entry's contract, side,
    size and tag once it was built; `error` for an exception (`Type: message`),
    `error_code` / `error_message` for the gateway's refusal."""
    fields: dict[str, object] = {"account": account, "symbol": symbol}
    if entry is not None:
        fields |= {
            "contract": entry.contract,
            "side": entry.side.value,
            "size": entry.size,
            "tag": entry.tag,
        }
    structlog.get_logger().error(
        "order_failed",
        **fields,
        at=iso(at),
        reason=reason,
        sent=sent,
        **known(error=error, error_code=error_code, error_message=error_message),
    )


def order_ambiguous(entry: PlaceEntry, *, reason: str) -> None:
    """The placement's outcome is unknown (timeout, reset, 5xx, 429, an odd answer): the
    order is looked up before anything else is done."""
    structlog.get_logger().warning("order_ambiguous", **_entry(entry), reason=reason)


def order_lookup_failed(entry: PlaceEntry, *, error: str) -> None:
    """One lookup of an ambiguous order failed; it is looked up again."""
    structlog.get_logger().warning("order_lookup_failed", **_entry(entry), error=error)


def order_resend(entry: PlaceEntry, *, reason: str) -> None:
    """The order is provably absent and still fresh: sent once more (same tag)."""
    structlog.get_logger().warning("order_resend", **_entry(entry), reason=reason)


def order_unresolved(
    entry: PlaceEntry,
    *,
    reason: str,
    hint: str,
    candidates: Sequence[int] | None = None,
    match: Mapping[str, Any] | None = None,
) -> None:
    """An ambiguous order not settled: `lookups_failed` (reconciled at the next start) or
    `several_candidates` (their ids; never re-sent)."""
    structlog.get_logger().error(
        "order_unresolved",
        **_entry(entry),
        reason=reason,
        **known(
            candidates=list(candidates) if candidates is not None else None,
            match=_match(match),
        ),
        hint=hint,
    )


def order_unresolved_at_start(entry: PlaceEntry, *, created: float) -> None:
    """An intent left `sending` by an earlier run (`created`: when its request left,
    epoch s): resolved before any new decision."""
    structlog.get_logger().warning(
        "order_unresolved_at_start", **_entry(entry), created=iso(created)
    )


# -- the paper broker ---------------------------------------------------------------------


def paper_fill(entry: PlaceEntry, *, price: float, at: int, stop: float, target: float) -> None:
    """An entry filled on paper at `price`, the open of the minute `at` (epoch s)."""
    structlog.get_logger().info(
        "paper_fill",
        account=entry.account,
        symbol=entry.symbol,
        side=entry.side.value,
        price=price,
        size=entry.size,
        at=iso(at),
        stop=stop,
        target=target,
        tag=entry.tag,
    )


def paper_exit(trade: Mapping[str, object], *, day_net: float) -> None:
    """A paper round trip closed at its stop or target: `trade` is its `trades.jsonl`
    record (adapters/paper/trades.py `trade_record`); `day_net` the account's net P&L
    of the trading day so far, USD."""
    structlog.get_logger().info("paper_exit", **trade, day_net=day_net)
