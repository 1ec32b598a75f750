"""FakePostgrest: the Supabase REST read/insert routes over a real local database.

    with FakePostgrest(dsn, api_key="test-key", max_rows=1000) as rest:   # or async with
        httpx.get(f"{rest.url}/rest/v1/tv_datafeed", params=..., headers=...)

GET /rest/v1/<table>: select, filters (eq neq gt gte lt lte like ilike in is, not.),
order, limit, offset, a silent row cap (`max_rows`, Supabase's default 1000),
Content-Range, `Prefer: count=exact`. POST /rest/v1/<table>: a JSON object or array,
`Prefer: return=minimal|representation`, `resolution=ignore-duplicates|merge-duplicates`
with `on_conflict=<cols>`. Both need `apikey: <key>` and `Authorization: Bearer <key>`.
The JSON comes from PostgreSQL's json_agg, as PostgREST's does: numerics keep their
scale and timestamptz is ISO 8601 with offset (the test database runs in UTC).
Fault injection: fail_next(n, status), delay(seconds). Every request is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import psycopg

from tests.fakes.postgrest_http import HttpServer, Reply
from tests.fakes.postgrest_query import ApiError, Table, build_insert, build_read

PREFIX = "/rest/v1/"

_COLUMNS = """
select column_name from information_schema.columns
where table_schema = 'public' and table_name = %s order by ordinal_position
"""
_PRIMARY_KEY = """
select a.attname from pg_index i
join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
where i.indrelid = to_regclass(format('public.%%I', %s::text)) and i.indisprimary
"""


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    params: list[tuple[str, str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def param(self, name: str) -> list[str]:
        return [v for k, v in self.params if k == name]


class FakePostgrest:
    def __init__(
        self, dsn: str, api_key: str = "test-key", *, max_rows: int = 1000,
        host: str = "127.0.0.1", port: int = 0,
    ) -> None:  # fmt: skip
        """`port` 0: an ephemeral one (`self.port` after start)."""
        self.dsn, self.api_key, self.max_rows, self.host = dsn, api_key, max_rows, host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._failures: list[tuple[int, str | None] | None] = []  # None: answer normally
        self._delay_s = 0.0
        self._pool = _Pool(dsn)
        self._httpd: HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The SUPABASE_URL-style base; tables live under f"{url}/rest/v1/"."""
        return f"http://{self.host}:{self.port}"

    # ----- lifecycle

    def start(self) -> None:
        self._httpd = HttpServer((self.host, self.port), self.respond)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="fake-postgrest", daemon=True,
        )  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_open_connections()
            self._httpd.server_close()
        self._pool.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await asyncio.to_thread(self.stop)

    # ----- fault injection

    def fail_next(
        self, n: int = 1, status: int = 500, body: str | None = None, *, after: int = 0
    ) -> None:
        """Answer the next n requests (after `after` normal ones) with `status` (and
        `body`, default a PostgREST error JSON) without touching the database."""
        with self._lock:
            self._failures.extend([None] * after + [(status, body)] * n)

    def delay(self, seconds: float) -> None:
        """Hold every request this long before answering (requests stay concurrent)."""
        self._delay_s = seconds

    # ----- request handling (runs on the server's handler threads)

    def respond(self, method: str, target: str, headers: Message, body: bytes) -> Reply:
        split = urlsplit(target)
        params = parse_qsl(split.query, keep_blank_values=True)
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(method, split.path, params, lowered, body))
            failure = self._failures.pop(0) if self._failures else None
        if self._delay_s:
            time.sleep(self._delay_s)
        if failure is not None:
            status, text = failure
            error = ApiError(status, "PGRST000", "injected failure")
            return status, _JSON, (text if text is not None else json.dumps(error.body())).encode()
        prefer = {p.strip() for h in headers.get_all("Prefer") or [] for p in h.split(",")}
        try:
            self._authorize(lowered)
            table = self._table(split.path)
            if method == "GET":
                return self._read(table, params, prefer)
            if method == "POST":
                return self._insert(table, params, prefer, body)
            raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")
        except ApiError as exc:
            return exc.status, _JSON, json.dumps(exc.body()).encode()
        except psycopg.Error as exc:
            error = _database_error(exc)
            return error.status, _JSON, json.dumps(error.body()).encode()
        except Exception as exc:  # noqa: BLE001 -- a bug in the fake answers 500, not a dropped socket
            error = ApiError(500, "PGRST000", f"fake postgrest failed: {exc!r}")
            return error.status, _JSON, json.dumps(error.body()).encode()

    def _authorize(self, headers: dict[str, str]) -> None:
        if headers.get("apikey") != self.api_key:
            raise ApiError(
                401, "PGRST301", "No API key found in request" if "apikey" not in headers
                else "Invalid API key", hint="Send the project key in the `apikey` header.",
            )  # fmt: skip
        if headers.get("authorization") != f"Bearer {self.api_key}":
            raise ApiError(401, "PGRST301", "JWSError JWSInvalidSignature")

    def _table(self, path: str) -> Table:
        name = path.removeprefix(PREFIX)
        if not path.startswith(PREFIX) or not name or "/" in name:
            raise ApiError(404, "PGRST125", "Invalid path specified in request URL")
        with self._pool.connection() as conn:
            columns = tuple(r[0] for r in conn.execute(_COLUMNS, (name,)).fetchall())
            if not columns:
                raise ApiError(
                    404, "PGRST205", f"Could not find the table 'public.{name}' in the schema cache"
                )
            key = tuple(r[0] for r in conn.execute(_PRIMARY_KEY, (name,)).fetchall())
        return Table("public", name, columns, key)

    def _read(self, table: Table, params: list[tuple[str, str]], prefer: set[str]) -> Reply:
        read = build_read(table, params, self.max_rows)
        with self._pool.connection() as conn:
            row = conn.execute(read.query, read.args).fetchone()
            assert row is not None
            text, n = row
            total = "*"
            if "count=exact" in prefer:
                counted = conn.execute(read.count, read.count_args).fetchone()
                total = str(counted[0]) if counted else "0"
        first, last = read.offset, read.offset + n - 1
        content_range = f"{first}-{last}/{total}" if n else f"*/{total}"
        partial = total != "*" and n < int(total)
        return 206 if partial else 200, {**_JSON, "Content-Range": content_range}, text.encode()

    def _insert(
        self, table: Table, params: list[tuple[str, str]], prefer: set[str], body: bytes
    ) -> Reply:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
        rows = data if isinstance(data, list) else [data]
        if not rows or not all(isinstance(r, dict) for r in rows):
            raise ApiError(400, "PGRST102", "Empty or invalid json")
        named = dict(params).get("columns")
        keys = [c.strip() for c in named.split(",")] if named else list(rows[0])
        if not named and any(set(r) != set(keys) for r in rows):
            raise ApiError(400, "PGRST102", "All object keys must match")
        query = build_insert(table, keys, prefer, dict(params).get("on_conflict"))
        with self._pool.connection() as conn:
            cur = conn.execute(query, [json.dumps(rows)])
            fetched = cur.fetchone() if cur.description else None
        headers = {"Content-Range": "*/*"}
        if "return=representation" in prefer and fetched is not None:
            return 201, {**_JSON, **headers}, str(fetched[0]).encode()
        return 201, headers, b""


_JSON = {"Content-Type": "application/json; charset=utf-8"}


def _database_error(exc: psycopg.Error) -> ApiError:
    state = exc.sqlstate or ""
    exact = {"23503": 409, "23505": 409, "42P01": 404, "42883": 404, "42501": 403, "25006": 405}
    if state in exact:
        status = exact[state]
    elif state[:2] in ("08", "53", "57") or isinstance(exc, psycopg.OperationalError):
        status = 503
    elif state[:2] in ("21", "22", "23", "42", "P0", "0L", "28"):
        status = 400
    else:
        status = 500
    diag = exc.diag
    message = diag.message_primary or str(exc)
    return ApiError(status, state or "PGRST000", message, diag.message_detail, diag.message_hint)


class _Pool:
    """A few reusable autocommit connections for the handler threads."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._idle: queue.SimpleQueue[psycopg.Connection[Any]] = queue.SimpleQueue()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=2)
        try:
            yield conn
        finally:
            if conn.closed or conn.broken:
                conn.close()
            else:
                self._idle.put(conn)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
