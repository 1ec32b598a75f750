"""HealthServer over real HTTP: /healthz, /metrics, /webhook; the loop-lag monitor."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from tests.fakes.wait import eventually
from worker.health import HealthFn, HealthServer, Webhook, health_check
from worker.metrics import LoopLagMonitor, build_registry, render

SECRET = "s3cret-webhook-value"
NOW = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeSource:
    name = "supabase"

    def __init__(self, clock: FakeClock) -> None:
        self.counts: Counter[str] = Counter()
        self.live = True
        self.last_row_at: float | None = clock.now


class FakeSampleFeed:
    name = "sample feed"


class Counted:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.last_row_arrival: float | None = None


Serve = Callable[..., Any]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """serve(health_fn, metrics_fn=..., webhook=...) -> (server, client), both closed after."""
    started: list[tuple[HealthServer, httpx.AsyncClient]] = []

    async def start(
        health_fn: HealthFn = lambda: (True, {}), metrics_fn: Callable[[], bytes] = bytes, **kw: Any
    ) -> tuple[HealthServer, httpx.AsyncClient]:
        server = HealthServer("127.0.0.1", 0, health_fn, metrics_fn, **kw)
        await server.start()
        client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", trust_env=False, timeout=5.0
        )
        started.append((server, client))
        return server, client

    yield start
    for server, client in started:
        await client.aclose()
        await server.stop()


async def test_healthz_goes_unhealthy_on_a_stale_source_inside_the_session_and_recovers(
    serve: Serve,
) -> None:
    clock = FakeClock()
    source = FakeSource(clock)
    check = health_check(source, stale_after_s=180.0, clock=clock, session=lambda t: True)
    server, client = await serve(check)
    assert server.port != 0
    with capture_logs() as logs:
        ok = await client.get("/healthz")
        clock.now += 412.0
        stale = await client.get("/healthz")
        source.last_row_at = clock.now
        recovered = await client.get("/healthz")
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    assert ok.json()["source"] == "supabase" and ok.json()["last_row_age_s"] == 0.0
    assert stale.status_code == 503
    assert stale.json()["status"] == "unhealthy"
    assert stale.json()["reason"] == "last row 412 s old inside the session"
    assert recovered.status_code == 200
    health = [(e["status"], e["reason"]) for e in logs if e["event"] == "health"]
    assert health == [
        ("ok", None),
        ("unhealthy", "last row 412 s old inside the session"),
        ("ok", None),
    ]


async def test_silence_outside_the_session_is_healthy() -> None:
    clock = FakeClock()
    source = FakeSource(clock)
    check = health_check(source, clock=clock, session=lambda t: False)
    clock.now += 10_000.0
    assert check() == (True, {"source": "supabase", "in_session": False, "live": True,
                               "last_row_age_s": 10_000.0})  # fmt: skip


async def test_no_row_since_start_inside_the_session_is_unhealthy() -> None:
    clock = FakeClock()
    source = FakeSource(clock)
    source.last_row_at = None
    check = health_check(source, clock=clock, session=lambda t: True)
    assert check()[0]
    clock.now += 200.0
    ok, details = check()
    assert not ok and details["reason"] == "no row for 200 s inside the session"


async def test_source_not_live_after_the_grace(serve: Serve) -> None:
    clock = FakeClock()
    source = FakeSource(clock)
    check = health_check(source, clock=clock, session=lambda t: True, live_grace_s=30.0)
    _, client = await serve(check)
    source.live = False
    assert (await client.get("/healthz")).status_code == 200  # a reconnect in progress
    clock.now += 31.0
    source.last_row_at = clock.now
    answer = await client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["reason"] == "source not live" and answer.json()["live"] is False
    source.live = True
    assert (await client.get("/healthz")).status_code == 200


async def test_sample_feed_is_healthy_while_running() -> None:
    running = True
    check = health_check(FakeSampleFeed(), running=lambda: running, session=lambda t: True)
    assert check() == (True, {"source": "sample feed", "in_session": True})
    running = False
    assert check() == (False, {"source": "sample feed", "in_session": True,
                               "reason": "worker not running"})  # fmt: skip


async def test_a_failing_health_fn_answers_503(serve: Serve) -> None:
    def broken() -> tuple[bool, dict[str, Any]]:
        raise RuntimeError("boom")

    _, client = await serve(broken)
    answer = await client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "unhealthy", "reason": "health check failed: RuntimeError"}


def _samples(text: str) -> dict[str, dict[str, float]]:
    """family -> {'sample{label=value,...}': value}, parsed the way Prometheus would."""
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = {
            s.name + (f"{{{','.join(f'{k}={v}' for k, v in sorted(s.labels.items()))}}}"
                      if s.labels else ""): s.value
            for s in family.samples
        }  # fmt: skip
    return out


async def test_metrics_reads_the_live_counters(serve: Serve) -> None:
    clock = FakeClock()
    pipeline, trader, source = Counted(), Counted(), FakeSource(clock)
    pipeline.counts.update(
        {"rows": 10, "accepted": 6, "rejected.bad_price": 2, "ignored.symbol": 1, "duplicate": 1,
         "late": 3, "ambiguous": 1, "bars.5m": 4, "bars.1h": 1}
    )  # fmt: skip
    trader.counts.update({"HOLD.no_signal": 5, "BUY.flip_up": 1})
    source.counts.update({"reconnects": 2, "state.SUBSCRIBED": 3, "backfill_rows.gap_check": 7})
    orders: Counter[str] = Counter({"order_placed": 1, "order_skipped": 2})
    monitor = LoopLagMonitor()
    monitor.record(0.25)
    registry = build_registry(pipeline, trader, source, orders, monitor, clock)
    _, client = await serve(metrics_fn=lambda: render(registry))
    clock.now += 42.0
    pipeline.counts["rows"] += 1  # read at scrape time, not at registration
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    got = _samples(answer.text)
    assert got["worker_rows"] == {"worker_rows_total": 11.0}
    assert got["worker_rows_accepted"] == {"worker_rows_accepted_total": 6.0}
    assert got["worker_rows_rejected"] == {"worker_rows_rejected_total{reason=bad_price}": 2.0}
    assert got["worker_rows_ignored"] == {"worker_rows_ignored_total{reason=symbol}": 1.0}
    assert got["worker_rows_not_applied"] == {
        "worker_rows_not_applied_total{outcome=conflict}": 0.0,
        "worker_rows_not_applied_total{outcome=duplicate}": 1.0,
        "worker_rows_not_applied_total{outcome=late}": 3.0,
    }
    assert got["worker_rows_ambiguous"] == {"worker_rows_ambiguous_total": 1.0}
    assert got["worker_bars_closed"] == {
        "worker_bars_closed_total{timeframe=1h}": 1.0,
        "worker_bars_closed_total{timeframe=5m}": 4.0,
    }
    assert got["worker_decisions"] == {
        "worker_decisions_total{action=BUY,reason=flip_up}": 1.0,
        "worker_decisions_total{action=HOLD,reason=no_signal}": 5.0,
    }
    assert got["worker_orders"] == {
        "worker_orders_total{outcome=placed}": 1.0,
        "worker_orders_total{outcome=skipped}": 2.0,
    }
    assert got["worker_source_reconnects"] == {"worker_source_reconnects_total": 2.0}
    assert got["worker_source_states"] == {"worker_source_states_total{state=SUBSCRIBED}": 3.0}
    assert got["worker_source_backfill_rows"] == {
        "worker_source_backfill_rows_total{why=gap_check}": 7.0
    }
    assert got["worker_source_live"] == {"worker_source_live": 1.0}
    assert got["worker_last_row_age_seconds"] == {"worker_last_row_age_seconds": 42.0}
    assert got["worker_event_loop_lag_seconds"] == {"worker_event_loop_lag_seconds": 0.25}
    assert got["worker_event_loop_lag_max_seconds"] == {"worker_event_loop_lag_max_seconds": 0.25}


async def test_metrics_without_a_source_uses_the_pipeline_arrival() -> None:
    clock = FakeClock()
    pipeline = Counted()
    pipeline.last_row_arrival = clock.now - 5.0
    got = _samples(render(build_registry(pipeline, clock=clock)).decode())
    assert got["worker_last_row_age_seconds"] == {"worker_last_row_age_seconds": 5.0}
    assert "worker_decisions" not in got and "worker_source_reconnects" not in got


received: list[dict[str, Any]] = []


async def _echo(payload: dict[str, Any]) -> dict[str, Any]:
    received.append(payload)
    return {"accepted": True, "action": payload.get("action")}


@pytest.fixture
async def hook(serve: Serve) -> tuple[HealthServer, httpx.AsyncClient]:
    received.clear()
    result: tuple[HealthServer, httpx.AsyncClient] = await serve(
        webhook=Webhook(SECRET, _echo), max_body=1024
    )
    return result


async def test_webhook_checks_the_secret_and_returns_the_handler_answer(
    hook: tuple[HealthServer, httpx.AsyncClient],
) -> None:
    _, client = hook
    with capture_logs() as logs:
        wrong = await client.post("/webhook", json={"secret": "nope", "action": "BUY"})
        missing = await client.post("/webhook", json={"action": "BUY"})
        good = await client.post("/webhook", json={"secret": SECRET, "action": "BUY"})
    assert wrong.status_code == 401 and missing.status_code == 401
    assert wrong.json() == {"error": "unauthorized"}
    assert good.status_code == 200 and good.json() == {"accepted": True, "action": "BUY"}
    assert received == [{"action": "BUY"}]  # the handler never sees the secret
    assert SECRET not in repr(logs) and SECRET not in repr(Webhook(SECRET, _echo))


async def test_webhook_rejects_bad_requests(hook: tuple[HealthServer, httpx.AsyncClient]) -> None:
    _, client = hook
    big = b'{"secret": "' + b"x" * 2000 + b'"}'
    assert (await client.post("/webhook", content=big)).status_code == 413
    assert (await client.post("/webhook", content=b"not json")).status_code == 400
    assert (await client.post("/webhook", json=[1, 2])).status_code == 400
    wrong_method = await client.get("/webhook")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    assert (await client.get("/nowhere")).status_code == 404
    assert (await client.post("/healthz")).status_code == 405
    assert received == []


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    async with asyncio.timeout(5.0):
        head = await reader.readuntil(b"\r\n")
    writer.close()
    return head


async def test_oversize_body_is_refused_without_waiting_for_it(
    hook: tuple[HealthServer, httpx.AsyncClient],
) -> None:
    server, _ = hook
    huge = b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"
    assert await _raw(server.port, huge) == b"HTTP/1.1 413 Request Entity Too Large\r\n"
    chunked = b"POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert await _raw(server.port, chunked) == b"HTTP/1.1 411 Length Required\r\n"
    assert await _raw(server.port, b"garbage\r\n\r\n") == b"HTTP/1.1 400 Bad Request\r\n"


async def test_a_stalled_client_times_out(serve: Serve) -> None:
    server, _ = await serve(read_timeout_s=0.1)
    assert (
        await _raw(server.port, b"GET /healthz HTTP/1.1\r\n") == b"HTTP/1.1 408 Request Timeout\r\n"
    )


async def test_webhook_is_absent_unless_configured(serve: Serve) -> None:
    _, client = await serve()
    assert (await client.post("/webhook", json={"secret": SECRET})).status_code == 404


async def test_a_failing_handler_answers_500(serve: Serve) -> None:
    async def broken(payload: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError(SECRET)

    _, client = await serve(webhook=Webhook(SECRET, broken))
    answer = await client.post("/webhook", json={"secret": SECRET})
    assert answer.status_code == 500 and SECRET not in answer.text


async def test_loop_lag_monitor_sees_a_blocking_call() -> None:
    monitor = LoopLagMonitor(interval_s=0.01, warn_s=0.1)
    monitor.start()
    try:
        await eventually(lambda: monitor.samples >= 2)
        with capture_logs() as logs:
            time.sleep(0.2)  # noqa: ASYNC251 -- blocking the loop on purpose
            await eventually(lambda: monitor.max_s >= 0.15)
        assert [e["event"] for e in logs] == ["event_loop_lag"]
    finally:
        await monitor.stop()
    got = _samples(render(build_registry(monitor=monitor)).decode())
    assert got["worker_event_loop_lag_max_seconds"]["worker_event_loop_lag_max_seconds"] >= 0.15


async def test_stop_closes_idle_connections_and_the_port(serve: Serve) -> None:
    server, _ = await serve()
    port = server.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    async with asyncio.timeout(2.0):
        await server.stop()
        assert await reader.read() == b""  # the idle connection was closed, not left hanging
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_every_refused_webhook_call_is_logged_with_the_client_address(
    hook: tuple[HealthServer, httpx.AsyncClient],
) -> None:
    server, client = hook
    big = b'{"secret": "' + b"x" * 2000 + b'"}'
    with capture_logs() as logs:
        assert (await client.post("/webhook", content=big)).status_code == 413
        assert (await client.post("/webhook", content=b"not json")).status_code == 400
        assert (await client.post("/webhook", json=[1, 2])).status_code == 400
        assert (await client.post("/webhook", json={"secret": "nope"})).status_code == 401
        chunked = b"POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        assert await _raw(server.port, chunked) == b"HTTP/1.1 411 Length Required\r\n"
        bad_length = b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
        assert await _raw(server.port, bad_length) == b"HTTP/1.1 400 Bad Request\r\n"
    rejected = [e for e in logs if e["event"] == "webhook_rejected"]
    assert [(e["status"], e["reason"]) for e in rejected] == [
        (413, "body_too_large"), (400, "not_json"), (400, "not_an_object"),
        (401, "unauthorized"), (411, "no_content_length"), (400, "bad_content_length"),
    ]  # fmt: skip
    for event in rejected:
        host, _, port = event["client"].rpartition(":")
        assert host == "127.0.0.1" and port.isdigit() and int(port) > 0
        assert event["log_level"] == "warning"
    assert "nope" not in repr(logs) and "xxxx" not in repr(logs)  # never the body
