"""Log events are an interface users grep and alert on: every one is a function of the
events package (adapters/events/), named exactly as the event, and README's "Log events"
table lists exactly those functions.

- The public functions of `adapters.events` and the names in README's table are the same
  set, both ways (and `__all__` says so too).
- Each of those functions logs one event: its own name.
- Nothing else under engine/, adapters/ or worker/ logs an event itself: no
  `structlog.get_logger()` outside the events package and the logging set-up
  (adapters/logs.py), and no logger method (`.debug` ... `.critical`) called with an
  event name or on a logger (`log`, `self._log`, ...). Library log handlers (e.g. the
  Realtime client's `logging` records, counted by a handler) are not event emitters.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from adapters import events

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "adapters", "worker")
EVENTS_PACKAGE = "adapters/events/"
LOGGING_SETUP = frozenset({"adapters/logs.py"})
LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception", "critical", "msg"})
EVENT = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


def documented(readme: str) -> set[str]:
    """Backticked names in the first column of README's "Log events" table."""
    section = readme.split("## Log events", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            names |= {n for n in re.findall(r"`([^`]+)`", cells[1]) if EVENT.match(n)}
    return names


def event_functions() -> dict[str, str]:
    """The public functions of the events package: name -> the module defining it."""
    return {
        name: function.__module__
        for name, function in inspect.getmembers(events, inspect.isfunction)
        if not name.startswith("_")
    }


def _modules(root: Path, packages: tuple[str, ...]) -> list[tuple[str, ast.Module]]:
    out = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            out.append((path.relative_to(root).as_posix(), ast.parse(path.read_text())))
    return out


def _is_get_logger(call: ast.Call) -> bool:
    """`structlog.get_logger(...)`, or `get_logger(...)` imported from structlog."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr == "get_logger"
    return isinstance(func, ast.Name) and func.id == "get_logger"


def _emits(call: ast.Call) -> bool:
    """A logger method called with an event name, or on something named like a logger."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in LOG_METHODS:
        return False
    first = call.args[0] if call.args else None
    named = isinstance(first, ast.Constant) and isinstance(first.value, str)
    if named and EVENT.match(first.value):
        return True
    return "log" in ast.unparse(func.value).lower()


def emitters(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """`file:line: call` for each place outside the events package that logs itself."""
    found = []
    for where, tree in _modules(root, packages):
        if where.startswith(EVENTS_PACKAGE) or where in LOGGING_SETUP:
            continue
        calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
        for call in sorted(calls, key=lambda node: (node.lineno, node.col_offset)):
            if _is_get_logger(call) or _emits(call):
                found.append(f"{where}:{call.lineno}: {ast.unparse(call)[:100]}")
    return found


def logged_names(function: ast.FunctionDef) -> set[str]:
    """The event names a function of the events package logs: the string literal first
    argument of a logger method (`log.info("x", ...)`) or of a local bound to one
    (`emit("x", ...)`)."""
    names = set()
    for node in ast.walk(function):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        logger_call = isinstance(node.func, ast.Name) or (
            isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS
        )
        if logger_call and isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
    return names


def test_every_event_function_is_in_the_readme_table_and_every_name_there_is_one() -> None:
    functions = event_functions()
    table = documented((ROOT / "README.md").read_text())
    undocumented = sorted(f"{name} ({functions[name]})" for name in set(functions) - table)
    unknown = sorted(table - set(functions))
    problems = []
    if undocumented:
        problems.append(
            "event functions missing from README's Log events table: " + ", ".join(undocumented)
        )
    if unknown:
        problems.append(
            "in README's Log events table but no function of adapters.events: " + ", ".join(unknown)
        )
    assert not problems, "\n".join(problems)
    assert sorted(events.__all__) == sorted(functions), "adapters/events/__init__.py __all__"


def test_each_event_function_logs_the_event_of_its_own_name() -> None:
    wrong = []
    for where, tree in _modules(ROOT, ("adapters/events",)):
        if Path(where).name.startswith("_"):  # the package's own helpers, not events
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                names = logged_names(node)
                if names != {node.name}:
                    wrong.append(f"{where}:{node.lineno}: {node.name} logs {sorted(names)}")
    assert not wrong, "an event function must log exactly its own name:\n  " + "\n  ".join(wrong)


def test_nothing_outside_the_events_package_logs_an_event_itself() -> None:
    found = emitters()
    assert not found, (
        "log through adapters/events (add a function there and a README row), not here:\n  "
        + "\n  ".join(found)
    )


SAMPLE = """
import logging

import structlog


class Thing:
    def __init__(self):
        self._log = structlog.get_logger("x")

    def work(self, parser, kind, future):
        self._log.info("plain_call", n=1)
        log = self._log.warning
        logging.getLogger("lib").addHandler(None)
        self._log.error(f"row_{kind}")
        parser.error("not an event: spaces")
        future.exception()
        other.info("an_event_name")
"""


def test_the_check_finds_each_way_of_logging_outside_the_package(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SAMPLE)
    found = [line.split(": ", 1)[0] for line in emitters(tmp_path, ("pkg",))]
    assert found == ["pkg/mod.py:9", "pkg/mod.py:12", "pkg/mod.py:15", "pkg/mod.py:18"]
    readme = "# x\n## Log events\n\n| event | when |\n|---|---|\n| `a_b`, `c` / `d` | `not_me` |\n"
    assert documented(readme + "## Next\n| `e` | x |\n") == {"a_b", "c", "d"}
