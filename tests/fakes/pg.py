"""Throwaway PostgreSQL databases shaped like a Supabase project (pytest-free helpers).

Each test gets its own database on the local server: the `supabase_realtime`
publication, every migration of `supabase/migrations/` in name order, and a
TEST-ONLY trigger that stands in for Supabase's logical-replication pipeline by
NOTIFYing every row inserted into the published tables, at commit, on `NOTIFY_CHANNEL`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT_S = 2
NOTIFY_CHANNEL = "fake_realtime_changes"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "supabase" / "migrations"

# The notification carries a JSON header line and, after a newline, the row as
# `to_jsonb(NEW)::text` kept verbatim (jsonb text never contains a raw newline), so
# the fake can forward numeric values with their exact scale, as Realtime does.
#
# It is a deferred constraint trigger so it runs at COMMIT: `clock_timestamp()` there
# is the commit time to the millisecond, formatted as Realtime's `commit_timestamp`
# ('YYYY-MM-DD"T"HH24:MI:SS.MS"Z"', UTC), and it is later than `ts` (`now()` is the
# transaction start). The column list follows Realtime's walrus: pg_type.typname in
# attnum order (int8, timestamptz, text, numeric).
_NOTIFY_FUNCTION = """
create schema if not exists fake_realtime;

create or replace function fake_realtime.notify_change() returns trigger
language plpgsql as $fn$
declare
    header jsonb := jsonb_build_object(
        'schema', TG_TABLE_SCHEMA,
        'table', TG_TABLE_NAME,
        'type', TG_OP,
        'commit_timestamp', to_char(
            clock_timestamp() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'columns', (
            select jsonb_agg(
                jsonb_build_object('name', a.attname, 'type', t.typname)
                order by a.attnum)
            from pg_catalog.pg_attribute a
            join pg_catalog.pg_type t on t.oid = a.atttypid
            where a.attrelid = TG_RELID and a.attnum > 0 and not a.attisdropped));
begin
    perform pg_notify(TG_ARGV[0], header::text || chr(10) || to_jsonb(NEW)::text);
    return null;
end
$fn$;
"""

_PUBLISHED_TABLES = """
select schemaname, tablename
from pg_catalog.pg_publication_tables
where pubname = 'supabase_realtime'
order by schemaname, tablename
"""


def database_dsn(name: str, admin_dsn: str = ADMIN_DSN) -> str:
    """The admin DSN pointed at database `name`."""
    return make_conninfo(admin_dsn, dbname=name)


def connect(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)


def check_server(admin_dsn: str = ADMIN_DSN) -> None:
    """Raise psycopg.OperationalError when the server cannot be reached."""
    with connect(admin_dsn) as conn:
        conn.execute("select 1")


def create_database(admin_dsn: str = ADMIN_DSN) -> str:
    """Create an empty `rt_<hex>` database in UTC and return its DSN."""
    name = f"rt_{secrets.token_hex(6)}"
    with connect(admin_dsn) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        # to_jsonb and PostgREST render timestamptz in the session time zone; a
        # Supabase project runs in UTC, so the rendered offset is +00:00.
        conn.execute(
            sql.SQL("alter database {} set timezone to 'UTC'").format(sql.Identifier(name))
        )
    return database_dsn(name, admin_dsn)


def drop_database(dsn: str, admin_dsn: str = ADMIN_DSN) -> None:
    """Terminate every session of the database behind `dsn`, then drop it."""
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    assert isinstance(name, str) and name.startswith("rt_"), name
    with connect(admin_dsn) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = %s and pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def prepare_supabase_shape(dsn: str, migrations_dir: Path = MIGRATIONS_DIR) -> None:
    """Publication, migrations in name order, then the test-only notify trigger."""
    with connect(dsn) as conn:
        conn.execute(
            "do $$ begin"
            " if not exists (select 1 from pg_publication where pubname = 'supabase_realtime')"
            " then create publication supabase_realtime; end if;"
            " end $$"
        )
        for path in sorted(migrations_dir.glob("*.sql")):
            conn.execute(path.read_text(encoding="utf-8").encode())
        install_notify_triggers(conn)


def install_notify_triggers(conn: psycopg.Connection[Any]) -> None:
    """Attach the notify trigger to every table in `supabase_realtime` (as Realtime
    streams exactly the published tables). Call again after publishing a new table."""
    conn.execute(_NOTIFY_FUNCTION.encode())
    for schema, table in conn.execute(_PUBLISHED_TABLES).fetchall():
        target = sql.Identifier(schema, table)
        conn.execute(sql.SQL("drop trigger if exists fake_realtime_notify on {}").format(target))
        conn.execute(
            sql.SQL(
                "create constraint trigger fake_realtime_notify"
                " after insert on {}"
                " deferrable initially deferred"
                " for each row execute function fake_realtime.notify_change({})"
            ).format(target, sql.Literal(NOTIFY_CHANNEL))
        )


def insert_rows(
    dsn: str, rows: Iterable[Mapping[str, Any]], table: str = "tv_datafeed"
) -> list[int]:
    """Insert each row (a dict of column -> value) in its own transaction, in order,
    and return the new ids. `ts` keeps its default, now(), unless a row gives it."""
    ids: list[int] = []
    with connect(dsn) as conn:
        for row in rows:
            query = sql.SQL("insert into {} ({}) values ({}) returning id").format(
                sql.Identifier("public", table),
                sql.SQL(", ").join(sql.Identifier(col) for col in row),
                sql.SQL(", ").join(sql.Placeholder() for _ in row),
            )
            fetched = conn.execute(query, list(row.values())).fetchone()
            assert fetched is not None
            ids.append(int(fetched[0]))
    return ids
