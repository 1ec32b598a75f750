"""Suite-wide guards: no test, and no process a test starts, reaches beyond loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakes.pg_fixtures"]

_GUARD_DIR = Path(__file__).parent / "netguard"
# Child processes (the worker under test) load tests/netguard/sitecustomize.py at start.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(_GUARD_DIR), os.environ.get("PYTHONPATH", "")) if p
)

from tests.netguard.sitecustomize import (  # noqa: E402 -- after PYTHONPATH is set
    NetworkBlocked,
    install,
    uninstall,
)

__all__ = ["NetworkBlocked"]


@pytest.fixture(autouse=True, scope="session")
def _block_network() -> Iterator[None]:
    install()
    yield
    uninstall()
