"""What a run does with its decisions (issue 11, point 1): orders only from the live feed,
and `worker_started` says in words exactly what its fields say, for every combination of
source x broker x trading flag — built through the real composition root."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from worker.app import build, run_mode
from worker.settings import ConfigError, Settings, load_settings

SOURCES = ("sample", "supabase")
BROKERS = ("projectx", "paper", "none")
FLAGS = (True, False)
PROJECTX = {"projectx_username": "trader", "projectx_api_key": "k-123", "trade_accounts": "main"}


def _settings(source: str, broker: str, trading: bool, state: Path) -> Settings:
    values: dict[str, object] = {
        "broker": broker, "trading_enabled": trading, "state_dir": state, "log_format": "json",
    }  # fmt: skip
    if broker == "projectx":
        values |= PROJECTX | {"account_ids": {"main": 1001}}
    if source == "supabase":
        values |= {"supabase_url": "http://127.0.0.1:9", "supabase_key": "sb-key"}
    return Settings(**values)  # type: ignore[arg-type]


def _combinations() -> list[tuple[str, str, bool]]:
    return list(itertools.product(SOURCES, BROKERS, FLAGS))


@pytest.mark.parametrize(("source", "broker", "trading"), _combinations())
def test_worker_started_sentence_agrees_with_its_fields(
    source: str, broker: str, trading: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    if source == "sample" and broker == "projectx" and trading:
        with pytest.raises(ValueError, match="TRADING_ENABLED"):
            _settings(source, broker, trading, tmp_path / "state")
        return
    app = build(_settings(source, broker, trading, tmp_path / "state"), configure_logs=False)
    fields = run_mode(app).fields()
    sentence = str(fields["message"])
    real = source == "supabase" and broker == "projectx" and trading

    assert fields["sample_feed"] is (source == "sample")
    assert fields["source"] == ("supabase" if source == "supabase" else "sample feed")
    assert fields["broker"] == broker and fields["trading_enabled"] is trading
    assert fields["dry_run"] is (not real)
    assert fields["orders"] == ("real" if real else "paper" if broker == "paper" else "none")
    # The sentence, read back: each claim in it holds exactly when its field says so.
    assert ("SAMPLE FEED" in sentence) is fields["sample_feed"]
    assert ("live data from Supabase" in sentence) is (source == "supabase")
    assert ("real market orders" in sentence) is (fields["orders"] == "real")
    assert ("paper broker" in sentence) is (fields["orders"] == "paper")
    assert ("dry run" in sentence) is (broker == "projectx" and not real)
    assert ("signals only" in sentence) is (broker == "none")
    assert ("no order" in sentence) is bool(fields["dry_run"])
    for account in fields["accounts"]:  # type: ignore[attr-defined]
        if broker == "projectx":
            assert account in sentence


def test_the_wiring_refuses_real_orders_from_a_file_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings refuse it; the composition root refuses it again for any non-live source
    (a settings object built past validation, e.g. by a test or a future code path)."""
    monkeypatch.chdir(tmp_path)
    settings = _settings("supabase", "projectx", True, tmp_path / "state")
    no_url = settings.model_copy(update={"supabase_url": None, "supabase_key": None})
    with pytest.raises(ConfigError, match=r"config error: TRADING_ENABLED: .*SUPABASE_URL"):
        build(no_url, configure_logs=False)


@pytest.mark.parametrize("text", ["yes", "1", "on", "maybe", "0", "no", "off", "t"])
def test_trading_enabled_accepts_only_true_or_false(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRADING_ENABLED", text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("config error: TRADING_ENABLED: expected true or false")
    assert "example: TRADING_ENABLED=false" in str(caught.value)


@pytest.mark.parametrize(("text", "value"), [("true", True), ("TRUE", True), ("False", False)])
def test_trading_enabled_true_or_false_in_any_case(
    text: str, value: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRADING_ENABLED", text)
    monkeypatch.setenv("BROKER", "paper")
    assert load_settings().trading_enabled is value


def test_check_config_shows_the_broker_in_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings().masked()["BROKER"] == "paper"  # no credentials: the paper broker
    with_credentials = Settings(**PROJECTX, account_ids={"main": 1001})  # type: ignore[arg-type]
    assert with_credentials.masked()["BROKER"] == "projectx"
