"""PostgREST query-string grammar -> parameterized SQL, for FakePostgrest.

Identifiers are whitelisted against the table's columns and composed with
psycopg.sql; every value travels as a bind parameter of unknown type, so
PostgreSQL casts it to the column's type as PostgREST's literals do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

RESERVED = frozenset({"select", "order", "limit", "offset", "on_conflict", "columns"})
COMPARISONS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
PATTERNS = {"like": "like", "ilike": "ilike"}
IS_VALUES = {"null": "null", "not_null": "not null", "true": "true", "false": "false"}


class ApiError(Exception):
    """An error answer in PostgREST's shape: {code, message, details, hint}."""

    def __init__(
        self, status: int, code: str, message: str, details: str | None = None,
        hint: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.hint = details, hint

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "hint": self.hint,
                "message": self.message}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Table:
    schema: str
    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def column(self, name: str) -> sql.Identifier:
        if name not in self.columns:
            raise ApiError(400, "42703", f"column {self.name}.{name} does not exist")
        return sql.Identifier(name)


@dataclass(frozen=True, slots=True)
class Read:
    """SELECT returning (json array text, number of rows); `count` gives the total."""

    query: sql.Composed
    args: list[Any]
    count: sql.Composed
    count_args: list[Any]
    offset: int


def build_read(table: Table, params: Sequence[tuple[str, str]], max_rows: int) -> Read:
    single = {k: v for k, v in params if k in RESERVED}
    where, args = build_where(table, [(k, v) for k, v in params if k not in RESERVED])
    limit = parse_int("limit", single.get("limit"))
    limit = max_rows if limit is None else min(limit, max_rows)
    offset = parse_int("offset", single.get("offset")) or 0
    inner = sql.SQL("select {} from {} where {}{} limit %s offset %s").format(
        parse_select(table, single.get("select")), table.ident, where,
        parse_order(table, single.get("order")),
    )  # fmt: skip
    query = sql.SQL("select coalesce(json_agg(t), '[]')::text, count(*) from ({}) t").format(inner)
    count = sql.SQL("select count(*) from {} where {}").format(table.ident, where)
    return Read(query, [*args, limit, offset], count, list(args), offset)


def parse_select(table: Table, value: str | None) -> sql.Composable:
    if value is None or value.strip() == "*":
        return sql.SQL("*")
    names = [part.strip() for part in value.split(",")]
    for name in names:
        if not name.isidentifier():
            raise ApiError(400, "PGRST100", f'"failed to parse select parameter ({value})"')
    return sql.SQL(", ").join(table.column(name) for name in names)


def parse_order(table: Table, value: str | None) -> sql.Composable:
    if not value:
        return sql.SQL("")
    terms = []
    for term in value.split(","):
        name, *modifiers = term.strip().split(".")
        words = {"asc": "asc", "desc": "desc", "nullsfirst": "nulls first",
                 "nullslast": "nulls last"}  # fmt: skip
        if any(m not in words for m in modifiers):
            raise ApiError(400, "PGRST100", f'"failed to parse order ({value})"')
        suffix = " ".join(words[m] for m in modifiers)
        terms.append(sql.SQL("{} {}").format(table.column(name), sql.SQL(suffix)))
    return sql.SQL(" order by ") + sql.SQL(", ").join(terms)


def parse_int(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise ApiError(400, "PGRST100", f'"failed to parse {name} ({value})"')
    return int(value)


def build_where(table: Table, filters: Sequence[tuple[str, str]]) -> tuple[sql.Composed, list[Any]]:
    clauses: list[sql.Composable] = [sql.SQL("true")]
    args: list[Any] = []
    for column, expression in filters:
        clause, values = _condition(table.column(column), expression)
        clauses.append(clause)
        args.extend(values)
    return sql.SQL(" and ").join(clauses), args


def _condition(column: sql.Identifier, expression: str) -> tuple[sql.Composable, list[Any]]:
    negate = expression.startswith("not.")
    op, dot, value = expression.removeprefix("not.").partition(".")
    if not dot:
        raise _filter_error(expression)
    values: list[Any] = [value]
    if op in COMPARISONS:
        clause = sql.SQL("{} {} %s").format(column, sql.SQL(COMPARISONS[op]))
    elif op in PATTERNS:
        values = [value.replace("*", "%")]
        clause = sql.SQL("{} {} %s").format(column, sql.SQL(PATTERNS[op]))
    elif op == "in":
        values = _in_list(value, expression)
        placeholders = sql.SQL(", ").join(sql.Placeholder() for _ in values)
        clause = sql.SQL("{} in ({})").format(column, placeholders)
    elif op == "is" and value in IS_VALUES:
        values = []
        clause = sql.SQL("{} is {}").format(column, sql.SQL(IS_VALUES[value]))
    else:
        raise _filter_error(expression)
    return (sql.SQL("not ({})").format(clause) if negate else clause), values


def _in_list(value: str, expression: str) -> list[Any]:
    if not (value.startswith("(") and value.endswith(")")):
        raise _filter_error(expression)
    items, current, quoted = [], "", False
    for char in value[1:-1]:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return items


def _filter_error(expression: str) -> ApiError:
    return ApiError(
        400, "PGRST100", f'"failed to parse filter ({expression})" (line 1, column 1)',
        "unexpected end of input expecting operator (eq, gt, ...)",
    )  # fmt: skip


def build_insert(
    table: Table, keys: Sequence[str], prefer: set[str], on_conflict: str | None
) -> sql.Composed:
    """INSERT ... SELECT from json_populate_recordset(%s): PostgreSQL does the typing."""
    for key in keys:
        if key not in table.columns:
            raise ApiError(
                400, "PGRST204", f"Could not find the '{key}' column of '{table.name}'"
                " in the schema cache",
            )  # fmt: skip
    columns = sql.SQL(", ").join(sql.Identifier(k) for k in keys)
    query = sql.SQL(
        "insert into {t} ({c}) select {c} from json_populate_recordset(null::{t}, %s)"
    ).format(t=table.ident, c=columns)
    target = [c.strip() for c in on_conflict.split(",")] if on_conflict else table.primary_key
    conflict = sql.SQL(", ").join(table.column(c) for c in target)
    if "resolution=ignore-duplicates" in prefer:
        query += sql.SQL(" on conflict ({}) do nothing").format(conflict)
    elif "resolution=merge-duplicates" in prefer:
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(k)) for k in keys
        )
        query += sql.SQL(" on conflict ({}) do update set {}").format(conflict, updates)
    if "return=representation" in prefer:
        query = sql.SQL(
            "with ins as ({} returning *) select coalesce(json_agg(ins), '[]')::text from ins"
        ).format(query)
    return query
