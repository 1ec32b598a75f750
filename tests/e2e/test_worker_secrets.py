"""No secret ever reaches the worker's output. Every secret gets a sentinel value; a full
run goes through warm-up over the Supabase fakes, live decisions, orders on the fake
ProjectX gateway (TRADING_ENABLED=true), the webhook, and the exception paths: a 500
from Position/searchOpen (context_failed), ambiguous and refused placements, a refused
Realtime reconnect, a 500 from PostgREST and a terminated lease session. Neither stdout
nor stderr may then carry a sentinel, nor a token the gateway issued. Notifications go
to a loopback receiver through the real Apprise (its URL holds a sentinel token): each
notified event of the run arrives once, and no note carries a sentinel or token."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict

from tests.e2e.livekit import COLUMNS, Inserter, insert_now
from tests.e2e.test_worker_lease import NO_HUB, LoggedWorker
from tests.fakes.notify_receiver import NotifyReceiver
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.projectx_gateway import FakeProjectX
from tests.fakes.realtime_server import FakeRealtime

SUPABASE_KEY = "sb-SENTINEL-supabase-5c1f0e9a7b"
PROJECTX_KEY = "px-SENTINEL-projectx-9c2e4d18aa"
WEBHOOK_SECRET = "wh-SENTINEL-webhook-41d07f3bce"
LEASE_PASSWORD = "pg-SENTINEL-lease-b85a2c6e01"
NOTIFY_TOKEN = "nt-SENTINEL-notify-6e3f2a9d17"
SENTINELS = {
    "SUPABASE_KEY": SUPABASE_KEY, "PROJECTX_API_KEY": PROJECTX_KEY,
    "WEBHOOK_SECRET": WEBHOOK_SECRET, "LEASE_DATABASE_URL password": LEASE_PASSWORD,
    "NOTIFY_URLS token": NOTIFY_TOKEN,
}  # fmt: skip
ACCOUNT_ID = 1001
WARM, LIVE = 2400, 90  # minutes
CT = ZoneInfo("America/Chicago")


def _in_flat_window(t: float) -> bool:
    local = datetime.fromtimestamp(t, CT)
    minutes = local.hour * 60 + local.minute
    return 15 * 60 + 7 <= minutes <= 17 * 60


def trend_rows(minutes: int, live: int) -> list[dict[str, Any]]:
    """A steady uptrend (every timeframe trend_up: a BUY at every close), its minutes
    ending at a 30m boundary in the past, the live part clear of the get-flat window."""
    end = int(time.time()) // 1800 * 1800 - 3600
    while any(_in_flat_window(t) for t in range(end - live * 60, end + 61, 60)):
        end -= 1800
    start = end - minutes * 60
    rows, price = [], 5000.0
    for i in range(minutes):
        t = start + i * 60
        o, c = price, price + 0.5
        price = c
        ts = datetime.fromtimestamp(t + 60 + 1.0, UTC).isoformat()  # received 1 s after close
        values = (ts, "MES", "1", f"{o}", f"{c + 0.25}", f"{o - 0.25}", f"{c}", "100")
        rows.append(dict(zip(COLUMNS, values, strict=True)))
    return rows


def lease_url(pg_dsn: str) -> str:
    params = conninfo_to_dict(pg_dsn)
    return (
        f"postgresql://{params['user']}:{LEASE_PASSWORD}@{params['host']}:{params['port']}"
        f"/{params['dbname']}"
    )


def terminate_lease_session(pg_dsn: str) -> int:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where application_name like 'lease:%%' and datname = current_database()"
        ).fetchall()
    return len(rows)


def issued_tokens(gateway: FakeProjectX) -> set[str]:
    tokens = set()
    for request in gateway.requests:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            tokens.add(token.strip())
    return tokens


def leaks(text: str, tokens: set[str]) -> list[str]:
    found = [name for name, value in SENTINELS.items() if value in text]
    found += [f"SENTINEL fragment ({text.count('SENTINEL')}x)"] if "SENTINEL" in text else []
    found += [
        f"gateway token {token}"
        for token in sorted(tokens)
        if re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text)
    ]
    return found


def _states(worker: LoggedWorker, state: str) -> int:
    return sum(1 for e in worker.named("source_state") if e.get("state") == state)


async def test_no_secret_or_token_in_any_output(pg_dsn: str, tmp_path: Path) -> None:
    rows = trend_rows(WARM + LIVE, LIVE)
    insert_now(pg_dsn, rows[:WARM])
    receiver = NotifyReceiver()
    async with (
        FakeRealtime(pg_dsn, api_key=SUPABASE_KEY) as rt,
        FakePostgrest(pg_dsn, api_key=SUPABASE_KEY) as rest,
        FakeProjectX(username="trader", api_key=PROJECTX_KEY,
                     fill_market_orders=False) as gateway,
    ):  # fmt: skip
        worker = LoggedWorker({
            "SUPABASE_URL": rest.url, "SUPABASE_REALTIME_URL": rt.url,
            "SUPABASE_KEY": SUPABASE_KEY, "RECONNECT_INITIAL_SECONDS": "0.2",
            "RECONNECT_CAP_SECONDS": "1", "BROKER": "projectx",
            "PROJECTX_BASE_URL": gateway.url, "PROJECTX_USERNAME": "trader",
            "PROJECTX_API_KEY": PROJECTX_KEY, "ACCOUNT_MAIN": str(ACCOUNT_ID),
            "PROJECTX_USER_HUB_URL": NO_HUB,  # refused: its retries carry the token
            "TRADE_ACCOUNTS": "main", "TRADING_ENABLED": "true",
            "STATE_DIR": str(tmp_path / "state"), "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "LEASE_DATABASE_URL": lease_url(pg_dsn), "LEASE_POLL_SECONDS": "0.5",
            "HEALTH_PORT": "0", "HEALTH_HOST": "127.0.0.1", "LOG_LEVEL": "DEBUG",
            # The rows' bars closed hours ago: let their entries through the age gate, to
            # walk every order path (tests/e2e/test_live_stale_signal.py tests the gate).
            "MAX_SIGNAL_AGE_SECONDS": "86400",
            "NOTIFY_URLS": receiver.url(NOTIFY_TOKEN),
        }, cwd=tmp_path)  # fmt: skip
        receiver.__enter__()
        await worker.start()
        try:
            await worker.wait_for(lambda: _states(worker, "READY") == 1, 60, "subscription")
            await worker.wait_for(lambda: bool(worker.named("leader")), 10, "the lease")
            live = rows[WARM:]
            async with Inserter(pg_dsn) as ins:
                # Live decisions and plain orders.
                await ins.insert(live[:12])
                await worker.wait_for(lambda: len(worker.named("order_placed")) >= 2, 30,
                                      "orders")  # fmt: skip
                # A 500 from Position/searchOpen on every retry: context_failed, HOLD.
                gateway.fail_next("Position/searchOpen", 500, n=4, body=b'{"error":"boom"}')
                await ins.insert(live[12:17])
                await worker.wait_for(lambda: bool(worker.named("context_failed")), 30,
                                      "context_failed")  # fmt: skip
                # An ambiguous placement (booked, then 500): resolved by its tag.
                gateway.fail_next_place("500_after")
                await ins.insert(live[17:22])
                await worker.wait_for(
                    lambda: any(e.get("resolved") == "found_by_tag"
                                for e in worker.named("order_placed")),
                    30, "the ambiguous order resolved",
                )  # fmt: skip
                # A refused placement.
                gateway.fail_next_place("success_false", error_message="Order rejected")
                await ins.insert(live[22:27])
                await worker.wait_for(lambda: bool(worker.named("order_failed")), 30,
                                      "order_failed")  # fmt: skip
                # The webhook, with the secret and with a wrong one.
                async with httpx.AsyncClient(timeout=15) as http:
                    url = f"http://127.0.0.1:{worker.health_port}/webhook"
                    good = await http.post(url, json={"secret": WEBHOOK_SECRET})
                    bad = await http.post(url, json={"secret": "not-it"})
                    scraped = await http.get(f"http://127.0.0.1:{worker.health_port}/metrics")
                assert good.status_code == 200, good.text
                assert bad.status_code == 401
                assert WEBHOOK_SECRET not in good.text + scraped.text
                # Realtime: connection lost, reconnects refused for a while, a REST 500.
                rt.refuse_connections(True)
                await rt.drop_all()
                await worker.wait_for(lambda: _states(worker, "error") >= 1, 30, "refusals")
                rest.fail_next(1, 500)
                rt.refuse_connections(False)
                await worker.wait_for(lambda: _states(worker, "READY") == 2, 30, "resubscribe")
                # The lease session terminated by the server: lost, then regained.
                assert terminate_lease_session(pg_dsn) == 1
                await worker.wait_for(lambda: bool(worker.named("leader_lost")), 15,
                                      "leader_lost")  # fmt: skip
                await worker.wait_for(lambda: len(worker.named("leader")) >= 2, 15, "re-lead")
                await ins.insert(live[27:])
                last = live[-1]["ts"][:16]
                await worker.wait_for(
                    lambda: any(e["at"][:16] == last for e in worker.named("action_plan")),
                    30, "the last decision",
                )  # fmt: skip
        finally:
            code = await worker.stop()
            receiver.__exit__()
        tokens = issued_tokens(gateway)
        tags = [r.body["customTag"] for r in gateway.calls("Order/place")]

    assert code == 0, worker.raw_err.decode()[-2000:]
    # The run did go through every path it claims to.
    assert len(worker.named("order_placed")) >= 4 and len(tags) >= 5
    assert worker.named("context_failed") and worker.named("order_ambiguous")
    assert worker.named("webhook_rejected") and worker.named("leader_lost")
    assert tokens, "the gateway issued no token"
    output = worker.output
    assert not leaks(output, tokens), leaks(output, tokens)
    state_files = "".join(
        p.read_text(errors="replace") for p in (tmp_path / "state").rglob("*") if p.is_file()
    )
    assert not [n for n, v in SENTINELS.items() if v in state_files]
    # Every notified event of the run arrived once, and no note holds a secret.
    titles = receiver.titles()
    for event, title in (
        ("worker_started", "Worker started"), ("order_placed", "Order placed"),
        ("order_ambiguous", "Order outcome unknown"), ("order_failed", "ORDER FAILED"),
        ("leader", "This copy is now the active trader"), ("leader_lost", "Trading lead LOST"),
        ("worker_stopped", "Worker stopped"),
    ):  # fmt: skip
        assert sum(t.startswith(title) for t in titles) == len(worker.named(event)) > 0, event
    assert receiver.paths and all(p == f"/{NOTIFY_TOKEN}" for p in receiver.paths)
    notes = json.dumps(receiver.notes)
    assert not leaks(notes, tokens), leaks(notes, tokens)


def test_the_leak_detector_detects() -> None:
    """Control: the scan is not vacuous."""
    assert leaks(f"x {PROJECTX_KEY} y", set()) == ["PROJECTX_API_KEY", "SENTINEL fragment (1x)"]
    assert leaks("Authorization: Bearer tok-3", {"tok-3"}) == ["gateway token tok-3"]
    assert leaks("tok-31", {"tok-3"}) == []
