"""The one reader of the environment: typed, validated settings, built once at start."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.config import DecisionConfig, EngineConfig

SAMPLE_FEED = Path(__file__).parent / "data" / "sample_mes.csv"


class Settings(BaseSettings):
    """Every field: env var of the same name (upper case). Units in the descriptions."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        env_ignore_empty=True,
    )

    # Data source
    supabase_url: str | None = Field(None, description="https://<project>.supabase.co")
    supabase_key: SecretStr | None = Field(None, description="service or anon key")
    supabase_table: str = Field("tv_datafeed", description="table the alerts insert into")
    supabase_schema: str = Field("public", description="schema of the table")
    warmup_days: float = Field(5.0, gt=0, le=60, description="history replayed at start, days")
    backfill_overlap_seconds: float = Field(120.0, ge=0, le=3600, description="re-read, s")
    stale_after_seconds: float = Field(180.0, gt=0, le=3600, description="in-session silence, s")
    reconnect_initial_seconds: float = Field(1.0, gt=0, le=60, description="first backoff, s")
    reconnect_cap_seconds: float = Field(60.0, gt=0, le=3600, description="backoff cap, s")
    supabase_realtime_url: str | None = Field(None, description="override; default SUPABASE_URL")
    history_page_size: int = Field(1000, ge=10, le=10_000, description="rows per REST page")
    symbols: str = Field("MES", description="comma-separated TradingView roots to serve")
    sample_feed: Path = Field(SAMPLE_FEED, description="CSV export streamed when no SUPABASE_URL")
    sample_speed: float = Field(600.0, gt=0, description="sample feed pace, x real time")
    sample_live_rows: int = Field(1380, ge=0, description="sample rows streamed live, rest warm-up")
    out_dir: Path | None = Field(None, description="also write bars/decisions JSONL here")

    # Trading
    trading_enabled: bool = Field(False, description="false = dry run: never place an order")
    default_trade_size: int = Field(1, ge=1, le=50, description="contracts per entry")
    trade_accounts: str = Field("", description="comma-separated account names that trade")
    override_contract_id: str | None = Field(None, description="contract id, e.g. CON.F.US.MES.Z25")

    # Engine
    timeframes: str = Field("5,15,30", description="minutes, ascending, comma-separated")
    ema_period: int = Field(21, ge=1, le=1000, description="bars")
    slope_window: int = Field(5, ge=2, le=100, description="EMA values in the slope fit")
    slope_threshold: float = Field(0.00005, ge=0, lt=1, description="|slope| per bar / EMA")
    warmup_bars: int = Field(60, ge=0, le=10_000, description="closed bars per timeframe")
    grace_seconds: float = Field(90.0, ge=0, le=3600, description="watermark grace, s")
    ambiguity_tolerance_seconds: float = Field(50.0, ge=0, le=3600, description="s")

    # Decision
    flat_window_start: str = Field("15:07", description="HH:MM market time, inclusive")
    flat_window_end: str = Field("17:00", description="HH:MM market time, inclusive")
    market_tz: str = Field("America/Chicago", description="IANA zone of the flat window")

    # Observability
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    @field_validator("supabase_table", "supabase_schema")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", value):
            raise ValueError("expected a SQL identifier; example: tv_datafeed")
        return value

    @field_validator("symbols", "trade_accounts")
    @classmethod
    def _names(cls, value: str) -> str:
        for name in _split(value):
            if not re.fullmatch(r"[A-Za-z0-9_.!-]{1,32}", name):
                raise ValueError(f"bad name {name!r}; example: MES,MNQ")
        return value

    @field_validator("timeframes")
    @classmethod
    def _timeframes(cls, value: str) -> str:
        try:
            EngineConfig(timeframes=tuple(int(x) for x in _split(value)))
        except ValueError as exc:
            raise ValueError(f"{exc}; example: 5,15,30") from None
        return value

    @field_validator("flat_window_start", "flat_window_end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("expected HH:MM; example: 15:07")
        return value

    @field_validator("market_tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone; example: America/Chicago") from None
        return value

    @field_validator("sample_feed")
    @classmethod
    def _feed_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"no such file {str(value)!r}; example: SAMPLE_FEED=export.csv")
        return value

    @field_validator("supabase_url", "supabase_realtime_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"https?://[^\s/]+(/.*)?", value):
            raise ValueError("expected a URL; example: https://abcd.supabase.co")
        return value or None

    @model_validator(mode="after")
    def _pairs(self) -> Settings:
        has_key = self.supabase_key is not None and bool(self.supabase_key.get_secret_value())
        if bool(self.supabase_url) != has_key:
            raise ValueError("SUPABASE_URL and SUPABASE_KEY go together; set both or neither")
        return self

    # -- derived -------------------------------------------------------------------------

    @property
    def symbol_list(self) -> tuple[str, ...]:
        return tuple(_split(self.symbols))

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(_split(self.trade_accounts))

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            timeframes=tuple(int(x) for x in _split(self.timeframes)),
            ema_period=self.ema_period,
            slope_window=self.slope_window,
            slope_threshold=self.slope_threshold,
            warmup_bars=self.warmup_bars,
            grace_s=self.grace_seconds,
            ambiguity_tolerance_s=self.ambiguity_tolerance_seconds,
        )

    def decision_config(self) -> DecisionConfig:
        return DecisionConfig(
            flat_start=time.fromisoformat(self.flat_window_start),
            flat_end=time.fromisoformat(self.flat_window_end),
            market_tz=self.market_tz,
        )

    def secrets(self) -> list[str]:
        key = self.supabase_key
        return [key.get_secret_value()] if key is not None else []

    def masked(self) -> dict[str, object]:
        """Effective settings for `check-config`, secrets masked."""
        out: dict[str, object] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                out[name.upper()] = "***" if value.get_secret_value() else ""
            else:
                out[name.upper()] = str(value) if isinstance(value, Path) else value
        return out


class ConfigError(Exception):
    """A bad setting: one line naming the variable, what is wrong and an example."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "_".join(str(p) for p in first["loc"]).upper() or "settings"
        message = first["msg"].removeprefix("Value error, ")
        given = first.get("input")
        shown = "" if where.endswith("KEY") or isinstance(given, dict) else f" (got {given!r})"
        field = Settings.model_fields.get(where.lower())
        if "example" not in message and field is not None and field.default is not None:
            message += f"; example: {where}={field.default}"
        raise ConfigError(f"config error: {where}: {message}{shown}") from None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
