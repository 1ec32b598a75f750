"""Contract resolution (TradingView root -> ProjectX contract, once per trading day), the
start-up checks (accounts, contracts) and positions held in any month of the product."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adapters.projectx.client import ProjectXClient, ProjectXConfig
from adapters.projectx.context import ProjectXContexts
from adapters.projectx.contracts import SYMBOL_IDS, ContractResolver
from adapters.projectx.errors import ContractNotFound, UnknownAccount
from engine.calendar import trading_day_start
from engine.products import PRODUCTS
from engine.risk import RiskLimits
from tests.fakes.projectx_gateway import FakeProjectX
from tests.fakes.projectx_wire import DEFAULT_ACCOUNTS, DEFAULT_CONTRACTS
from tests.fakes.wait import eventually, never
from worker.app import Broker, build_broker
from worker.settings import ConfigError, Settings, load_settings


def contract(cid: str, name: str, active: bool = True, symbol_id: bool = True) -> dict:
    row = {"id": cid, "name": name, "description": name, "tickSize": 0.25, "tickValue": 1.0,
           "activeContract": active}  # fmt: skip
    if symbol_id:  # the newer revision of the docs
        row["symbolId"] = cid.removeprefix("CON.").rsplit(".", 1)[0]
    return row


CONTRACTS = [
    *DEFAULT_CONTRACTS,
    contract("CON.F.US.ENQ.Z25", "NQZ5"),
    contract("CON.F.US.GCE.G26", "GCG6"),
    contract("CON.F.US.MCLE.F26", "MCLEF6"),
]


@pytest.fixture
async def gateway() -> AsyncIterator[FakeProjectX]:
    async with FakeProjectX(contracts=CONTRACTS) as gw:
        yield gw


def client_of(gw: FakeProjectX) -> ProjectXClient:
    return ProjectXClient(ProjectXConfig(gw.url, "user", "key", timeout_s=2.0, read_attempts=1))


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ("MES", "CON.F.US.MES.Z25"),
        ("ES", "CON.F.US.EP.Z25"),  # not CON.F.US.ES: ES is F.US.EP
        ("NQ", "CON.F.US.ENQ.Z25"),
        ("GC", "CON.F.US.GCE.G26"),
        ("MCL", "CON.F.US.MCLE.F26"),
        ("mnq", "CON.F.US.MNQ.Z25"),
    ],
)
async def test_roots_resolve_through_the_table(
    gateway: FakeProjectX, root: str, expected: str
) -> None:
    client = client_of(gateway)
    with capture_logs() as logs:
        assert await ContractResolver(client).resolve(root) == expected
    await client.aclose()
    resolved = [e for e in logs if e["event"] == "contract_resolved"]
    assert len(resolved) == 1 and resolved[0]["contract"] == expected
    assert "previous" not in resolved[0]


def test_the_table_covers_the_common_cme_roots() -> None:
    roots = {"MES", "ES", "MNQ", "NQ", "M2K", "RTY", "MYM", "YM", "MGC", "GC", "MCL", "CL"}
    assert set(SYMBOL_IDS) == roots
    assert (SYMBOL_IDS["ES"], SYMBOL_IDS["NQ"], SYMBOL_IDS["GC"]) == (
        "F.US.EP", "F.US.ENQ", "F.US.GCE")  # fmt: skip


async def test_without_symbol_id_the_contract_id_prefix_decides() -> None:
    older = [
        contract("CON.F.US.MES.Z25", "MESZ5", symbol_id=False),  # other product first:
        contract("CON.F.US.EPX.Z25", "EPXZ5", symbol_id=False),  # no prefix confusion
        contract("CON.F.US.EP.H26", "ESH6", active=False, symbol_id=False),
        contract("CON.F.US.EP.Z25", "ESZ5", symbol_id=False),
    ]
    async with FakeProjectX(contracts=older) as gw:
        client = client_of(gw)
        assert await ContractResolver(client).resolve("ES") == "CON.F.US.EP.Z25"
        await client.aclose()


async def test_a_setting_overrides_the_table(gateway: FakeProjectX) -> None:
    client = client_of(gateway)
    resolver = ContractResolver(client, symbol_ids={"ES": "F.US.MES", "gold": "F.US.GCE"})
    assert await resolver.resolve("ES") == "CON.F.US.MES.Z25"
    assert await resolver.resolve("GOLD") == "CON.F.US.GCE.G26"
    overridden = ContractResolver(client, override="CON.F.US.X.Z25")  # OVERRIDE_CONTRACT_ID
    assert await overridden.resolve("ES") == "CON.F.US.X.Z25"
    await client.aclose()


def test_contract_symbols_setting_is_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    settings = load_settings(contract_symbols="es:f.us.ep, GC:F.US.GCE")
    assert settings.contract_symbol_map == {"ES": "F.US.EP", "GC": "F.US.GCE"}
    for bad in ("ES", "ES:EP", "ES:F.US.EP,,GC:F.US.GCE", "ES:F.US.EP,es:F.US.MES", ":F.US.EP"):
        with pytest.raises(ConfigError, match=r"^config error: CONTRACT_SYMBOLS: .*example"):
            load_settings(contract_symbols=bad)


async def test_resolved_once_per_trading_day_and_again_after_a_rollover(
    gateway: FakeProjectX,
) -> None:
    day = trading_day_start(datetime(2025, 12, 10, 18, tzinfo=UTC).timestamp())
    now = [day + 3600.0]
    client = client_of(gateway)
    resolver = ContractResolver(client, clock=lambda: now[0])
    with capture_logs() as logs:
        assert await resolver.resolve("MES") == "CON.F.US.MES.Z25"
        now[0] = day + 86_399.0  # 16:59:59 CT: the same trading day
        assert await resolver.resolve("MES") == "CON.F.US.MES.Z25"
        assert len(gateway.calls("Contract/search")) == 1  # not on every decision
        gateway.set_contract_active("CON.F.US.MES.Z25", False)  # the roll
        gateway.set_contract_active("CON.F.US.MES.H26", True)
        now[0] = day + 86_400.0  # 17:00 CT: a new trading day
        assert await resolver.resolve("MES") == "CON.F.US.MES.H26"
        assert await resolver.resolve("MES") == "CON.F.US.MES.H26"
    await client.aclose()
    assert len(gateway.calls("Contract/search")) == 2
    resolved = [e for e in logs if e["event"] == "contract_resolved"]
    assert [(e["contract"], e.get("previous")) for e in resolved] == [
        ("CON.F.US.MES.Z25", None), ("CON.F.US.MES.H26", "CON.F.US.MES.Z25")]  # fmt: skip


async def test_decisions_never_resolve_the_daily_refresh_does(gateway: FakeProjectX) -> None:
    """`current` (the decision path) makes no request, whatever the day; the refresh task
    started with the resolver resolves again once a new trading day began."""
    day = trading_day_start(datetime(2025, 12, 10, 18, tzinfo=UTC).timestamp())
    now = [day + 3600.0]
    client = client_of(gateway)
    resolver = ContractResolver(client, symbols=("MES",), clock=lambda: now[0], check_s=0.01)
    with pytest.raises(LookupError):
        resolver.current("MES")  # never resolved: no decision can enter
    await resolver.start()
    assert resolver.current("MES") == "CON.F.US.MES.Z25"
    gateway.set_contract_active("CON.F.US.MES.Z25", False)  # the roll
    gateway.set_contract_active("CON.F.US.MES.H26", True)
    await never(lambda: len(gateway.calls("Contract/search")) > 1, within=0.1)  # same day
    assert resolver.current("MES") == "CON.F.US.MES.Z25"
    now[0] = day + 86_400.0  # 17:00 CT: a new trading day
    await eventually(lambda: resolver.current("MES") == "CON.F.US.MES.H26")
    await resolver.stop()
    await client.aclose()
    assert len(gateway.calls("Contract/search")) == 2


async def test_a_failed_refresh_keeps_the_contract_and_tries_again_later(
    gateway: FakeProjectX,
) -> None:
    day = trading_day_start(datetime(2025, 12, 10, 18, tzinfo=UTC).timestamp())
    now = [day + 60.0]
    client = client_of(gateway)
    resolver = ContractResolver(client, retry_s=300.0, clock=lambda: now[0])
    assert await resolver.resolve("MES") == "CON.F.US.MES.Z25"
    gateway.fail_next("Contract/search", status=503, n=None)
    now[0] = day + 86_460.0  # the next trading day
    with capture_logs() as logs:
        assert await resolver.resolve("MES") == "CON.F.US.MES.Z25"
        assert await resolver.resolve("MES") == "CON.F.US.MES.Z25"  # no retry yet
        assert len(gateway.calls("Contract/search")) == 2
        gateway.clear_faults()
        now[0] += 301.0
        assert await resolver.resolve("MES") == "CON.F.US.MES.Z25"
    await client.aclose()
    assert len(gateway.calls("Contract/search")) == 3
    failed = [e for e in logs if e["event"] == "contract_refresh_failed"]
    assert len(failed) == 1 and failed[0]["contract"] == "CON.F.US.MES.Z25"
    assert [e["event"] for e in logs if e["event"] == "contract_resolved"] == ["contract_resolved"]


async def test_resolve_all_names_the_symbol_that_cannot_be_resolved(
    gateway: FakeProjectX,
) -> None:
    client = client_of(gateway)
    good = ContractResolver(client, symbols=("MES", "ES"))
    assert await good.resolve_all() == {"MES": "CON.F.US.MES.Z25", "ES": "CON.F.US.EP.Z25"}
    with pytest.raises(ContractNotFound) as missing:
        await ContractResolver(client, symbols=("MES", "ZZ")).resolve_all()
    await client.aclose()
    assert missing.value.symbol == "ZZ" and "ZZ" in str(missing.value)


async def test_check_accounts_and_the_context_name_an_unknown_account() -> None:
    closed = {"id": 4242, "name": "closed", "canTrade": False, "active": False}
    async with FakeProjectX(accounts=[*DEFAULT_ACCOUNTS, closed]) as gateway:
        client = client_of(gateway)
        resolver = ContractResolver(client, symbols=("MES",))
        await resolver.resolve_all()
        await ProjectXContexts(client, {"main": 1001}, resolver, RiskLimits()).check_accounts()
        for ids in ({"main": 1001, "other": 4242}, {"main": 1001, "typo": 1010}):
            wrong = ProjectXContexts(client, ids, resolver, RiskLimits())
            with pytest.raises(UnknownAccount) as unknown:
                await wrong.check_accounts()
            assert unknown.value.account_id == ids[list(ids)[1]]
            assert str(ids[list(ids)[1]]) in str(unknown.value)
        # Per decision: an account that is no longer active is named, not a bare LookupError.
        with pytest.raises(UnknownAccount):
            await ProjectXContexts(client, {"other": 4242}, resolver, RiskLimits()).context(
                "other", "MES"
            )
        await client.aclose()


@pytest.mark.parametrize(
    ("held", "is_open"),
    [
        ("CON.F.US.MES.Z25", True),  # the old month, in the rollover week
        ("CON.F.US.MES.H26", True),  # the active month
        ("CON.F.US.MNQ.Z25", False),  # another product
    ],
)
async def test_a_position_in_any_month_of_the_product_is_open(
    gateway: FakeProjectX, held: str, is_open: bool
) -> None:
    gateway.set_contract_active("CON.F.US.MES.Z25", False)
    gateway.set_contract_active("CON.F.US.MES.H26", True)
    gateway.set_position(1001, held, 1, 5000.0)
    client = client_of(gateway)
    resolver = ContractResolver(client, symbols=("MES",))
    await resolver.resolve_all()
    contexts = ProjectXContexts(client, {"main": 1001}, resolver, RiskLimits())
    context = await contexts.context("main", "MES")
    await client.aclose()
    assert context is not None and context.position_open is is_open


async def test_the_broker_checks_accounts_and_contracts_right_after_login(
    gateway: FakeProjectX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    base = {"broker": "projectx", "projectx_base_url": gateway.url, "projectx_username": "user",
            "projectx_api_key": "key", "trade_accounts": "main", "symbols": "MES,ES"}  # fmt: skip
    broker = build_broker(Settings(**base, account_ids={"main": 1001}))
    await _start(broker)
    assert [r.path.removeprefix("/api/") for r in gateway.requests] == [
        "Auth/loginKey", "Account/search", "Contract/search", "Contract/search"]  # fmt: skip
    assert broker.contracts.current("ES") == "CON.F.US.EP.Z25"  # known: no call
    assert len(gateway.requests) == 4
    unknown = build_broker(Settings(**base, account_ids={"main": 4242}))
    with pytest.raises(UnknownAccount):
        await _start(unknown)
    unresolvable = build_broker(
        Settings(**base | {"symbols": "MES,ZZ"}, account_ids={"main": 1001})
    )
    with pytest.raises(ContractNotFound):
        await _start(unresolvable)
    for shut in (*broker.shutdown, *unknown.shutdown, *unresolvable.shutdown):
        if getattr(shut, "__name__", "") in ("aclose", "stop"):  # client, contract refresh
            await shut()


async def _start(broker: Broker) -> None:
    """The broker's first start-up hooks: login, then the permanent checks (the user hub
    and the rest follow, not needed here)."""
    assert [phase.name for phase in broker.startup[:3]] == ["broker_login", "accounts", "contracts"]
    for phase in broker.startup[:3]:
        await phase.run()


def test_the_symbol_table_maps_the_roots_of_the_product_table() -> None:
    """One set of CME roots: each product the paper broker values, ProjectX can trade."""
    assert set(SYMBOL_IDS) == set(PRODUCTS)
