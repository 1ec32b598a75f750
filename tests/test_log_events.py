"""Every log event the program emits is in README's "Log events" table, and every name
there is emitted somewhere: event names are an interface users grep and alert on.

The names are collected from the source's AST (engine/, adapters/, worker/):
- `<anything>.info("name", ...)` and .debug/.warning/.error/.exception/.critical/.msg —
  structlog loggers, bound or not (`structlog.get_logger().bind(...).info(...)`);
- a local bound to a logger method (`log = self._log.debug if x else self._log.warning`)
  and then called (`log("name", ...)`);
- a name taken from a module-level dict (`self._log.info(EVENTS[kind], ...)`): every
  string value of that dict;
- a small helper that passes one of its parameters on as the event name
  (`def _say(self, event, **kw): self._log.info(event, **kw)`): every literal passed
  to it, through any number of such helpers.
Anything else in an event name's place (an f-string, a computed value) fails the test
with its file and line: make the name literal so that it can be grepped.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "adapters", "worker")
LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception", "critical", "msg"})
EVENT = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


@dataclass
class Found:
    """What the source says: emitted names (with where), and what could not be read."""

    names: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    dynamic: list[str] = field(default_factory=list)  # "file:line: why"


@dataclass
class _Relay:
    """A function that passes its parameter `param` (at `index`) on as an event name."""

    param: str
    index: int  # position among the call's positional arguments (self excluded)


def _modules(root: Path, packages: tuple[str, ...]) -> list[tuple[str, ast.Module]]:
    out = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            out.append((str(path.relative_to(root)), ast.parse(path.read_text(), str(path))))
    return out


def _dict_values(modules: list[tuple[str, ast.Module]]) -> dict[str, list[str]]:
    """Module-level `NAME = {...: "event", ...}` -> its string values (by NAME)."""
    out: dict[str, list[str]] = {}
    for _, tree in modules:
        for node in tree.body:
            target, value = None, None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            if isinstance(target, ast.Name) and isinstance(value, ast.Dict):
                strings = [
                    v.value
                    for v in value.values
                    if isinstance(v, ast.Constant) and isinstance(v.value, str)
                ]
                if strings:
                    out[target.id] = strings
    return out


def _is_log_method(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in LOG_METHODS


def _own_nodes(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """The nodes of `func`'s body, not those of functions defined inside it (each of
    those is read on its own, with its own parameters)."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = [func]
    while todo:
        node = todo.pop(0)  # in source order
        out.append(node)
        todo += [
            child
            for child in ast.iter_child_nodes(node)
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
    return out


def _logger_locals(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Locals assigned a logger method, e.g. `log = self._log.debug if x else ...`."""
    names = set()
    for node in _own_nodes(func):
        if isinstance(node, ast.Assign) and any(_is_log_method(n) for n in ast.walk(node.value)):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    names = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
    return names[1:] if names and names[0] in ("self", "cls") else names


class _Collector:
    def __init__(self, root: Path, packages: tuple[str, ...]) -> None:
        self.modules = _modules(root, packages)
        self.dicts = _dict_values(self.modules)
        self.found = Found()
        self.relays: dict[str, _Relay] = {}

    def run(self) -> Found:
        for where, tree in self.modules:
            for func in ast.walk(tree):
                if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                    self._function(where, func)
        self._relayed()
        return self.found

    def _function(self, where: str, func: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        loggers = _logger_locals(func)
        params = _params(func)
        for call in _own_nodes(func):
            if not isinstance(call, ast.Call) or not call.args:
                continue
            named_local = isinstance(call.func, ast.Name) and call.func.id in loggers
            if _is_log_method(call.func) or named_local:
                self._event_arg(where, func, call.args[0], params)

    def _event_arg(
        self,
        where: str,
        func: ast.FunctionDef | ast.AsyncFunctionDef,
        arg: ast.expr,
        params: list[str],
    ) -> None:
        at = f"{where}:{arg.lineno}"
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            if EVENT.match(arg.value):  # other text is not an event (argparse's .error)
                self.found.names[arg.value].append(at)
        elif isinstance(arg, ast.IfExp):
            for branch in (arg.body, arg.orelse):
                self._event_arg(where, func, branch, params)
        elif (
            isinstance(arg, ast.Subscript)
            and isinstance(arg.value, ast.Name)
            and arg.value.id in self.dicts
        ):
            for name in self.dicts[arg.value.id]:
                self.found.names[name].append(at)
        elif isinstance(arg, ast.Name) and arg.id in params:
            self.relays[func.name] = _Relay(arg.id, params.index(arg.id))
        else:
            self.found.dynamic.append(f"{at}: {ast.unparse(arg)}")

    def _relayed(self) -> None:
        """Literals passed to a relay, through relays of relays (to a fixed point)."""
        done: set[tuple[str, int, int]] = set()  # call sites already read
        while True:
            before = len(self.relays)
            for where, tree in self.modules:
                for func in ast.walk(tree):
                    if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                        self._relay_calls(where, func, done)
            if len(self.relays) == before:
                return

    def _relay_calls(
        self,
        where: str,
        func: ast.FunctionDef | ast.AsyncFunctionDef,
        done: set[tuple[str, int, int]],
    ) -> None:
        for call in _own_nodes(func):
            if not isinstance(call, ast.Call):
                continue
            relay = self.relays.get(_callee(call) or "")
            site = (where, call.lineno, call.col_offset)
            if relay is None or site in done:
                continue
            done.add(site)
            arg = next((k.value for k in call.keywords if k.arg == relay.param), None)
            if arg is None and len(call.args) > relay.index:
                arg = call.args[relay.index]
            if arg is not None:
                self._event_arg(where, func, arg, _params(func))


def emitted(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> Found:
    return _Collector(root, packages).run()


def documented(readme: str) -> set[str]:
    """Backticked names in the first column of README's "Log events" table."""
    section = readme.split("## Log events", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            names |= {n for n in re.findall(r"`([^`]+)`", cells[1]) if EVENT.match(n)}
    return names


def test_every_emitted_event_is_documented_and_every_documented_one_emitted() -> None:
    found = emitted()
    table = documented((ROOT / "README.md").read_text())
    undocumented = {name: where for name, where in sorted(found.names.items()) if name not in table}
    unused = sorted(table - set(found.names))
    problems = []
    if found.dynamic:
        problems.append(
            "event names the test cannot read (make them literal):\n  " + "\n  ".join(found.dynamic)
        )
    if undocumented:
        problems.append(
            "emitted but missing from README's Log events table:\n  "
            + "\n  ".join(f"{name}  ({', '.join(where)})" for name, where in undocumented.items())
        )
    if unused:
        problems.append("in README's Log events table but emitted nowhere: " + ", ".join(unused))
    assert not problems, "\n".join(problems)


SAMPLE = """
import structlog

EVENTS = {int: "from_a_table", str: "also_from_the_table"}


class Thing:
    def __init__(self):
        self._log = structlog.get_logger("x").bind(part="thing")

    def work(self, ok, kind):
        self._log.info("plain_call", n=1)
        structlog.get_logger().warning("unbound_call")
        self._log.exception("in_an_exception")
        log = self._log.info if ok else self._log.warning
        log("through_a_local")
        self._log.info(EVENTS[kind])
        self._log.debug("either_this" if ok else "or_that")
        self._say("through_a_helper", x=1)
        self._relay(event="by_keyword")
        self._log.info(f"row_{kind}")
        self._log.error(kind.name)
        self.parser.error("not an event: spaces")

    def _say(self, event, **fields):
        self._log.info(event, **fields)

    def _relay(self, event):
        self._say(event)

    def outer(self):
        def inner(name):
            self._log.info(name)

        inner("from_a_nested_helper")
"""


def test_the_collector_reads_every_way_an_event_is_emitted(tmp_path: Path) -> None:
    """The collector itself, on a module with each pattern the docstring names."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SAMPLE)
    found = emitted(tmp_path, ("pkg",))
    assert sorted(found.names) == sorted([
        "plain_call", "unbound_call", "in_an_exception", "through_a_local", "from_a_table",
        "also_from_the_table", "either_this", "or_that", "through_a_helper", "by_keyword",
        "from_a_nested_helper",
    ])  # fmt: skip
    assert found.names["plain_call"] == ["pkg/mod.py:12"]
    assert found.dynamic == ["pkg/mod.py:21: f'row_{kind}'", "pkg/mod.py:22: kind.name"]
    readme = "# x\n## Log events\n\n| event | when |\n|---|---|\n| `a_b`, `c` / `d` | `not_me` |\n"
    assert documented(readme + "## Next\n| `e` | x |\n") == {"a_b", "c", "d"}
