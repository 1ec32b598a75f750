"""The one reader of the environment: typed, validated settings, built once at start."""

from __future__ import annotations

import os
import re
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from dotenv import dotenv_values
from psycopg.conninfo import conninfo_to_dict
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.notify.messages import DEFAULT_EVENTS, KNOWN_EVENTS, SIGNAL
from adapters.notify.sender import targets
from engine.config import DecisionConfig, EngineConfig
from engine.products import Product, product_table

SAMPLE_FEED = Path(__file__).parent / "data" / "sample_mes.csv"
LIVE_FEED_ONLY = (
    "TRADING_ENABLED=true with BROKER=projectx sends orders only from the live Supabase "
    "feed, and SUPABASE_URL is not set (the worker would stream the sample file "
    "SAMPLE_FEED); set SUPABASE_URL and SUPABASE_KEY, or TRADING_ENABLED=false, or BROKER=paper"
)


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
    session_calendar: Literal["cme", "always"] = Field(
        "cme", description="when silence is a fault: CME Globex hours, or always"
    )
    stale_after_seconds: float = Field(180.0, gt=0, le=3600, description="in-session silence, s")
    reconnect_initial_seconds: float = Field(1.0, gt=0, le=60, description="first backoff, s")
    reconnect_cap_seconds: float = Field(60.0, gt=0, le=3600, description="backoff cap, s")
    supabase_realtime_url: str | None = Field(None, description="override; default SUPABASE_URL")
    history_page_size: int = Field(1000, ge=10, le=10_000, description="rows per REST page")
    symbols: str = Field("MES", description="comma-separated TradingView roots to serve")
    sample_feed: Path = Field(SAMPLE_FEED, description="CSV export streamed when no SUPABASE_URL")
    sample_speed: float = Field(600.0, gt=0, description="sample feed pace, x real time")
    sample_live_rows: int = Field(1380, ge=0, description="sample rows streamed live, rest warm-up")
    out_dir: Path | None = Field(None, description="also write the run's files here (report)")

    # Broker
    broker: Literal["projectx", "paper", "none"] | None = Field(
        None, description="default: projectx when its credentials are set, else paper"
    )
    projectx_base_url: str = Field("https://api.topstepx.com", description="REST base URL")
    projectx_user_hub_url: str = Field(
        "https://rtc.topstepx.com/hubs/user", description="SignalR user hub (no token)"
    )
    hub_client: Literal["pysignalr", "signalrcore"] = Field(
        "pysignalr", description="SignalR client library for the user hub"
    )
    record_decisions: bool = Field(False, description="also write trigger_decisions rows")
    projectx_username: str | None = Field(None, description="TopstepX user name")
    projectx_api_key: SecretStr | None = Field(None, description="TopstepX API key")
    account_ids: dict[str, int] = Field(
        default_factory=dict, description="from ACCOUNT_<NAME>=<id> variables"
    )
    state_dir: Path = Field(Path("state"), description="local durable state (order intents)")
    max_daily_loss: float = Field(-500.0, le=0, description="USD, net of fees; <= this closes")
    daily_profit_target: float = Field(500.0, ge=0, description="USD; >= this closes the gate")
    max_consecutive_losses: int = Field(3, ge=0, le=100, description="0 disables")
    paper_stop_ticks: int = Field(40, ge=1, le=10_000, description="paper OCO stop, ticks")
    paper_target_ticks: int = Field(80, ge=1, le=10_000, description="paper OCO target, ticks")
    contract_specs: str = Field(
        "",
        description="ROOT:TICK_SIZE:TICK_VALUE:FEE_PER_SIDE over the built-in product table "
        "(paper P&L), e.g. ES:0.25:12.5:1.40",
    )

    # One active trader (PostgreSQL advisory lock over a direct connection)
    lease_database_url: SecretStr | None = Field(
        None, description="postgresql://... direct (session) connection; unset = one instance"
    )
    lease_name: str = Field("reduction-trigger", description="lock name shared by all copies")
    lease_poll_seconds: float = Field(2.0, gt=0, le=15, description="standby retry, s")

    # Trading
    trading_enabled: bool = Field(False, description="false = dry run: never place an order")
    default_trade_size: int = Field(1, ge=1, le=50, description="contracts per entry")
    trade_accounts: str = Field("", description="comma-separated account names that trade")
    override_contract_id: str | None = Field(None, description="contract id, e.g. CON.F.US.MES.Z25")
    contract_symbols: str = Field(
        "", description="ROOT:SYMBOL_ID pairs over the built-in table, e.g. ES:F.US.EP,GC:F.US.GCE"
    )

    # Engine
    timeframes: str = Field("5,15,30", description="minutes, ascending, comma-separated")
    ema_period: int = Field(21, ge=1, le=1000, description="bars")
    slope_window: int = Field(5, ge=2, le=100, description="EMA values in the slope fit")
    slope_threshold: float = Field(0.00005, ge=0, lt=1, description="|slope| per bar / EMA")
    warmup_bars: int = Field(60, ge=0, le=10_000, description="closed bars per timeframe")
    grace_seconds: float = Field(90.0, ge=0, le=3600, description="watermark grace, s")
    future_tolerance_seconds: float = Field(
        120.0, gt=0, le=86_400, description="live: a row dated more than this ahead is rejected, s"
    )
    max_signal_age_seconds: float = Field(
        120.0,
        gt=0,
        le=86_400,
        description="live: an entry older than this (bar close) is not sent, s",
    )
    ambiguity_tolerance_seconds: float = Field(50.0, ge=0, le=3600, description="s")

    # Decision
    flat_window_start: str = Field("15:07", description="HH:MM market time, inclusive")
    flat_window_end: str = Field("17:00", description="HH:MM market time, inclusive")
    market_tz: str = Field("America/Chicago", description="IANA zone of the flat window")

    # Observability
    port: int | None = Field(None, ge=0, le=65535, description="PaaS convention; wins")
    health_port: int = Field(8080, ge=0, le=65535, description="/healthz, /metrics; 0 = any")
    health_host: str = Field("0.0.0.0", description="bind address of the health server")  # noqa: S104
    webhook_secret: SecretStr | None = Field(None, description="enables POST /webhook, /control")
    pause_on_start: bool = Field(False, description="start with the pause switch on")

    # Notifications (Apprise)
    notify_urls: SecretStr | None = Field(None, description="Apprise URLs, comma-separated")
    notify_events: str = Field("", description="comma-separated subset; empty = the defaults")
    notify_dry_run_signals: bool = Field(False, description="also BUY/SELL signals in dry run")
    notify_timeout_seconds: float = Field(5.0, gt=0, le=60, description="per send attempt, s")
    notify_retries: int = Field(2, ge=0, le=10, description="attempts after a failed send")
    notify_queue_size: int = Field(100, ge=1, le=10_000, description="notes waiting; more drop")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    @field_validator(
        "trading_enabled",
        "record_decisions",
        "pause_on_start",
        "notify_dry_run_signals",
        mode="before",
    )
    @classmethod
    def _strict_bool(cls, value: object) -> object:
        """`true` / `false` in any case, nothing else: TRADING_ENABLED is the money switch,
        and `yes`, `1` or `on` are guesses about what the operator meant."""
        if isinstance(value, str):
            if value.strip().lower() not in ("true", "false"):
                raise ValueError("expected true or false")
            return value.strip().lower() == "true"
        return value

    @field_validator("notify_urls")
    @classmethod
    def _apprise_urls(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            targets(_split(value.get_secret_value()), 1.0)  # never echoes a URL
        return value

    @field_validator("notify_events")
    @classmethod
    def _notify_events(cls, value: str) -> str:
        unknown = [name for name in _split(value) if name not in KNOWN_EVENTS]
        if unknown:
            known = ", ".join((*DEFAULT_EVENTS, SIGNAL))
            raise ValueError(f"unknown event {unknown[0]!r}; known: {known}")
        return value

    @field_validator("lease_database_url")
    @classmethod
    def _dsn(cls, value: SecretStr | None) -> SecretStr | None:
        text = value.get_secret_value() if value is not None else ""
        if text:
            try:
                parsed = conninfo_to_dict(text)
            except psycopg.ProgrammingError:
                parsed = {}
            if not parsed or not (text.startswith(("postgres://", "postgresql://")) or "=" in text):
                # Never echo the text: it holds a password.
                raise ValueError("expected postgresql://user:password@host:5432/db")
        return value

    @field_validator("supabase_table", "supabase_schema")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", value):
            raise ValueError("expected a SQL identifier; example: tv_datafeed")
        return value

    @field_validator("symbols", "trade_accounts")
    @classmethod
    def _names(cls, value: str, info: ValidationInfo) -> str:
        example = "MES,MNQ" if info.field_name == "symbols" else "main,second"
        try:
            names = _split(value)
        except ValueError as exc:
            raise ValueError(f"{exc}; example: {example}") from None
        for name in names:
            if not re.fullmatch(r"[A-Za-z0-9_.!-]{1,32}", name):
                raise ValueError(f"bad name {name!r}; example: {example}")
        if info.field_name == "symbols":  # compared upper-cased: `mes` is MES
            return ",".join(dict.fromkeys(name.upper() for name in names))
        return value

    @field_validator("contract_symbols")
    @classmethod
    def _contract_symbols(cls, value: str) -> str:
        example = "example: CONTRACT_SYMBOLS=ES:F.US.EP,GC:F.US.GCE"
        if not value.strip():
            return value
        roots: set[str] = set()
        for item in value.split(","):
            root, _, symbol = (part.strip() for part in item.partition(":"))
            if not re.fullmatch(r"[A-Za-z0-9_.!-]{1,32}", root) or not re.fullmatch(
                r"[A-Za-z0-9]+\.[A-Za-z0-9]+\.[A-Za-z0-9]+", symbol
            ):
                raise ValueError(f"bad pair {item.strip()!r}: expected ROOT:F.US.CODE; {example}")
            if root.upper() in roots:
                raise ValueError(f"{root} is given twice; {example}")
            roots.add(root.upper())
        return value

    @field_validator("contract_specs")
    @classmethod
    def _contract_specs(cls, value: str) -> str:
        example = "example: CONTRACT_SPECS=ES:0.25:12.5:1.40,CL:0.01:10:1.52"
        roots: set[str] = set()
        for item in _split(value):
            try:
                product = _product(item)
            except ValueError:
                raise ValueError(
                    f"bad item {item.strip()!r}: expected ROOT:TICK_SIZE:TICK_VALUE:FEE_PER_SIDE "
                    f"(positive numbers, fee >= 0); {example}"
                ) from None
            if product.root in roots:
                raise ValueError(f"{product.root} is given twice; {example}")
            roots.add(product.root)
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

    @field_validator(
        "supabase_url", "supabase_realtime_url", "projectx_base_url", "projectx_user_hub_url"
    )
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"https?://[^\s/]+(/.*)?", value):
            raise ValueError("expected a URL; example: https://abcd.supabase.co")
        return value or None

    @model_validator(mode="after")
    def _broker(self) -> Settings:
        if self.effective_broker == "projectx":
            key = self.projectx_api_key
            if not self.projectx_username or key is None or not key.get_secret_value():
                raise ValueError(
                    "PROJECTX_API_KEY: BROKER=projectx needs PROJECTX_USERNAME and PROJECTX_API_KEY"
                )
            if not self.account_ids:
                raise ValueError(
                    "ACCOUNT_<NAME>: BROKER=projectx needs at least one account id; "
                    "example: ACCOUNT_MAIN=123456"
                )
            unknown = [a for a in self.accounts if a not in self.account_ids]
            if unknown or not self.accounts:
                raise ValueError(
                    f"TRADE_ACCOUNTS: must name configured ACCOUNT_* entries (unknown: "
                    f"{unknown}); example: TRADE_ACCOUNTS=main"
                )
        return self

    @model_validator(mode="after")
    def _live_feed_only(self) -> Settings:
        """Orders come only from the live Supabase feed: without SUPABASE_URL the worker
        streams a sample file, and trading it with a real broker would trade old data."""
        if self.trading_enabled and self.effective_broker == "projectx" and not self.supabase_url:
            raise ValueError(f"TRADING_ENABLED: {LIVE_FEED_ONLY}")
        return self

    @model_validator(mode="after")
    def _signal_age(self) -> Settings:
        # A bucket the watermark closes is decided up to grace + the gap check (~20 s)
        # after its end: a shorter age limit would skip every such entry as stale.
        floor = self.grace_seconds + 20
        if self.max_signal_age_seconds <= floor:
            raise ValueError(
                f"MAX_SIGNAL_AGE_SECONDS: must be more than GRACE_SECONDS + 20 (= {floor:g} s), "
                f"or a bucket closed by the watermark could never trade (got "
                f"{self.max_signal_age_seconds:g}); example: MAX_SIGNAL_AGE_SECONDS={floor + 10:g}"
            )
        return self

    @model_validator(mode="after")
    def _pairs(self) -> Settings:
        has_key = self.supabase_key is not None and bool(self.supabase_key.get_secret_value())
        if bool(self.supabase_url) != has_key:
            missing = "SUPABASE_KEY" if self.supabase_url else "SUPABASE_URL"
            raise ValueError(f"{missing}: SUPABASE_URL and SUPABASE_KEY go together; set both")
        return self

    # -- derived -------------------------------------------------------------------------

    @property
    def symbol_list(self) -> tuple[str, ...]:
        """Upper-cased (`mes` is MES: TradingView roots are upper case), each once."""
        return tuple(dict.fromkeys(name.upper() for name in _split(self.symbols)))

    @property
    def flat_window_text(self) -> str:
        """The get-flat window in words, e.g. "22:00 -> 02:00 America/Chicago, across
        midnight, 4 h": a window whose start is after its end is legal but easy to misread."""
        start, end = self.flat_window_start, self.flat_window_end
        minutes = (_minutes(end) - _minutes(start)) % 1440
        across = ", across midnight" if _minutes(end) < _minutes(start) else ""
        hours, rest = divmod(minutes, 60)
        span = " ".join(
            p for p in (f"{hours} h" if hours else "", f"{rest} min" if rest else "") if p
        )
        return f"{start} -> {end} {self.market_tz}{across}, {span or '0 min'}"

    @property
    def contract_symbol_map(self) -> dict[str, str]:
        """CONTRACT_SYMBOLS as {ROOT: SYMBOL_ID}, upper-cased (validated above)."""
        pairs = (item.partition(":") for item in _split(self.contract_symbols))
        return {root.strip().upper(): symbol.strip().upper() for root, _, symbol in pairs}

    @property
    def products(self) -> dict[str, Product]:
        """The product table (engine/products.py) with CONTRACT_SPECS over it."""
        return product_table({p.root: p for p in map(_product, _split(self.contract_specs))})

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(name.lower() for name in _split(self.trade_accounts))

    @property
    def effective_broker(self) -> str:
        if self.broker is not None:
            return self.broker
        return "projectx" if self.projectx_username and self.projectx_api_key else "paper"

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

    @property
    def notify_url_list(self) -> list[str]:
        urls = self.notify_urls.get_secret_value() if self.notify_urls is not None else ""
        return _split(urls)

    def notify_event_set(self) -> frozenset[str]:
        """The events notified: NOTIFY_EVENTS, or the defaults (with `signal` when
        NOTIFY_DRY_RUN_SIGNALS is set)."""
        names = set(_split(self.notify_events) or DEFAULT_EVENTS)
        if self.notify_dry_run_signals:
            names.add(SIGNAL)
        return frozenset(names)

    def secrets(self) -> list[str]:
        keys = (
            self.supabase_key,
            self.projectx_api_key,
            self.webhook_secret,
            self.lease_database_url,
            self.notify_urls,
        )
        values = [k.get_secret_value() for k in keys if k is not None and k.get_secret_value()]
        return values + self.notify_url_list  # each URL holds its service's token

    def masked(self) -> dict[str, object]:
        """Effective settings for `check-config`, secrets masked."""
        out: dict[str, object] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                out[name.upper()] = "***" if value.get_secret_value() else ""
            else:
                out[name.upper()] = str(value) if isinstance(value, Path) else value
        out["BROKER"] = self.effective_broker  # the broker in effect, not the raw setting
        out["FLAT_WINDOW"] = self.flat_window_text
        return out


class ConfigError(Exception):
    """A bad setting: one line naming the variable, what is wrong and an example."""


def load_settings(**overrides: object) -> Settings:
    try:
        accounts = _account_ids()
        return Settings(**({"account_ids": accounts} | overrides))  # type: ignore[arg-type]
    except UnicodeDecodeError:
        raise ConfigError("config error: .env: not UTF-8 text; save it as UTF-8") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "_".join(str(p) for p in first["loc"]).upper() or "settings"
        message = first["msg"].removeprefix("Value error, ")
        named = re.match(r"([A-Z][A-Z0-9_<>]+): (.*)", message)
        if not first["loc"] and named:  # a cross-field rule names its variable first
            where, message = named.group(1), named.group(2)
        given = first.get("input")
        field = Settings.model_fields.get(where.lower())
        secret = field is not None and "SecretStr" in str(field.annotation)
        shown = "" if secret or isinstance(given, dict) else f" (got {given!r})"
        if first["loc"] and "example" not in message and field is not None:
            message += _example(where, field.default)
        raise ConfigError(f"config error: {where}: {message}{shown}") from None


def _example(name: str, default: object) -> str:
    """`; example: NAME=<default>` in the form the variable is written (`false`, not `False`)."""
    if default is None:
        return ""
    shown = str(default).lower() if isinstance(default, bool) else default
    return f"; example: {name}={shown}"


def _account_ids() -> dict[str, int]:
    """ACCOUNT_<NAME>=<id> from the environment and `.env` (names lower-cased)."""
    raw = {**dotenv_values(".env"), **os.environ}
    out: dict[str, int] = {}
    for key, value in raw.items():
        if key.upper().startswith("ACCOUNT_") and value:
            name = key[len("ACCOUNT_") :].lower()
            if not value.strip().isdigit() or not name:
                raise ConfigError(
                    f"config error: {key}: expected a numeric account id; "
                    f"example: ACCOUNT_MAIN=123456 (got {value!r})"
                )
            out[name] = int(value)
    return out


def _split(value: str) -> list[str]:
    """The items of a comma-separated list. An empty item (`5,,30`, a comma at an end) is
    an error: dropping it silently would drop what the operator meant to configure."""
    if not value.strip():
        return []
    parts = [part.strip() for part in value.split(",")]
    if "" in parts:
        raise ValueError("empty item in the list (two commas in a row, or one at an end)")
    return parts


def _minutes(clock: str) -> int:
    """'HH:MM' -> minutes after midnight."""
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _product(item: str) -> Product:
    """'ES:0.25:12.5:1.40' -> Product; ValueError when it is not that."""
    parts = [part.strip() for part in item.split(":")]
    if len(parts) != 4 or not re.fullmatch(r"[A-Za-z0-9_.!-]{1,32}", parts[0]):
        raise ValueError(item)
    root, tick_size, tick_value, fee = parts
    return Product(root.upper(), float(tick_size), float(tick_value), float(fee))
