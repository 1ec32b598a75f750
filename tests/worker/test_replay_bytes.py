"""The replay's bytes are a contract: 20 days of quirky rows (bench/quirky_year.py:
duplicates, conflicts, invalid rows, other symbols and timeframes, swapped minutes, a
missing day, numbers as text with spaces) give exactly the lines the code before issue 12
gave (the compiled build with its columnar reader, commit 126bfe6), paper trades too.
A change to these digests is a change of behaviour: say why in PLANS.md."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BEFORE = {  # sha256 of each output, measured on 126bfe6
    ("none", "bars.jsonl"): "1df3e64ed38ed5249493aaaa7cb1f56874df9b1d23e1096bcbb02332ed74e3f3",
    ("none", "decisions.jsonl"): "02021644993d657a687b74bcb9f08dc3e0cc726c8c9f8e59323a69a3c4db769d",
    ("paper", "bars.jsonl"): "1df3e64ed38ed5249493aaaa7cb1f56874df9b1d23e1096bcbb02332ed74e3f3",
    (
        "paper",
        "decisions.jsonl",
    ): "ad30c45ce8ecfc551a6ea5818214d3961291286e00f0116daf2dc6af6ed2789f",
    ("paper", "trades.jsonl"): "c1361677a476e02b6fc446b441d26c3a1138e5a88ec79c7f80939556104864b4",
}


@pytest.fixture(scope="module")
def quirky(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("quirky") / "q20.csv"
    subprocess.run(
        [sys.executable, "bench/quirky_year.py", str(path), "--days", "20"],
        cwd=ROOT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return path


@pytest.mark.parametrize("broker", ["none", "paper"])
def test_a_quirky_replay_writes_the_bytes_it_always_wrote(
    quirky: Path, broker: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "worker", "replay", "--input", str(quirky), "--symbol", "MES",
         "--out", str(tmp_path), "--no-progress", "--broker", broker],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for (which, name), digest in BEFORE.items():
        if which == broker:
            assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, name
