"""Settings of the timing rules: lists with an empty item, a signal age the watermark
could not meet, a flat window across midnight stated in words, symbols in any case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_worker_config import assert_config_error, clean_env, run_cli

# (id, environment, the variable the one stderr line must name)
CASES: list[tuple[str, dict[str, str], str]] = [
    ("timeframes_empty_item", {"TIMEFRAMES": "5,,30"}, "TIMEFRAMES"),
    ("timeframes_trailing_comma", {"TIMEFRAMES": "5,15,30,"}, "TIMEFRAMES"),
    ("symbols_empty_item", {"SYMBOLS": "MES,,MNQ"}, "SYMBOLS"),
    ("symbols_blank_item", {"SYMBOLS": "MES, ,MNQ"}, "SYMBOLS"),
    ("trade_accounts_empty_item", {"TRADE_ACCOUNTS": ",main"}, "TRADE_ACCOUNTS"),
    ("signal_age_at_grace_plus_20", {"MAX_SIGNAL_AGE_SECONDS": "110"}, "MAX_SIGNAL_AGE_SECONDS"),
    ("grace_longer_than_signal_age", {"GRACE_SECONDS": "100.5"}, "MAX_SIGNAL_AGE_SECONDS"),
    ("future_tolerance_zero", {"FUTURE_TOLERANCE_SECONDS": "0"}, "FUTURE_TOLERANCE_SECONDS"),
]


@pytest.mark.parametrize("command", ["run", "check-config"])
@pytest.mark.parametrize(("env", "name"), [pytest.param(e, n, id=i) for i, e, n in CASES])
def test_bad_timing_settings_stop_at_start(
    command: str, env: dict[str, str], name: str, tmp_path: Path
) -> None:
    result = run_cli([command], clean_env(**env), tmp_path)
    assert_config_error(result, (f"{name}:",))


def _check_config(tmp_path: Path, **env: str) -> dict[str, object]:
    result = run_cli(["check-config"], clean_env(**env), tmp_path)
    assert result.returncode == 0, result.stderr
    shown: dict[str, object] = json.loads(result.stdout)
    return shown


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        ("22:00", "02:00", "22:00 -> 02:00 America/Chicago, across midnight, 4 h"),
        ("15:07", "17:00", "15:07 -> 17:00 America/Chicago, 1 h 53 min"),
        ("23:45", "00:05", "23:45 -> 00:05 America/Chicago, across midnight, 20 min"),
        ("09:30", "09:30", "09:30 -> 09:30 America/Chicago, 0 min"),
    ],
)
def test_check_config_states_the_flat_window_in_words(
    start: str, end: str, words: str, tmp_path: Path
) -> None:
    shown = _check_config(tmp_path, FLAT_WINDOW_START=start, FLAT_WINDOW_END=end)
    assert shown["FLAT_WINDOW"] == words


def test_symbols_are_upper_cased_and_the_timing_limits_shown(tmp_path: Path) -> None:
    shown = _check_config(tmp_path, SYMBOLS="mes, Mnq", GRACE_SECONDS="30")
    assert shown["SYMBOLS"] == "MES,MNQ"
    assert shown["MAX_SIGNAL_AGE_SECONDS"] == 120.0
    assert shown["FUTURE_TOLERANCE_SECONDS"] == 120.0
