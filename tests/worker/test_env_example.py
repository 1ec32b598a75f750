"""`.env.example` documents every setting, and copied as is it is a valid configuration."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    fields = {name.upper() for name in Settings.model_fields if name != "account_ids"}
    assert fields - documented == set()
    assert "ACCOUNT_MAIN" in documented  # the ACCOUNT_<NAME> family


def test_env_example_as_dot_env_is_valid(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    done = subprocess.run(
        [sys.executable, "-m", "worker", "check-config"], cwd=tmp_path, capture_output=True,
        text=True, timeout=60, check=False, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # BROKER is empty there: check-config shows the broker in effect (paper, no credentials).
    assert '"BROKER": "paper"' in done.stdout and '"TRADING_ENABLED": false' in done.stdout
