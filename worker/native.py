"""Which build of the hot path this process runs: mypyc-compiled or interpreted.

`tools/build_native.py` compiles `HOT_MODULES` in place;
Python imports a module's compiled `.so` before its `.py`. Both give the same results
(tests/worker/test_native_build.py); the compiled one is ~2-3x faster.
"""

from __future__ import annotations

import importlib
from pathlib import Path

HOT_MODULES = (
    "engine.normalize", "engine.buckets", "engine.indicators", "engine.aggregator",
    "engine.decide", "engine.execution",
    "adapters.dryrun", "adapters.files.timefmt", "adapters.files.records", "adapters.files.csvread",
    "worker.pipeline", "worker.trader", "worker.replay",
)  # fmt: skip


def native_modules() -> dict[str, bool]:
    """Module -> compiled? for the hot-path modules."""
    out = {}
    for name in HOT_MODULES:
        path = getattr(importlib.import_module(name), "__file__", "") or ""
        out[name] = path.endswith(".so")
    return out


def build_name() -> str:
    """ "compiled", "interpreted" or "mixed" (a partial build: rebuild it)."""
    flags = set(native_modules().values())
    if flags == {True}:
        return "compiled"
    return "interpreted" if flags == {False} else "mixed"


def hot_sources(root: Path) -> list[Path]:
    """The source file of each hot-path module under the project `root`."""
    return [root / (name.replace(".", "/") + ".py") for name in HOT_MODULES]


def stale_modules(root: Path) -> list[str]:
    """Compiled modules older than a source of their package (edited or updated since
    the build, e.g. by a `git pull`): they would run old code. Empty when the build is
    current or absent."""
    if not (root / "tools" / "build_native.py").is_file():
        return []  # not a source checkout: nothing is built in place here
    out = []
    for src in hot_sources(root):
        compiled = list(src.parent.glob(f"{src.stem}.*.so"))
        if not compiled:
            continue
        newest = max(p.stat().st_mtime for p in src.parent.rglob("*.py"))
        out += [f"{src.parent.name}/{so.name}" for so in compiled if so.stat().st_mtime < newest]
    return out


def stale_message(root: Path) -> str | None:
    """The one line a process refuses to start with, or None when the build is current."""
    old = stale_modules(root)
    if not old:
        return None
    return (
        f"compiled modules are older than their sources ({', '.join(old)}): they would run "
        "old code; rebuild with `make .venv/.native` (or `python tools/build_native.py`), "
        "or remove them with `python tools/build_native.py --clean`"
    )
