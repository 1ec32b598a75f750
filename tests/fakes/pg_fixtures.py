"""pytest fixtures over tests.fakes.pg: one fresh Supabase-shaped database per test,
and the two fake Supabase services on top of it.

Load with `pytest_plugins = ["tests.fakes.pg_fixtures"]` in the root conftest.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from tests.fakes import pg
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.realtime_server import FakeRealtime

API_KEY = "test-key"


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """DSN of a new database with the migrations applied; dropped after the test.

    Skips when no PostgreSQL answers on 127.0.0.1:5432, unless `CI` is set: there
    these tests are required, so an unreachable server fails them."""
    try:
        pg.check_server()
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}".strip()
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    dsn = pg.create_database()
    try:
        pg.prepare_supabase_shape(dsn)
        yield dsn
    finally:
        pg.drop_database(dsn)


@pytest.fixture
async def fake_realtime(pg_dsn: str) -> AsyncIterator[FakeRealtime]:
    """A running FakeRealtime on the test database; `API_KEY` is its key."""
    async with FakeRealtime(pg_dsn, api_key=API_KEY) as server:
        yield server


@pytest.fixture
async def fake_postgrest(pg_dsn: str) -> AsyncIterator[FakePostgrest]:
    """A running FakePostgrest on the test database; `API_KEY` is its key."""
    async with FakePostgrest(pg_dsn, api_key=API_KEY) as server:
        yield server
