"""`engine/` is a functional core (STYLE.md rules 1, 3, 5, 16): it imports only the
standard library and itself, never reads the clock or the environment, opens no files
and does not log. Checked on the source's AST."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"

# Standard library, but not for a functional core: event loop, logging, raw I/O.
BANNED_STDLIB = {"asyncio", "logging", "socket", "subprocess"}
# Fully qualified names that read the clock or the environment, or import dynamically.
BANNED_NAMES = {
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today",
    "datetime.date.today", "time.time", "time.time_ns", "time.monotonic",
    "time.monotonic_ns", "time.perf_counter", "time.localtime", "time.gmtime",
    "os.environ", "os.environb", "os.getenv", "os.putenv", "importlib.import_module",
    "builtins.open", "io.open", "os.open",
}  # fmt: skip
BANNED_CALLS = {"open", "print", "__import__", "input"}  # builtins, called by bare name
FILE_METHODS = {"open", "read_text", "write_text", "read_bytes", "write_bytes"}


def _allowed_module(top: str) -> bool:
    return top == "engine" or (top in sys.stdlib_module_names and top not in BANNED_STDLIB)


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> fully qualified name, for every import in the module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _import_violations(node: ast.AST) -> list[str]:
    found = []
    if isinstance(node, ast.Import):
        found += [a.name for a in node.names if not _allowed_module(a.name.split(".")[0])]
    elif isinstance(node, ast.ImportFrom) and node.level == 0:
        module = node.module or ""
        if not _allowed_module(module.split(".")[0]):
            found.append(module)
        found += [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in BANNED_NAMES]
    return [f"line {node.lineno}: import of {name}" for name in found]


def _use_violations(node: ast.AST, aliases: dict[str, str]) -> list[str]:
    found = []
    if isinstance(node, ast.Attribute | ast.Name):
        parts = _dotted(node)
        if parts:
            qualified = ".".join([aliases.get(parts[0], parts[0]), *parts[1:]])
            if qualified in BANNED_NAMES:
                found.append(f"line {node.lineno}: use of {qualified}")
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in BANNED_CALLS and func.id not in aliases:
            found.append(f"line {node.lineno}: call of {func.id}()")
        if isinstance(func, ast.Attribute) and func.attr in FILE_METHODS:
            found.append(f"line {node.lineno}: file access .{func.attr}()")
    return found


def violations(source: str, filename: str = "<snippet>") -> list[str]:
    tree = ast.parse(source, filename)
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        found += _import_violations(node)
        found += _use_violations(node, aliases)
    return sorted(set(found))


ENGINE_FILES = sorted(ENGINE.rglob("*.py"))


def test_engine_sources_are_found() -> None:
    names = {p.name for p in ENGINE_FILES}
    assert {"aggregator.py", "decide.py", "indicators.py", "normalize.py"} <= names


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(ENGINE)))
def test_engine_module_is_a_functional_core(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), str(path)) == []


# The checker itself must catch what it is for: each snippet is one violation.
@pytest.mark.parametrize(
    "snippet",
    [
        "import numpy",
        "import structlog.stdlib",
        "from httpx import Client",
        "from supabase import create_client",
        "import asyncio",
        "from logging import getLogger",
        "import datetime\nx = datetime.datetime.now()",
        "from datetime import datetime\nx = datetime.now(tz=None)",
        "from datetime import datetime as D\nx = D.utcnow()",
        "from datetime import date\nx = date.today()",
        "import time\nx = time.time()",
        "import time as t\nx = t.monotonic()",
        "from time import time",
        "import os\nx = os.environ['HOME']",
        "import os\nx = os.environ.get('HOME')",
        "import os\nx = os.getenv('HOME')",
        "from os import environ",
        "f = open('x')",
        "from pathlib import Path\nx = Path('x').read_text()",
        "import io\nf = io.open('x')",
        "print('hello')",
        "import importlib\nm = importlib.import_module('httpx')",
        "m = __import__('httpx')",
    ],
)
def test_checker_catches(snippet: str) -> None:
    assert violations(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "from __future__ import annotations",
        "from engine.model import Bar1m",
        "from . import model",
        "import math, collections.abc",
        "from datetime import UTC, datetime\nx = datetime.fromtimestamp(0, UTC)",
        "from zoneinfo import ZoneInfo",
        "x = bar.open\ny = parent.open + 1",
        "import time as clock_free\n",
    ],
)
def test_checker_allows(snippet: str) -> None:
    assert violations(snippet) == []
