"""Issue 15 on the fakes: accounts decided at once, each on its own timeout; positions read
from the gateway after the bar closed whatever the hub says; the hub's gates only while it
is in sync, REST otherwise."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from structlog.testing import capture_logs

from adapters.files.jsonl import NullRecorder
from adapters.projectx.client import ProjectXClient, ProjectXConfig
from adapters.projectx.context import HubState, ProjectXContexts
from adapters.projectx.contracts import ContractResolver
from adapters.projectx.execution import ProjectXExecutor
from adapters.projectx.intents import IntentStore
from engine.account_state import AccountState
from engine.calendar import trading_day_start
from engine.config import DecisionConfig
from engine.decide import HoldFirstDecider
from engine.model import ClosedBar, MarketState
from engine.risk import RiskLimits
from tests.fakes.projectx_gateway import FakeProjectX
from tests.fakes.projectx_wire import ACCOUNT_DEFAULTS
from tests.fakes.signalr_hub import FakeUserHub
from tests.fakes.wait import eventually
from worker.app import build_broker
from worker.settings import Settings
from worker.trader import Trader

CONTRACT = "CON.F.US.MES.Z25"
IDS = {"main": 1001, "alt": 1002, "third": 1003}
ACCOUNTS = [{**ACCOUNT_DEFAULTS, "id": i, "name": f"ACC-{i}"} for i in IDS.values()]


def uptrend() -> MarketState:
    """An aligned up-trend (every account: BUY) closed at a 5-minute mark outside the
    flat window."""
    at = int(time.time()) // 300 * 300
    while HoldFirstDecider(DecisionConfig()).flat_window.contains(at):
        at -= 3600  # the window is under two hours: step out of it
    bars = tuple(
        ClosedBar(
            "MES", tf, at - tf * 60, at, 1.0, 1.0, 1.0, 1.0, 1.0, tf, 1.0, 1e-3, "trend_up", 99
        )
        for tf in (5, 15, 30)
    )
    return MarketState("MES", at, bars, bars[:1])


async def trader_on(
    gw: FakeProjectX, tmp_path: Path, timeout_s: float = 10.0, hub: HubState | None = None
) -> tuple[Trader, ProjectXClient]:
    """The live decision stage on the gateway fake: real client, contexts and executor."""
    client = ProjectXClient(ProjectXConfig(gw.url, "user", "key", timeout_s=30.0))
    resolver = ContractResolver(client, symbols=("MES",))
    await resolver.resolve_all()  # start-up: decisions never resolve
    contexts = ProjectXContexts(client, IDS, resolver, RiskLimits(), timeout_s=timeout_s, hub=hub)
    trader = Trader(
        decider=HoldFirstDecider(DecisionConfig()),
        accounts=tuple(IDS),
        contexts=contexts,
        executor=ProjectXExecutor(client, IntentStore(tmp_path / "intents.db"), IDS),
        recorder=NullRecorder(),
        contracts=resolver,
        log_states=False,
    )
    return trader, client


async def test_a_hung_gateway_call_holds_its_account_only(tmp_path: Path) -> None:
    """Three accounts; alt's Position/searchOpen never answers. main's and third's orders
    reach the gateway before alt gives up; alt ends HOLD no_position_context after its
    own timeout (1 s), long before the hang (30 s) would end."""
    async with FakeProjectX(accounts=ACCOUNTS, fill_market_orders=False) as gw:
        trader, client = await trader_on(gw, tmp_path, timeout_s=1.0)
        gw.delay("Position/searchOpen", 30.0, n=None, account_id=IDS["alt"])
        with capture_logs() as logs:
            async with asyncio.timeout(10.0):  # the hang's 30 s would fail this
                plans = await trader.on_state(uptrend())
        placed = {r.body["accountId"] for r in gw.calls("Order/place")}
        await client.aclose()
    assert [p.reason_code for p in plans] == [
        "aligned_uptrend",
        "no_position_context",
        "aligned_uptrend",
    ]
    assert placed == {IDS["main"], IDS["third"]}
    names = [(e["event"], e.get("account")) for e in logs]
    gave_up = names.index(("context_failed", "alt"))
    assert names.index(("order_placed", "main")) < gave_up
    assert names.index(("order_placed", "third")) < gave_up
    failed = logs[gave_up]
    assert failed["error"].startswith("TimeoutError")


async def test_a_position_opened_after_the_close_is_seen_whatever_the_hub_says(
    tmp_path: Path,
) -> None:
    """The hub's state is in sync and says flat (its push of the new position has not come
    yet); the position read after the bar closed says otherwise: no entry."""
    state = uptrend()
    flat = {
        aid: AccountState(aid, name, trading_day_start(time.time()), balance=5e4, can_trade=True)
        for name, aid in IDS.items()
    }
    async with FakeProjectX(accounts=ACCOUNTS, fill_market_orders=False) as gw:
        trader, client = await trader_on(gw, tmp_path, hub=flat.get)
        gw.set_position(IDS["alt"], CONTRACT, 1, 5000.0, at=state.at + 1)  # an OCO, by hand
        plans = await trader.on_state(state)
        placed = {r.body["accountId"] for r in gw.calls("Order/place")}
        reads = [r.path.removeprefix("/api/") for r in gw.requests]
        await client.aclose()
    assert [p.reason_code for p in plans] == ["aligned_uptrend", "position_open", "aligned_uptrend"]
    assert placed == {IDS["main"], IDS["third"]}
    # The gates came from the hub's state: one read per account, then the orders.
    assert sorted(set(reads) - {"Auth/loginKey", "Contract/search"}) == [
        "Order/place",
        "Position/searchOpen",
    ]
    assert reads.count("Position/searchOpen") == 3


async def test_gates_fall_back_to_rest_while_the_hub_is_away(tmp_path: Path) -> None:
    """The worker's wiring: in sync, a decision reads the positions only; with the hub
    gone, the day's trades and canTrade are read over REST again — and a loss booked
    meanwhile (pushed to nobody) closes the gate."""
    async with FakeProjectX(accounts=ACCOUNTS[:1]) as gw:  # noqa: SIM117 -- the hub needs gw
        async with FakeUserHub(gw.token_valid, ping_interval_s=0.2) as hub:
            settings = Settings(
                broker="projectx",
                projectx_base_url=gw.url,
                projectx_username="user",
                projectx_api_key="key",
                projectx_user_hub_url=hub.url,
                trade_accounts="main",
                account_ids={"main": IDS["main"]},
                symbols="MES",
                state_dir=tmp_path,
                reconnect_initial_seconds=30.0,  # stays away once dropped
            )
            broker = build_broker(settings)
            contexts = broker.contexts
            assert isinstance(contexts, ProjectXContexts) and contexts.hub is not None
            for phase in broker.startup:
                await phase.run()
            try:
                warm = contexts.hub
                await eventually(lambda: warm(IDS["main"]) is not None, message="hub in sync")
                before = len(gw.requests)
                in_sync = await contexts.context("main", "MES")
                read_in_sync = [r.path for r in gw.requests[before:]]
                await hub.stop()
                await eventually(lambda: warm(IDS["main"]) is None, message="hub away")
                gw.add_trade(IDS["main"], 4990.0, -600.0, fees=1.0)
                before = len(gw.requests)
                away = await contexts.context("main", "MES")
                read_away = sorted(r.path for r in gw.requests[before:])
            finally:
                for hook in reversed(broker.shutdown):
                    await hook()
    assert in_sync is not None and in_sync.gate_open
    assert read_in_sync == ["/api/Position/searchOpen"]
    assert away is not None and away.gate_reason == "daily_loss_limit"
    assert read_away == ["/api/Account/search", "/api/Position/searchOpen", "/api/Trade/search"]
