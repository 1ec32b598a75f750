"""Supabase Realtime wire format (Phoenix V1 JSON serializer), pure functions.

Frames are JSON objects with exactly the keys `event, topic, payload, ref`
(Phoenix's V1 serializer drops `join_ref`); server pushes carry `"ref": null`, and
realtime-py silently drops a push whose `ref` key is missing.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

FILTER_OPS = ("eq", "neq", "lt", "lte", "gt", "gte", "in")


def frame(event: str, topic: str, payload: Any, ref: str | None = None) -> str:
    return json.dumps({"event": event, "topic": topic, "payload": payload, "ref": ref})


def reply(topic: str, ref: str | None, status: str, response: Mapping[str, Any]) -> str:
    return frame("phx_reply", topic, {"status": status, "response": dict(response)}, ref)


def system(topic: str, status: str, message: str, extension: str = "postgres_changes") -> str:
    channel = topic.removeprefix("realtime:")
    payload = {"channel": channel, "extension": extension, "message": message, "status": status}
    return frame("system", topic, payload)


def binding_id(binding: Mapping[str, Any]) -> int:
    """A stable non-zero id per binding, like the server's :erlang.phash2(params)
    (realtime-py ignores an id of 0: it tests `if self.id and ...`)."""
    digest = zlib.crc32(json.dumps(binding, sort_keys=True).encode()) & 0x7FFFFFFF
    return digest or 1


@dataclass(frozen=True, slots=True)
class Change:
    """One committed row change, as the notify trigger reported it."""

    schema: str
    table: str
    type: str
    commit_timestamp: str
    columns: list[dict[str, str]]
    record_json: str  # to_jsonb(NEW)::text verbatim: numerics keep their scale

    @property
    def record(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.record_json, parse_float=Decimal)
        return parsed


def parse_notification(payload: str) -> Change:
    header_text, _, record_json = payload.partition("\n")
    header = json.loads(header_text)
    return Change(
        schema=header["schema"],
        table=header["table"],
        type=header["type"],
        commit_timestamp=header["commit_timestamp"],
        columns=header["columns"],
        record_json=record_json,
    )


def changes_frame(topic: str, ids: Sequence[int], change: Change, errors: Any = None) -> str:
    """A `postgres_changes` push; the record is spliced in as raw JSON text."""
    data = {
        "schema": change.schema,
        "table": change.table,
        "type": change.type,
        "commit_timestamp": change.commit_timestamp,
        "errors": errors,
        "columns": change.columns,
    }
    data_json = json.dumps(data)[:-1] + ', "record": ' + change.record_json + "}"
    return (
        '{"event": "postgres_changes", "topic": '
        + json.dumps(topic)
        + ', "payload": {"ids": '
        + json.dumps(list(ids))
        + ', "data": '
        + data_json
        + '}, "ref": null}'
    )


@dataclass(frozen=True, slots=True)
class Condition:
    column: str
    op: str
    values: tuple[str, ...]

    def matches(self, record: Mapping[str, Any]) -> bool:
        value = record.get(self.column)
        if value is None:  # SQL: a comparison with null is never true
            return False
        if self.op == "in":
            return any(_compare(value, v) == 0 for v in self.values)
        order = _compare(value, self.values[0])
        return {
            "eq": order == 0,
            "neq": order != 0,
            "lt": order < 0,
            "lte": order <= 0,
            "gt": order > 0,
            "gte": order >= 0,
        }[self.op]


def parse_filter(text: str) -> list[Condition]:
    """`symbol=eq.MES`, `c=gt.100`, `symbol=in.(MES,MNQ)`; commas outside parentheses
    join conditions with AND. Raises ValueError on anything else."""
    conditions = []
    for part in _split_top_level(text):
        column, eq, rest = part.partition("=")
        op, dot, value = rest.partition(".")
        if not column or not eq or not dot or op not in FILTER_OPS:
            raise ValueError(f"invalid filter {part!r}")
        if op == "in":
            if not (value.startswith("(") and value.endswith(")")):
                raise ValueError(f"invalid in-list {value!r}")
            values = tuple(v.strip().strip('"') for v in value[1:-1].split(","))
        else:
            values = (value,)
        conditions.append(Condition(column, op, values))
    return conditions


def binding_matches(binding: Mapping[str, Any], change: Change) -> bool:
    if binding.get("event") not in (change.type, "*"):
        return False
    if binding.get("schema", "public") != change.schema:
        return False
    if binding.get("table") not in (None, "*", change.table):
        return False
    filter_text = binding.get("filter")
    if not filter_text:
        return True
    record = change.record
    return all(cond.matches(record) for cond in parse_filter(filter_text))


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _compare(value: Any, text: str) -> int:
    if isinstance(value, bool):
        left: Any = value
        right: Any = text.lower() == "true"
    elif isinstance(value, int | float | Decimal):
        try:
            left, right = Decimal(str(value)), Decimal(text)
        except InvalidOperation:
            left, right = str(value), text
    else:
        left, right = str(value), text
    return int(left > right) - int(left < right)
