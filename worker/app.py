"""Composition root: the one place that builds adapters from settings and wires them."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.dryrun import DisabledExecutor, FlatBookContexts
from adapters.files.csvfeed import SampleFeed
from adapters.files.records import JsonlRecorder, NullRecorder
from adapters.logs import configure_logging
from adapters.supabase.realtime import RealtimeConfig, RealtimeFeed
from adapters.supabase.rest import HistoryClient, RestConfig
from adapters.supabase.source import SourceConfig, SupabaseSource
from engine.decide import HoldFirstDecider
from engine.ports import BarSource, ContextProvider
from worker.pipeline import Pipeline, Recorder
from worker.settings import ConfigError, Settings
from worker.trader import Executor, Trader

SAMPLE_ACCOUNT = "sample"


@dataclass
class App:
    settings: Settings
    source: BarSource
    pipeline: Pipeline
    trader: Trader
    recorder: Recorder
    on_sample_feed: bool


def build(
    settings: Settings,
    *,
    source: BarSource | None = None,
    contexts: ContextProvider | None = None,
    executor: Executor | None = None,
    recorder: Recorder | None = None,
    configure_logs: bool = True,
) -> App:
    """Wire the live worker. Tests pass fakes for any of the keyword dependencies."""
    if configure_logs:
        configure_logging(settings.log_level, settings.log_format, settings.secrets())
    on_sample = source is None and not settings.supabase_url
    if source is None:
        source = (
            supabase_source(settings)
            if settings.supabase_url
            else SampleFeed(settings.sample_feed, settings.sample_speed, settings.sample_live_rows)
        )
    if recorder is None:
        recorder = JsonlRecorder(settings.out_dir) if settings.out_dir else NullRecorder()
    accounts = settings.accounts or (SAMPLE_ACCOUNT,)
    contracts = {s: settings.override_contract_id or s for s in settings.symbol_list}
    pipeline = Pipeline(settings.symbol_list, settings.engine_config(), recorder)
    # Dry run is an adapter, not a branch: with TRADING_ENABLED=false the only executor
    # that exists is the one that cannot send. No live broker exists in this build yet.
    if executor is None:
        if settings.trading_enabled:
            raise ConfigError(
                "config error: TRADING_ENABLED: no broker adapter in this build yet "
                "(PLANS.md, issue 4); example: TRADING_ENABLED=false"
            )
        executor = DisabledExecutor()
    trader = Trader(
        HoldFirstDecider(settings.decision_config()),
        accounts,
        contexts or FlatBookContexts(),
        executor,
        recorder,
        contracts,
        settings.default_trade_size,
    )
    return App(settings, source, pipeline, trader, recorder, on_sample)


def supabase_source(settings: Settings) -> SupabaseSource:
    """The live source: REST history + Realtime INSERTs on the configured table."""
    if not (settings.supabase_url and settings.supabase_key):
        raise ConfigError("config error: SUPABASE_URL: the live source needs URL and key")
    url, key = settings.supabase_url, settings.supabase_key.get_secret_value()
    symbols = settings.symbol_list
    history = HistoryClient(
        RestConfig(
            url, key, settings.supabase_table, settings.supabase_schema,
            page_size=settings.history_page_size,
        )
    )  # fmt: skip
    realtime = RealtimeConfig(
        settings.supabase_realtime_url or url, key, settings.supabase_table,
        settings.supabase_schema, symbols,
    )  # fmt: skip
    config = SourceConfig(
        symbols,
        warmup_s=settings.warmup_days * 86_400,
        overlap_s=settings.backfill_overlap_seconds,
        grace_s=settings.grace_seconds,
        stale_after_s=settings.stale_after_seconds,
        backoff_initial_s=settings.reconnect_initial_seconds,
        backoff_cap_s=settings.reconnect_cap_seconds,
    )
    return SupabaseSource(config, history, lambda queue: RealtimeFeed(realtime, queue))
