"""Compile the hot path with mypyc, in place: `engine/aggregator.py` gains an
`engine/aggregator.cpython-311-….so` beside it, which Python imports first.

    .venv/bin/python tools/build_native.py          # build (the Makefile does this)
    .venv/bin/python tools/build_native.py --clean  # remove; back to interpreted

The modules are `worker.native.HOT_MODULES`; the sources stay the only
truth (the compiled modules are built from them, never committed). Interpreted and
compiled runs give byte-identical replays (tests/worker/test_native_build.py).

mypyc needs a C compiler. Without one (or if mypyc fails) this removes any compiled
module, prints one line and exits 0: the worker then runs interpreted, slower, with the
same results. `worker_started` logs which one runs (`native`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker.native import hot_sources  # noqa: E402 -- after the project is on the path


def native_sources() -> list[Path]:
    return hot_sources(ROOT)


def compiled_files() -> list[Path]:
    """Every compiled artefact of ours: the modules' .so and mypyc's shared group lib."""
    out = [so for src in native_sources() for so in src.parent.glob(f"{src.stem}.*.so")]
    packages = {src.relative_to(ROOT).parts[0] for src in native_sources()}
    return out + [so for pkg in sorted(packages) for so in (ROOT / pkg).glob("*__mypyc.*.so")]


def clean() -> None:
    for path in compiled_files():
        path.unlink()


def build() -> bool:
    from mypyc.build import mypycify
    from setuptools import setup

    # One group (one shared library) per top-level package, kept inside the package
    # (`engine/_native__mypyc.….so`), so an installed package finds it wherever it runs.
    groups: dict[str, list[str]] = {}
    for src in native_sources():
        rel = src.relative_to(ROOT)
        groups.setdefault(f"{rel.parts[0]}._native", []).append(str(rel))
    with tempfile.TemporaryDirectory(prefix="rt-native-") as temp:
        extensions = mypycify(
            [path for paths in groups.values() for path in paths],
            opt_level="3",
            target_dir=str(Path(temp) / "c"),
            separate=[(paths, name) for name, paths in groups.items()],
        )
        setup(
            name="reduction-trigger-native",
            ext_modules=extensions,
            script_args=[
                "-q",
                "build_ext",
                "--inplace",
                "--build-temp",
                temp,
                "--build-lib",
                temp,
                "--parallel",
                str(os.cpu_count() or 1),
            ],
        )
    return all(list(src.parent.glob(f"{src.stem}.*.so")) for src in native_sources())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules")
    args = parser.parse_args()
    clean()
    if args.clean:
        return 0
    os.chdir(ROOT)  # mypycify and build_ext --inplace work relative to the project
    try:
        ok = build()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 -- any failure: run interpreted
        ok, reason = False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    else:
        reason = "a module was not built"
    if not ok:
        clean()
        print(f"native build skipped ({reason}); the worker runs interpreted", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
