"""Composition root: the one place that builds adapters from settings and wires them."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from adapters.dryrun import DisabledExecutor, FlatBookContexts
from adapters.files.csv_source import SampleFeed
from adapters.files.jsonl import JsonlRecorder, NullRecorder
from adapters.freshness_gate import FreshnessGate
from adapters.leader_gate import LeaderGate
from adapters.lease import AdvisoryLease, StaticLease
from adapters.logs import configure_logging
from adapters.paper.broker import PaperBroker, PaperConfig
from adapters.projectx.client import ProjectXClient, ProjectXConfig
from adapters.projectx.context import ProjectXContexts
from adapters.projectx.contracts import ContractResolver
from adapters.projectx.execution import ProjectXExecutor
from adapters.projectx.intents import IntentStore
from adapters.supabase.outbox import OutboxDelivery
from adapters.supabase.realtime import RealtimeConfig, RealtimeFeed
from adapters.supabase.rest import HistoryClient, RestConfig
from adapters.supabase.source import SourceConfig, SupabaseSource
from engine.calendar import CALENDARS
from engine.decide import HoldFirstDecider
from engine.ports import BarSource, ContextProvider, ContractSource, Executor, Recorder
from engine.risk import RiskLimits
from worker.pipeline import Pipeline
from worker.settings import LIVE_FEED_ONLY, ConfigError, Settings
from worker.startup import Phase
from worker.trader import StaticContracts, Trader
from worker.userhub import (
    DecisionRecorder,
    build_user_hub,
    delivery_hooks,
    results_delivery,
)

SAMPLE_ACCOUNT = "sample"


class Lease(Protocol):
    @property
    def is_leader(self) -> bool: ...

    async def run(self, stop: asyncio.Event) -> None: ...


Hook = Callable[[], Awaitable[object]]


@dataclass
class App:
    settings: Settings
    source: BarSource
    pipeline: Pipeline
    trader: Trader
    recorder: Recorder
    on_sample_feed: bool
    broker: str = "none"
    startup: list[Phase] = field(default_factory=list)  # in order, before any decision
    shutdown: list[Hook] = field(default_factory=list)  # in reverse order of need
    lease: Lease = field(default_factory=StaticLease)
    event_counts: Counter[str] = field(default_factory=Counter)  # order_* log events
    paper: PaperBroker | None = None  # BROKER=paper: its P&L goes into `worker_stopped`


@dataclass
class Broker:
    contexts: ContextProvider
    executor: Executor
    contracts: ContractSource
    accounts: tuple[str, ...]
    startup: list[Phase] = field(default_factory=list)
    shutdown: list[Hook] = field(default_factory=list)
    paper: PaperBroker | None = None


def build(
    settings: Settings,
    *,
    source: BarSource | None = None,
    broker: Broker | None = None,
    recorder: Recorder | None = None,
    configure_logs: bool = True,
) -> App:
    """Wire the live worker. Tests pass fakes for any of the keyword dependencies."""
    event_counts: Counter[str] = Counter()
    if configure_logs:
        configure_logging(
            settings.log_level, settings.log_format, settings.secrets(), event_counts=event_counts
        )
    on_sample = source is None and not settings.supabase_url
    # The live Supabase source is the one whose time is the wall clock: only there are rows
    # checked against it and entries against their age (replay, the sample feed: simulated).
    live = source.is_live_feed if source is not None else bool(settings.supabase_url)
    if sends_orders(settings) and not live:
        # Settings refuse this already; the wiring refuses it again, whatever the source.
        raise ConfigError(f"config error: TRADING_ENABLED: {LIVE_FEED_ONLY}")
    if recorder is None:
        recorder = JsonlRecorder(settings.out_dir) if settings.out_dir else NullRecorder()
    wanted = settings.record_decisions or settings.effective_broker == "projectx"
    delivery = results_delivery(settings) if wanted else None  # trade results, decisions
    hooks: tuple[list[Phase], list[Hook]] = ([], [])
    if delivery is not None:
        start, stop = delivery_hooks(delivery)
        hooks = ([Phase("results_outbox", start)], [stop])
        if settings.record_decisions:
            recorder = DecisionRecorder(recorder, delivery)
    pipeline = Pipeline(
        settings.symbol_list, settings.engine_config(), recorder,
        wall_clock=time.time if live else None,
        future_tolerance_s=settings.future_tolerance_seconds,
    )  # fmt: skip
    if source is None:
        source = (
            supabase_source(settings, pipeline.watermark_due)
            if live
            else SampleFeed(settings.sample_feed, settings.sample_speed, settings.sample_live_rows)
        )
    broker = broker or build_broker(settings, delivery)
    if broker.paper is not None:
        pipeline.minute_listeners.append(broker.paper)
    lease = build_lease(settings)
    executor: Executor = LeaderGate(broker.executor, lease)  # only the leader sends
    if live:  # outermost: a stale entry is logged as such in a dry run and on a standby too
        executor = FreshnessGate(executor, time.time, settings.max_signal_age_seconds)
    trader = Trader(
        decider=HoldFirstDecider(settings.decision_config()),
        accounts=broker.accounts,
        contexts=broker.contexts,
        executor=executor,
        recorder=recorder,
        contracts=broker.contracts,
        trade_size=settings.default_trade_size,
    )
    return App(
        settings, source, pipeline, trader, recorder, on_sample, settings.effective_broker,
        [*hooks[0], *broker.startup], [*hooks[1], *broker.shutdown], lease, event_counts,
        paper=broker.paper,
    )  # fmt: skip


def sends_orders(settings: Settings) -> bool:
    """Real market orders go to a gateway: TRADING_ENABLED with the ProjectX broker."""
    return settings.trading_enabled and settings.effective_broker == "projectx"


@dataclass(frozen=True, slots=True)
class RunMode:
    """What a run does with its decisions: the `worker_started` fields and their sentence."""

    source: str
    sample_feed: bool
    sample_path: str
    broker: str
    trading_enabled: bool
    real_orders: bool  # market orders go to a real gateway
    accounts: tuple[str, ...]

    @property
    def orders(self) -> str:
        return "real" if self.real_orders else "paper" if self.broker == "paper" else "none"

    def sentence(self) -> str:
        if self.sample_feed:
            source = f"the SAMPLE FEED {self.sample_path} (no SUPABASE_URL set)"
        elif self.source == "supabase":
            source = "live data from Supabase"
        else:
            source = f"the source {self.source}"
        accounts = ", ".join(self.accounts)
        if self.real_orders:
            orders = f"TRADING ENABLED: real market orders to ProjectX for {accounts}"
        elif self.broker == "paper":
            orders = "paper broker: simulated fills, no order leaves this process"
        elif self.broker == "projectx":
            orders = f"dry run (TRADING_ENABLED=false): accounts {accounts} read, no orders"
        else:
            orders = "signals only (BROKER=none): no orders"
        return f"running on {source}; {orders}"

    def fields(self) -> dict[str, object]:
        return {
            "source": self.source, "sample_feed": self.sample_feed, "broker": self.broker,
            "trading_enabled": self.trading_enabled, "orders": self.orders,
            "dry_run": not self.real_orders, "accounts": list(self.accounts),
            "message": self.sentence(),
        }  # fmt: skip


def run_mode(app: App) -> RunMode:
    settings = app.settings
    return RunMode(
        source=app.source.name, sample_feed=app.on_sample_feed,
        sample_path=str(settings.sample_feed), broker=app.broker,
        trading_enabled=settings.trading_enabled,
        real_orders=sends_orders(settings) and app.source.is_live_feed,
        accounts=app.trader.accounts,
    )  # fmt: skip


def build_lease(settings: Settings) -> Lease:
    """The advisory lock when a lease database is set; otherwise this copy leads alone."""
    url = settings.lease_database_url
    if url is None or not url.get_secret_value():
        return StaticLease(is_leader=True)
    return AdvisoryLease(url.get_secret_value(), settings.lease_name, settings.lease_poll_seconds)


def _limits(settings: Settings) -> RiskLimits:
    return RiskLimits(
        settings.max_daily_loss, settings.daily_profit_target, settings.max_consecutive_losses
    )


def build_broker(settings: Settings, delivery: OutboxDelivery | None = None) -> Broker:
    """Dry run and paper are adapters chosen here, never branches inside the engine."""
    kind = settings.effective_broker
    static = StaticContracts({s: settings.override_contract_id or s for s in settings.symbol_list})
    if kind == "none":
        accounts = settings.accounts or ("signals",)
        return Broker(FlatBookContexts(), DisabledExecutor("signals only"), static, accounts)
    if kind == "paper":
        paper = PaperBroker(
            PaperConfig(
                stop_ticks=settings.paper_stop_ticks, target_ticks=settings.paper_target_ticks,
                limits=_limits(settings), market_tz=settings.market_tz,
            ),
            log_trades=True,  # paper_fill / paper_exit: what the simulated book does
        )  # fmt: skip
        reason = "trading disabled" if not settings.trading_enabled else "paper broker"
        executor = DisabledExecutor(reason, forward=paper)
        return Broker(paper, executor, static, settings.accounts or (SAMPLE_ACCOUNT,), paper=paper)
    return projectx_broker(settings, delivery)


def projectx_broker(settings: Settings, delivery: OutboxDelivery | None) -> Broker:
    key = settings.projectx_api_key
    if not settings.projectx_username or key is None:  # validated in Settings already
        raise ConfigError("config error: PROJECTX_API_KEY: BROKER=projectx needs credentials")
    client = ProjectXClient(
        ProjectXConfig(settings.projectx_base_url, settings.projectx_username,
                       key.get_secret_value())
    )  # fmt: skip
    ids = {name: settings.account_ids[name] for name in settings.accounts}
    resolver = ContractResolver(
        client, settings.override_contract_id, settings.symbol_list, settings.contract_symbol_map
    )
    contexts = ProjectXContexts(client, ids, resolver, _limits(settings))
    # Login, then what the operator must fix (unknown account, unresolvable symbol: raised
    # as UnknownAccount / ContractNotFound), all before any intent or decision.
    startup = [
        Phase("broker_login", client.token),
        Phase("accounts", contexts.check_accounts),
        Phase("contracts", resolver.resolve_all),
    ]
    executor: Executor
    if settings.trading_enabled:
        store = IntentStore(settings.state_dir / "intents.sqlite3")
        real = ProjectXExecutor(client, store, ids)
        executor = real
        startup.append(Phase("order_intents", real.reconcile))  # before any decision
        shutdown: list[Hook] = [client.aclose, _closer(store.close)]
    else:
        executor = DisabledExecutor()
        shutdown = [client.aclose]
    hub = build_user_hub(settings, client, ids, delivery)
    startup += hub.startup  # after login and intents: listener, results delivery
    shutdown += hub.shutdown  # run in reverse: listener stops, then results flush
    return Broker(contexts, executor, resolver, settings.accounts, startup, shutdown)


def _closer(close: Callable[[], None]) -> Hook:
    async def run() -> None:
        close()

    return run


def supabase_source(settings: Settings, watermark_due: Callable[[float], bool]) -> SupabaseSource:
    """The live source: REST history + Realtime INSERTs on the configured table;
    `watermark_due` (the pipeline's) lets it ask the table before the watermark closes."""
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
        future_tolerance_s=settings.future_tolerance_seconds,
        backoff_initial_s=settings.reconnect_initial_seconds,
        backoff_cap_s=settings.reconnect_cap_seconds,
    )
    return SupabaseSource(
        config, history, lambda queue: RealtimeFeed(realtime, queue),
        session=CALENDARS[settings.session_calendar],
        watermark_due=watermark_due,
    )  # fmt: skip
