"""Which build of the hot path this process runs: mypyc-compiled or interpreted.

`tools/build_native.py` compiles `HOT_MODULES` in place;
Python imports a module's compiled `.so` before its `.py`. Both give the same results
(tests/worker/test_native_build.py); the compiled one is ~2-3x faster.
"""

from __future__ import annotations

import importlib

HOT_MODULES = (
    "engine.normalize", "engine.buckets", "engine.indicators", "engine.aggregator",
    "engine.decide",
    "adapters.files.timefmt", "adapters.files.records", "adapters.files.csvread",
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
