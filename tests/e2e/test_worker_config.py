"""A bad configuration stops `python -m worker` before anything starts: exit code 2,
exactly one stderr line `config error: <VAR>: ...` naming the variable (or CLI flag),
no traceback, nothing on stdout (no `worker_started`, no log line at all)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.settings import Settings

CONFIG_VARS = {name.upper() for name in Settings.model_fields} | {"PORT"}


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any worker setting, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in CONFIG_VARS and not k.upper().startswith("ACCOUNT_")
    }
    return env | {"HEALTH_PORT": "0", "LOG_FORMAT": "json"} | extra


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd: an empty directory, so no developer `.env` leaks into the matrix.
    return subprocess.run(
        [sys.executable, "-m", "worker", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=30, check=False,
    )  # fmt: skip


def assert_config_error(result: subprocess.CompletedProcess[str], names: tuple[str, ...]) -> None:
    shown = (
        f"rc={result.returncode}\nstdout={result.stdout[-800:]!r}\nstderr={result.stderr[-1500:]!r}"
    )
    assert "Traceback" not in result.stderr, shown
    assert result.returncode == 2, shown
    assert result.stdout == "", shown  # nothing started, nothing logged
    assert "worker_started" not in result.stdout + result.stderr, shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1, shown
    assert lines[0].startswith(tuple(f"config error: {n}" for n in names)), shown


PROJECTX = {"BROKER": "projectx", "PROJECTX_USERNAME": "trader", "PROJECTX_API_KEY": "k-123"}

# (id, environment, acceptable variable names the line must start with)
RUN_CASES: list[tuple[str, dict[str, str], tuple[str, ...]]] = [
    ("supabase_url_without_key", {"SUPABASE_URL": "http://127.0.0.1:9"}, ("SUPABASE_KEY",)),
    ("supabase_key_without_url", {"SUPABASE_KEY": "k-123"}, ("SUPABASE_URL",)),
    (
        "projectx_without_api_key",
        {
            "BROKER": "projectx",
            "PROJECTX_USERNAME": "trader",
            "ACCOUNT_MAIN": "1001",
            "TRADE_ACCOUNTS": "main",
        },
        ("PROJECTX_API_KEY",),
    ),
    ("trade_size_not_numeric", {"DEFAULT_TRADE_SIZE": "abc"}, ("DEFAULT_TRADE_SIZE",)),
    ("trade_size_out_of_range", {"DEFAULT_TRADE_SIZE": "0"}, ("DEFAULT_TRADE_SIZE",)),
    ("unknown_time_zone", {"MARKET_TZ": "Mars/Olympus"}, ("MARKET_TZ",)),
    ("bad_url", {"SUPABASE_URL": "not-a-url", "SUPABASE_KEY": "k-123"}, ("SUPABASE_URL",)),
    (
        "trading_enabled_without_accounts",
        {**PROJECTX, "TRADING_ENABLED": "true"},
        ("ACCOUNT_", "TRADE_ACCOUNTS"),
    ),
    (
        "trade_accounts_names_unknown_account",
        {**PROJECTX, "TRADING_ENABLED": "true", "ACCOUNT_MAIN": "1001", "TRADE_ACCOUNTS": "other"},
        ("TRADE_ACCOUNTS",),
    ),
    ("account_id_not_numeric", {"ACCOUNT_MAIN": "abc"}, ("ACCOUNT_MAIN",)),
    ("trading_enabled_not_a_bool", {"TRADING_ENABLED": "maybe"}, ("TRADING_ENABLED",)),
    ("trading_enabled_yes", {"TRADING_ENABLED": "yes"}, ("TRADING_ENABLED",)),
    ("trading_enabled_one", {"TRADING_ENABLED": "1"}, ("TRADING_ENABLED",)),
    ("trading_enabled_on", {"TRADING_ENABLED": "on"}, ("TRADING_ENABLED",)),
    (
        # No SUPABASE_URL: the worker would stream the sample file and trade it for real.
        "real_orders_on_the_sample_feed",
        {**PROJECTX, "TRADING_ENABLED": "true", "ACCOUNT_MAIN": "1001", "TRADE_ACCOUNTS": "main"},
        ("TRADING_ENABLED",),
    ),
    ("port_not_numeric", {"PORT": "abc"}, ("PORT",)),
    ("sample_feed_missing", {"SAMPLE_FEED": "/nonexistent/feed.csv"}, ("SAMPLE_FEED",)),
    ("lease_dsn_malformed", {"LEASE_DATABASE_URL": "not-a-dsn"}, ("LEASE_DATABASE_URL",)),
    (
        "lease_poll_longer_than_the_lease_allows",
        {
            "LEASE_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/none",
            "LEASE_POLL_SECONDS": "30",
        },
        ("LEASE_POLL_SECONDS",),
    ),
]


@pytest.mark.parametrize(("env", "names"), [pytest.param(e, n, id=i) for i, e, n in RUN_CASES])
def test_run_rejects_bad_configuration(
    env: dict[str, str], names: tuple[str, ...], tmp_path: Path
) -> None:
    result = run_cli(["run"], clean_env(**env), tmp_path)
    assert_config_error(result, names)


def test_check_config_reports_real_orders_on_the_sample_feed(tmp_path: Path) -> None:
    env = clean_env(**PROJECTX, TRADING_ENABLED="TRUE", ACCOUNT_MAIN="1001", TRADE_ACCOUNTS="main")
    result = run_cli(["check-config"], env, tmp_path)
    assert_config_error(result, ("TRADING_ENABLED",))
    assert "SUPABASE_URL" in result.stderr and "BROKER=paper" in result.stderr


def test_the_valid_baseline_does_start(tmp_path: Path) -> None:
    """Control: the same harness with a good configuration gets past validation."""
    result = run_cli(["check-config"], clean_env(**PROJECTX, ACCOUNT_MAIN="1001",
                                                  TRADE_ACCOUNTS="main"), tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert '"BROKER": "projectx"' in result.stdout
    assert "k-123" not in result.stdout  # the key is masked


def test_replay_rejects_start_after_end(tmp_path: Path) -> None:
    """`replay --source supabase --since X --until Y` with X > Y is an empty, meaningless
    window: it must stop at start (exit 2, one line) without reading the table. The URL
    points at a closed loopback port: a CLI that goes ahead anyway is caught either way."""
    env = clean_env(SUPABASE_URL="http://127.0.0.1:9", SUPABASE_KEY="k-123")
    args = [
        "replay", "--source", "supabase", "--symbol", "MES",
        "--since", "2025-06-20T00:00:00Z", "--until", "2025-06-10T00:00:00Z",
        "--out", str(tmp_path / "out"), "--no-progress",
    ]  # fmt: skip
    result = run_cli(args, env, tmp_path)
    assert_config_error(result, ("--since", "--until"))
    assert not (tmp_path / "out").exists()  # nothing written either


@pytest.mark.parametrize("command", ["run", "check-config"])
def test_a_dot_env_that_is_not_utf8_is_one_config_line(command: str, tmp_path: Path) -> None:
    """A `.env` saved in another encoding is the operator's to fix: exit 2, one line."""
    (tmp_path / ".env").write_bytes("SYMBOLS=MES\n# caf\xe9\n".encode("latin-1"))
    result = run_cli([command], clean_env(), tmp_path)
    assert_config_error(result, (".env",))
    assert "UTF-8" in result.stderr


@pytest.mark.parametrize("setting", ["STATE_DIR", "OUT_DIR"])
def test_a_directory_the_worker_cannot_make_is_one_config_line(
    setting: str, tmp_path: Path
) -> None:
    """STATE_DIR (the pause switch, intents, outbox) and OUT_DIR under a plain file."""
    (tmp_path / "a-file").write_text("")
    result = run_cli(["run"], clean_env(**{setting: str(tmp_path / "a-file" / "dir")}), tmp_path)
    assert_config_error(result, (setting,))
    assert "cannot make" in result.stderr
