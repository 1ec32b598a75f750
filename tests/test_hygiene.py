"""A fresh clone stays clean and says what it is doing: runtime state is git-ignored, and
`make run`'s slow first steps (virtualenv, install) each print a line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ignored_names() -> set[str]:
    """The top-level .gitignore's patterns, without their slashes."""
    lines = (ROOT / ".gitignore").read_text().splitlines()
    return {line.strip().strip("/") for line in lines if line.strip() and line[0] != "#"}


def test_the_runtime_state_directory_is_git_ignored() -> None:
    from worker.settings import Settings

    state = Settings.model_fields["state_dir"].default  # relative: under the checkout
    assert not state.is_absolute() and state.parts[0] in _ignored_names()
    assert "out" in _ignored_names()  # the other runtime output


def test_make_run_says_what_each_slow_step_does_before_it() -> None:
    """`make -n -B run` lists every command the first run executes, without running any."""
    make = shutil.which("make")
    assert make is not None, "make is needed for `make run` itself"
    done = subprocess.run(
        [make, "-n", "-B", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    steps = ("-m venv", "-r requirements-dev.lock", "--no-deps -e .", "-m worker run")
    for step in steps:
        (index,) = [i for i, line in enumerate(lines) if step in line and "echo" not in line]
        before = lines[index - 1]
        assert "echo" in before and '"make: ' in before, (step, before)
