"""Composition root: the one place that builds adapters from settings and wires them —
the live worker (`build`) and the replay (`build_replay`) alike.

A row's way is the same in both: source -> `Pipeline.handle` -> `Trader.on_state` ->
an executor. What differs is chosen here and nowhere else: the source (Supabase, the
sample feed, a CSV file, the table over REST), the broker (ProjectX, paper, signals
only) and what wraps its executor (freshness and leadership gates, live only).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from adapters.dryrun import DisabledExecutor, FlatBookContexts, SignalsOnlyExecutor
from adapters.files.csv_source import SampleFeed
from adapters.files.jsonl import TRADES, JsonlRecorder, NullRecorder
from adapters.freshness_gate import FreshnessGate
from adapters.leader_gate import LeaderGate
from adapters.lease import AdvisoryLease, StaticLease
from adapters.logs import configure_logging
from adapters.notify import Notes, Notifier, SendPolicy
from adapters.notify.messages import SIGNAL
from adapters.paper.broker import PaperBroker, PaperConfig
from adapters.pause import PausableContexts
from adapters.projectx.client import ProjectXClient, ProjectXConfig
from adapters.projectx.context import ProjectXContexts
from adapters.projectx.contracts import ContractResolver
from adapters.projectx.execution import ProjectXExecutor
from adapters.projectx.hub.factory import adapter_factory
from adapters.projectx.hub.listener import ListenerConfig, UserHubListener
from adapters.projectx.intents import IntentStore
from adapters.supabase.outbox import Outbox, OutboxDelivery
from adapters.supabase.realtime import RealtimeConfig, RealtimeFeed
from adapters.supabase.rest import HistoryClient, RestConfig
from adapters.supabase.results import DecisionRecorder, PostgrestWriter, ResultsConfig
from adapters.supabase.source import SourceConfig, SupabaseSource
from engine.calendar import CALENDARS
from engine.decide import HoldFirstDecider
from engine.ports import (
    BarSource,
    ContextProvider,
    ContractSource,
    Executor,
    Lease,
    Recorder,
    UserEvents,
)
from engine.risk import RiskLimits
from worker.accounts import AccountTracker
from worker.control import Control
from worker.pipeline import Pipeline
from worker.settings import LIVE_FEED_ONLY, ConfigError, Settings
from worker.startup import Phase
from worker.trader import StaticContracts, Trader

SAMPLE_ACCOUNT = "sample"
REPLAY_ACCOUNT = "replay"

Hook = Callable[[], Awaitable[object]]


@dataclass
class App:
    settings: Settings
    source: BarSource
    pipeline: Pipeline
    trader: Trader
    recorder: Recorder
    on_sample_feed: bool = False
    broker: str = "none"
    startup: list[Phase] = field(default_factory=list)  # in order, before any decision
    shutdown: list[Hook] = field(default_factory=list)  # in reverse order of need
    lease: Lease = field(default_factory=StaticLease)
    event_counts: Counter[str] = field(default_factory=Counter)  # order_* log events
    paper: PaperBroker | None = None  # the paper broker, when it trades: P&L at the end
    notifier: Notifier | None = None  # NOTIFY_URLS set: logged events -> notes
    control: Control | None = None  # the pause switch (live worker only)


@dataclass
class Broker:
    """One broker's side of the decision stage, and what it needs at start and stop."""

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
    """The live worker. Tests pass fakes for any of the keyword dependencies."""
    writable_dir(settings.state_dir, "STATE_DIR")  # the pause switch, intents, outbox
    if settings.out_dir is not None:
        writable_dir(settings.out_dir, "OUT_DIR")
    event_counts: Counter[str] = Counter()
    notifier = build_notifier(settings)
    if configure_logs:
        configure_logging(
            settings.log_level,
            settings.log_format,
            settings.secrets(),
            event_counts=event_counts,
            taps=[notifier.tap] if notifier is not None else [],
        )
    # The live Supabase source is the one whose time is the wall clock: only there are rows
    # checked against it and entries against their age (replay, the sample feed: simulated).
    live = source.is_live_feed if source is not None else bool(settings.supabase_url)
    if sends_orders(settings) and not live:
        # Settings refuse this already; the wiring refuses it again, whatever the source.
        raise ConfigError(f"config error: TRADING_ENABLED: {LIVE_FEED_ONLY}")
    if recorder is None:
        recorder = JsonlRecorder(settings.out_dir) if settings.out_dir else NullRecorder()
    startup: list[Phase] = []
    shutdown: list[Hook] = []
    delivery = None
    if settings.record_decisions or settings.effective_broker == "projectx":
        delivery = results_delivery(settings)  # trade results and decisions, when Supabase is set
    if delivery is not None:
        startup.append(Phase("results_outbox", delivery.start))
        shutdown.append(delivery.stop)
        if settings.record_decisions:
            recorder = DecisionRecorder(recorder, delivery)
    pipeline = Pipeline(
        settings.symbol_list,
        settings.engine_config(),
        recorder,
        wall_clock=time.time if live else None,
        future_tolerance_s=settings.future_tolerance_seconds,
    )
    if source is None:
        source = (
            supabase_source(settings, pipeline.watermark_due)
            if live
            else SampleFeed(settings.sample_feed, settings.sample_speed, settings.sample_live_rows)
        )
    broker = broker or build_broker(settings, delivery)
    control = Control(
        settings.state_dir / "control.sqlite3", pause_on_start=settings.pause_on_start
    )
    if broker.paper is not None:
        pipeline.minute_listeners.append(broker.paper)
    lease = build_lease(settings)
    executor: Executor = LeaderGate(broker.executor, lease)  # only the leader sends
    if live:  # outermost: a stale entry is logged as such in a dry run and on a standby too
        executor = FreshnessGate(executor, time.time, settings.max_signal_age_seconds)
    trader = Trader(
        decider=HoldFirstDecider(settings.decision_config()),
        accounts=broker.accounts,
        contexts=PausableContexts(broker.contexts, lambda: control.paused),
        executor=executor,
        recorder=recorder,
        contracts=broker.contracts,
        trade_size=settings.default_trade_size,
    )
    return App(
        settings=settings,
        source=source,
        pipeline=pipeline,
        trader=trader,
        recorder=recorder,
        on_sample_feed=isinstance(source, SampleFeed),
        broker=settings.effective_broker,
        # The pause switch first: a restart while paused is paused before any decision.
        startup=[Phase("pause_switch", control.load), *startup, *broker.startup],
        shutdown=[*shutdown, *broker.shutdown],
        lease=lease,
        event_counts=event_counts,
        paper=broker.paper,
        notifier=notifier,
        control=control,
    )


def build_replay(
    settings: Settings, *, source: BarSource, symbol: str, out_dir: Path, paper: bool = False
) -> App:
    """A replay: `source`'s rows into `out_dir` (bars.jsonl, decisions.jsonl), decided
    for one account on a flat book — or on the paper broker's simulated book. Nothing is
    sent, nothing is written anywhere else, decisions are not logged one by one."""
    recorder = JsonlRecorder(out_dir, flush_each_line=False)
    pipeline = Pipeline((symbol,), settings.engine_config(), recorder)
    broker = Broker(
        contexts=FlatBookContexts(),
        executor=SignalsOnlyExecutor(),
        contracts=StaticContracts(),
        accounts=(REPLAY_ACCOUNT,),
    )
    if paper:
        book = PaperBroker(paper_config(settings, (symbol,)), trades_file=out_dir / TRADES)
        pipeline.minute_listeners.append(book)
        broker = Broker(
            contexts=book,
            executor=book,
            contracts=StaticContracts(),
            accounts=(REPLAY_ACCOUNT,),
            paper=book,
        )
    trader = Trader(
        decider=HoldFirstDecider(settings.decision_config()),
        accounts=broker.accounts,
        contexts=broker.contexts,
        executor=broker.executor,
        recorder=recorder,
        contracts=broker.contracts,
        log_states=False,
    )
    return App(
        settings=settings,
        source=source,
        pipeline=pipeline,
        trader=trader,
        recorder=recorder,
        broker="paper" if paper else "none",
        paper=broker.paper,
    )


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
            "source": self.source,
            "sample_feed": self.sample_feed,
            "broker": self.broker,
            "trading_enabled": self.trading_enabled,
            "orders": self.orders,
            "dry_run": not self.real_orders,
            "accounts": list(self.accounts),
            "message": self.sentence(),
        }


def run_mode(app: App) -> RunMode:
    settings = app.settings
    return RunMode(
        source=app.source.name,
        sample_feed=app.on_sample_feed,
        sample_path=str(settings.sample_feed),
        broker=app.broker,
        trading_enabled=settings.trading_enabled,
        real_orders=sends_orders(settings) and app.source.is_live_feed,
        accounts=app.trader.accounts,
    )


def writable_dir(path: Path, setting: str) -> None:
    """`path` is a directory this process can write in (made when missing), or the
    operator's to fix: ConfigError, exit 2, one line."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"config error: {setting}: cannot make {str(path)!r} ({exc.strerror or exc})"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"config error: {setting}: {str(path)!r} is not writable")


def build_notifier(settings: Settings) -> Notifier | None:
    """Notifications when NOTIFY_URLS is set. BUY/SELL signals (NOTIFY_DRY_RUN_SIGNALS)
    only when no real order goes out: then `order_placed` tells of them."""
    urls = settings.notify_url_list
    if not urls:
        return None
    wanted = settings.notify_event_set()
    if sends_orders(settings):
        wanted -= {SIGNAL}
    policy = SendPolicy(
        timeout_s=settings.notify_timeout_seconds,
        retries=settings.notify_retries,
        backoff_initial_s=settings.reconnect_initial_seconds,
        backoff_cap_s=settings.reconnect_cap_seconds,
        queue_size=settings.notify_queue_size,
    )
    return Notifier.build(urls, Notes(wanted), policy, settings.secrets())


def sends_orders(settings: Settings) -> bool:
    """Real market orders go to a gateway: TRADING_ENABLED with the ProjectX broker."""
    return settings.trading_enabled and settings.effective_broker == "projectx"


def build_lease(settings: Settings) -> Lease:
    """The advisory lock when a lease database is set; otherwise this copy leads alone."""
    url = settings.lease_database_url
    if url is None or not url.get_secret_value():
        return StaticLease(is_leader=True)
    return AdvisoryLease(url.get_secret_value(), settings.lease_name, settings.lease_poll_seconds)


def risk_limits(settings: Settings) -> RiskLimits:
    return RiskLimits(
        max_daily_loss=settings.max_daily_loss,
        daily_profit_target=settings.daily_profit_target,
        max_consecutive_losses=settings.max_consecutive_losses,
    )


def paper_config(settings: Settings, symbols: tuple[str, ...]) -> PaperConfig:
    """The paper broker's settings; exit 2 for a symbol whose ticks it cannot value."""
    products = settings.products
    for symbol in symbols:
        if symbol.upper() not in products:
            raise ConfigError(
                f"config error: CONTRACT_SPECS: no tick size and tick value for {symbol} "
                f"(built in: {', '.join(products)}); example: "
                f"CONTRACT_SPECS={symbol.upper()}:0.25:1.25:0.37"
            )
    return PaperConfig(
        stop_ticks=settings.paper_stop_ticks,
        target_ticks=settings.paper_target_ticks,
        products=products,
        limits=risk_limits(settings),
        market_tz=settings.market_tz,
    )


def build_broker(settings: Settings, delivery: OutboxDelivery | None = None) -> Broker:
    """Dry run and paper are adapters chosen here, never branches inside the engine."""
    kind = settings.effective_broker
    contract = settings.override_contract_id
    static = StaticContracts({s: contract or s for s in settings.symbol_list})
    if kind == "none":
        return Broker(
            contexts=FlatBookContexts(),
            executor=DisabledExecutor("signals only"),
            contracts=static,
            accounts=settings.accounts or ("signals",),
        )
    if kind == "paper":
        # paper_fill / paper_exit: what the simulated book does, on the log.
        trades = settings.out_dir / TRADES if settings.out_dir else None
        book = PaperBroker(
            paper_config(settings, settings.symbol_list), log_trades=True, trades_file=trades
        )
        reason = "trading disabled" if not settings.trading_enabled else "paper broker"
        return Broker(
            contexts=book,
            executor=DisabledExecutor(reason, forward=book),
            contracts=static,
            accounts=settings.accounts or (SAMPLE_ACCOUNT,),
            paper=book,
        )
    return projectx_broker(settings, delivery)


def projectx_broker(settings: Settings, delivery: OutboxDelivery | None) -> Broker:
    key = settings.projectx_api_key
    if not settings.projectx_username or key is None:  # validated in Settings already
        raise ConfigError("config error: PROJECTX_API_KEY: BROKER=projectx needs credentials")
    client = ProjectXClient(
        ProjectXConfig(
            base_url=settings.projectx_base_url,
            username=settings.projectx_username,
            api_key=key.get_secret_value(),
        )
    )
    ids = {name: settings.account_ids[name] for name in settings.accounts}
    resolver = ContractResolver(
        client,
        override=settings.override_contract_id,
        symbols=settings.symbol_list,
        symbol_ids=settings.contract_symbol_map,
    )
    tracker = AccountTracker(client, ids, delivery)
    listener = user_hub(settings, client, tracker)
    # canTrade and the day's fills from the hub's state while it is in sync, else REST
    contexts = ProjectXContexts(
        client,
        ids,
        resolver,
        risk_limits(settings),
        hub=lambda account_id: tracker.warm(account_id, listener.in_sync),
    )
    # Login, then what the operator must fix (unknown account, unresolvable symbol: raised
    # as UnknownAccount / ContractNotFound), all before any intent or decision. The
    # contracts phase also starts their daily refresh, off the decision path.
    startup = [
        Phase("broker_login", client.token),
        Phase("accounts", contexts.check_accounts),
        Phase("contracts", resolver.start),
    ]
    shutdown: list[Hook] = [client.aclose, resolver.stop]
    executor: Executor = DisabledExecutor()
    if settings.trading_enabled:
        store = IntentStore(settings.state_dir / "intents.sqlite3")
        real = ProjectXExecutor(client, store, ids)
        startup.append(Phase("order_intents", real.reconcile))  # before any decision
        shutdown.append(_closer(store.close))
        executor = real
    startup.append(Phase("user_hub", listener.start))  # after login and intents
    shutdown.append(listener.stop)  # run in reverse: the listener stops first
    return Broker(
        contexts=contexts,
        executor=executor,
        contracts=resolver,
        accounts=settings.accounts,
        startup=startup,
        shutdown=shutdown,
    )


def user_hub(settings: Settings, client: ProjectXClient, tracker: AccountTracker) -> UserEvents:
    """The SignalR user hub: account, order, position and trade events -> the tracker
    (logged; each closed round trip -> the results outbox)."""
    return UserHubListener(
        ListenerConfig(
            url=settings.projectx_user_hub_url,
            account_ids=tuple(tracker.states),
            backoff_initial_s=settings.reconnect_initial_seconds,
            backoff_cap_s=settings.reconnect_cap_seconds,
        ),
        adapter_factory(settings.hub_client),
        client.hub_token,
        tracker.on_hub_event,
        on_subscribed=tracker.reconcile,  # events missed while disconnected: from REST
    )


def results_delivery(settings: Settings) -> OutboxDelivery | None:
    """The durable outbox to Supabase (trade results, decisions), when Supabase is set;
    without it, results are logged (`trade_result`) only."""
    if not (settings.supabase_url and settings.supabase_key):
        return None
    writer = PostgrestWriter(
        ResultsConfig(
            url=settings.supabase_url,
            key=settings.supabase_key.get_secret_value(),
            schema=settings.supabase_schema,
        )
    )
    return OutboxDelivery(Outbox(settings.state_dir / "outbox.sqlite3"), writer)


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
    history = HistoryClient(
        RestConfig(
            url=url,
            key=key,
            table=settings.supabase_table,
            schema=settings.supabase_schema,
            page_size=settings.history_page_size,
        )
    )
    realtime = RealtimeConfig(
        url=settings.supabase_realtime_url or url,
        key=key,
        table=settings.supabase_table,
        schema=settings.supabase_schema,
        symbols=settings.symbol_list,
    )
    config = SourceConfig(
        settings.symbol_list,
        warmup_s=settings.warmup_days * 86_400,
        overlap_s=settings.backfill_overlap_seconds,
        grace_s=settings.grace_seconds,
        stale_after_s=settings.stale_after_seconds,
        future_tolerance_s=settings.future_tolerance_seconds,
        backoff_initial_s=settings.reconnect_initial_seconds,
        backoff_cap_s=settings.reconnect_cap_seconds,
    )
    return SupabaseSource(
        config,
        history,
        lambda queue: RealtimeFeed(realtime, queue),
        session=CALENDARS[settings.session_calendar],
        watermark_due=watermark_due,
    )
