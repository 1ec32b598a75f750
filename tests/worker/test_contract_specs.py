"""CONTRACT_SPECS: the paper broker's tick size, tick value and fee per side of a root,
over the built-in CME table; a paper symbol without them stops the worker (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.products import PRODUCTS, Product
from tests.feedgen import make_rows, write_csv
from worker.app import build_broker
from worker.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_items_override_or_extend_the_table() -> None:
    settings = load_settings(contract_specs="es:0.25:12.5:2, ZN:0.015625:15.625:1.1")
    assert settings.products["ES"] == Product("ES", 0.25, 12.5, 2.0)
    assert settings.products["ZN"] == Product("ZN", 0.015625, 15.625, 1.1)
    assert settings.products["MES"] == PRODUCTS["MES"]
    assert load_settings().products == PRODUCTS


@pytest.mark.parametrize(
    "bad",
    ["ES", "ES:0.25:12.5", "ES:0:12.5:1", "ES:0.25:x:1", "ES:0.25:12.5:-1", "ES:0.25:12.5:1,,"],
)
def test_a_bad_item_is_one_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"^config error: CONTRACT_SPECS: .*example"):
        load_settings(contract_specs=bad)


def test_a_root_given_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="CONTRACT_SPECS: ES is given twice"):
        load_settings(contract_specs="ES:0.25:12.5:1,es:0.25:12.5:2")


def test_a_paper_symbol_without_a_product_stops_the_live_worker() -> None:
    with pytest.raises(ConfigError, match=r"^config error: CONTRACT_SPECS: no tick size .* ZZ"):
        build_broker(load_settings(symbols="MES,ZZ", broker="paper"))
    build_broker(load_settings(symbols="MES,ZZ", broker="paper", contract_specs="ZZ:1:5:1"))


def test_a_paper_replay_of_a_symbol_without_a_product_is_one_line(tmp_path: Path) -> None:
    feed = write_csv(tmp_path / "feed.csv", make_rows(50))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE", "TRADING"))}
    args = [
        "--input",
        str(feed),
        "--symbol",
        "ZZ",
        "--out",
        str(tmp_path / "o"),
        "--broker",
        "paper",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "worker", "replay", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        "config error: CONTRACT_SPECS: no tick size and tick value for ZZ"
    )
    assert len(done.stderr.splitlines()) == 1
