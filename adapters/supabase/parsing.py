"""Supabase Realtime `postgres_changes` payloads -> raw `tv_datafeed` rows (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.model import Rejection

_REQUIRED = ("ts", "symbol", "timeframe", "o", "h", "l", "c")


def record_of(payload: object) -> dict[str, Any] | Rejection:
    """The inserted row of a change event, or why the event cannot be used."""
    if not isinstance(payload, Mapping):
        return Rejection("bad_payload", type(payload).__name__)
    data = payload.get("data")
    if not isinstance(data, Mapping):
        return Rejection("bad_payload", "no data")
    errors = data.get("errors")
    if errors:
        return Rejection("server_error", str(errors)[:120])
    if data.get("type") != "INSERT":
        return Rejection("not_insert", str(data.get("type"))[:16], ignored=True)
    record = data.get("record")
    if not isinstance(record, Mapping):
        return Rejection("bad_payload", "no record")
    missing = [name for name in _REQUIRED if name not in record]
    if missing:
        return Rejection("missing_field", ",".join(missing))
    return dict(record)
