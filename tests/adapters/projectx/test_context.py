"""Gates from the gateway, token renewal, and no secret anywhere in the output."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog

from adapters.files.jsonl import NullRecorder
from adapters.logs import configure_logging
from adapters.projectx.client import ProjectXClient, ProjectXConfig
from adapters.projectx.context import ContractResolver, ProjectXContexts
from adapters.projectx.execution import ProjectXExecutor
from adapters.projectx.intents import IntentStore
from engine.calendar import trading_day_start
from engine.config import DecisionConfig
from engine.decide import HoldFirstDecider
from engine.execution import PlaceEntry
from engine.model import ClosedBar, MarketState, PositionContext, Side
from engine.ports import Recorder  # noqa: F401 -- the protocol the null recorder satisfies
from engine.risk import RiskLimits
from tests.fakes.projectx_gateway import FakeProjectX
from worker.trader import StaticContracts, Trader

CONTRACT = "CON.F.US.MES.Z25"
SENTINEL_KEY = "SENTINEL-api-key-7f3a9c"


@pytest.fixture
async def gateway() -> AsyncIterator[FakeProjectX]:
    async with FakeProjectX(api_key=SENTINEL_KEY, validate_revokes_old=False) as gw:
        yield gw


def _client(gw: FakeProjectX, **kw: float) -> ProjectXClient:
    return ProjectXClient(ProjectXConfig(gw.url, "user", SENTINEL_KEY, timeout_s=2.0, **kw))


def _state(regime: str = "trend_up") -> MarketState:
    """An aligned up-trend at a time outside the flat window (now, rounded to 5 min)."""
    at = int(time.time()) // 300 * 300
    while HoldFirstDecider(DecisionConfig()).flat_window.contains(at):
        at -= 3600  # the window is under two hours: step out of it
    bars = tuple(
        ClosedBar("MES", tf, at - tf * 60, at, 1.0, 1.0, 1.0, 1.0, 1.0, tf, 1.0, 1e-3, regime, 99)
        for tf in (5, 15, 30)
    )
    return MarketState("MES", at, bars, bars[:1])


async def _resolved(client: ProjectXClient) -> ContractResolver:
    """A resolver as the worker's start-up leaves it: MES resolved (decisions never do)."""
    resolver = ContractResolver(client, symbols=("MES",))
    await resolver.resolve_all()
    return resolver


def _flat_window_free() -> bool:
    return not HoldFirstDecider(DecisionConfig()).flat_window.contains(_state().at)


async def _decide(gw: FakeProjectX, limits: RiskLimits | None = None) -> tuple[str, dict]:
    limits = limits or RiskLimits()
    client = _client(gw)
    contexts = ProjectXContexts(client, {"main": 1001}, await _resolved(client), limits)
    try:
        context = await contexts.context("main", "MES")
    except Exception:  # noqa: BLE001 -- the trader's rule: no context -> HOLD
        context = None
    finally:
        await client.aclose()
    plan = HoldFirstDecider(DecisionConfig()).decide(_state(), context)
    return plan.reason_code, dict(plan.details)


def _today(offset_s: float = 60.0) -> float:
    return trading_day_start(time.time()) + offset_s


@pytest.mark.parametrize(
    ("script", "reason", "gate"),
    [
        ("nothing", "aligned_uptrend", None),
        ("position", "position_open", None),
        ("loss", "account_gate_block", "daily_loss_limit"),
        ("profit", "account_gate_block", "daily_profit_target"),
        ("streak", "account_gate_block", "consecutive_losses"),
        ("cannot_trade", "account_gate_block", "cannot_trade"),
        ("context_failure", "no_position_context", None),
        ("voided_loss", "aligned_uptrend", None),
        ("yesterday_loss", "aligned_uptrend", None),
    ],
)
async def test_gates_from_the_gateway(
    gateway: FakeProjectX, script: str, reason: str, gate: str | None
) -> None:
    gw = gateway
    if script == "position":
        gw.set_position(1001, CONTRACT, 1, 5000.0)
    elif script == "loss":
        gw.add_trade(1001, 5000.0, None, fees=0.37, at=_today(60))
        gw.add_trade(1001, 4990.0, -499.26, fees=0.37, at=_today(120))  # net -500.00
    elif script == "profit":
        gw.add_trade(1001, 5010.0, 501.0, fees=1.0, at=_today())  # net 500.00
    elif script == "streak":
        for i in range(3):
            gw.add_trade(1001, 4999.0, -10.0, fees=0.5, at=_today(60 + i))
    elif script == "cannot_trade":
        gw.set_can_trade(1001, False)
    elif script == "context_failure":
        gw.fail_next("Position/searchOpen", status=500, n=None)
    elif script == "voided_loss":
        gw.add_trade(1001, 4900.0, -900.0, fees=1.0, voided=True, at=_today())
    elif script == "yesterday_loss":
        gw.add_trade(1001, 4900.0, -900.0, fees=1.0, at=_today(-600))
    got_reason, details = await _decide(gw)
    assert got_reason == reason
    assert details.get("gate") == gate


async def test_concurrent_callers_share_one_renewal_after_a_401(gateway: FakeProjectX) -> None:
    client = _client(gateway)
    await client.accounts()
    gateway.expire_token(renewable=True)
    results = await asyncio.gather(*(client.accounts() for _ in range(10)))
    await client.aclose()
    assert all(r for r in results)
    assert (gateway.logins, gateway.validates) == (1, 1)


async def test_token_is_renewed_before_expiry_without_a_second_login(
    gateway: FakeProjectX,
) -> None:
    now = [0.0]
    client = ProjectXClient(
        ProjectXConfig(gateway.url, "user", SENTINEL_KEY, renew_after_s=3600.0),
        clock=lambda: now[0],
    )
    first = await client.token()
    now[0] = 3599.0
    assert await client.token() == first
    now[0] = 3601.0  # 20 h in production; any time before the 24 h expiry
    renewed = await asyncio.gather(*(client.token() for _ in range(5)))
    await client.aclose()
    assert len(set(renewed)) == 1 and renewed[0] != first
    assert (gateway.logins, gateway.validates) == (1, 1)


async def test_no_secret_in_logs_or_errors(gateway: FakeProjectX, tmp_path: Path) -> None:
    out = io.StringIO()
    configure_logging("DEBUG", "json", secrets=[SENTINEL_KEY], stream=out)
    log = structlog.get_logger("test")
    client = _client(gateway, order_timeout_s=0.3)
    executor = ProjectXExecutor(
        client, IntentStore(tmp_path / "i.db"), {"main": 1001}, (0.05, 0.05)
    )
    trader = Trader(
        decider=HoldFirstDecider(DecisionConfig()),
        accounts=("main",),
        contexts=ProjectXContexts(client, {"main": 1001}, await _resolved(client), RiskLimits()),
        executor=executor,
        recorder=NullRecorder(),
        contracts=StaticContracts({"MES": CONTRACT}),
    )
    await trader.on_state(_state())
    gateway.expire_token(renewable=True)
    for mode in ("hang_after", "500_after", "success_false"):
        gateway.fail_next_place(mode)
        at = int(time.time()) // 60 * 60
        await executor.submit(
            PlaceEntry("main", "MES", CONTRACT, Side.SELL, 1, f"t-{mode}", at), _state()
        )
    wrong = ProjectXClient(ProjectXConfig(gateway.url, "user", "wrong-" + SENTINEL_KEY))
    with pytest.raises(Exception) as refused:  # noqa: PT011 -- any error; its text matters
        await wrong.token()
    log.error("login_failed", error=str(refused.value))
    assert SENTINEL_KEY not in str(refused.value) + repr(refused.value)
    await wrong.aclose()
    await client.aclose()
    text = out.getvalue()
    assert "order_placed" in text
    tokens = {
        h.split(" ", 1)[1] for r in gateway.requests
        for k, h in r.headers.items() if k == "authorization"
    }  # fmt: skip
    assert tokens
    for secret in (SENTINEL_KEY, *tokens):
        assert secret not in text


async def test_reads_honour_retry_after_and_money_calls_never_retry(
    gateway: FakeProjectX,
) -> None:
    client = _client(gateway)
    await client.token()
    gateway.rate_limit_next(1, retry_after=1, path="Account/search")
    started = time.monotonic()
    assert await client.accounts()
    assert time.monotonic() - started >= 1.0  # waited as told
    assert len(gateway.calls("Account/search")) == 2
    await client.aclose()


async def test_one_accounts_failure_never_blocks_another(gateway: FakeProjectX) -> None:
    class Flaky:
        async def context(self, account: str, symbol: str) -> PositionContext | None:
            if account == "broken":
                raise RuntimeError("context service down")
            return PositionContext(account)

    class Recording:
        def __init__(self) -> None:
            self.accounts: list[str] = []

        async def submit(self, entry: PlaceEntry, state: MarketState) -> None:
            if entry.account == "explodes":
                raise RuntimeError("executor bug")
            self.accounts.append(entry.account)

    executor = Recording()
    trader = Trader(
        decider=HoldFirstDecider(DecisionConfig()),
        accounts=("broken", "explodes", "good"),
        contexts=Flaky(),
        executor=executor,
        recorder=NullRecorder(),
        contracts=StaticContracts(),
    )
    with structlog.testing.capture_logs() as logs:
        plans = await trader.on_state(_state())
    assert [p.reason_code for p in plans] == ["no_position_context", "aligned_uptrend",
                                              "aligned_uptrend"]  # fmt: skip
    assert executor.accounts == ["good"]
    assert {e["event"] for e in logs} >= {"context_failed", "order_failed"}
