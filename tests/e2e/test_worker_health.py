"""/healthz and /metrics of `python -m worker run` over the Supabase fakes.

SESSION_CALENDAR=always, STALE_AFTER_SECONDS=3: /healthz is 200 while rows flow, 503
once no live row came for 3 s (inserts stop; or the Realtime server stalls while rows
keep being written), and 200 again when rows flow again. /metrics parses as Prometheus
text and its row, decision and reconnect counters agree with the run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.livekit import Inserter, insert_now
from tests.e2e.test_live_supabase import _env
from tests.e2e.test_worker_lease import LoggedWorker
from tests.e2e.test_worker_secrets import trend_rows
from tests.fakes.postgrest import FakePostgrest
from tests.fakes.realtime_server import FakeRealtime

STALE_S = 3.0
WARM, LIVE = 2400, 120  # multiples of 30: every phase ends on a 30m bucket's last minute
PACE_S = 0.05  # between inserted rows while they "flow"


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def total(metrics: dict[tuple[str, Any], float], name: str) -> float:
    return sum(v for (n, _), v in metrics.items() if n == name)


def by_label(metrics: dict[tuple[str, Any], float], name: str, label: str) -> dict[str, float]:
    return {dict(k[1])[label]: v for k, v in metrics.items() if k[0] == name}


def stamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


class Prober:
    """Polls /healthz every `every_s`, keeping (monotonic time, status, JSON body)."""

    def __init__(self, port: int, every_s: float = 0.1) -> None:
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.every_s = every_s
        self.seen: list[tuple[float, int, dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                response = await http.get(self.url)
                self.seen.append((time.monotonic(), response.status_code, response.json()))
                await asyncio.sleep(self.every_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def between(self, start: float, end: float) -> list[tuple[float, int, dict[str, Any]]]:
        return [s for s in self.seen if start <= s[0] <= end]

    async def until(self, status: int, timeout: float, what: str = "") -> float:  # noqa: ASYNC109
        """Monotonic time of the first probe answering `status` from now on."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            hits = [s for s in self.between(start, float("inf")) if s[1] == status]
            if hits:
                return hits[0][0]
            await asyncio.sleep(0.02)
        raise AssertionError(
            f"/healthz never answered {status} within {timeout} s {what}; last: {self.seen[-2:]}"
        )


def _states(worker: LoggedWorker, state: str) -> int:
    return sum(1 for e in worker.named("source_state") if e.get("state") == state)


class Run:
    def __init__(
        self, worker: LoggedWorker, live: list[dict[str, Any]], pg_dsn: str, rt: FakeRealtime
    ) -> None:
        self.worker, self.live, self.pg_dsn, self.rt = worker, live, pg_dsn, rt
        self.prober = Prober(worker.health_port)

    async def last_decision(self) -> None:
        last = self.live[-1]["ts"][:16]
        await self.worker.wait_for(
            lambda: any(e["at"][:16] == last for e in self.worker.named("action_plan")),
            30, "the last decision",
        )  # fmt: skip

    def assert_healthy(self, start: float, end: float) -> None:
        probes = self.prober.between(start, end)
        assert probes and all(s[1] == 200 for s in probes), probes
        assert all(s[2]["status"] == "ok" and s[2]["last_row_age_s"] < 1.5 for s in probes)


@pytest.fixture
async def run(
    pg_dsn: str, fake_realtime: FakeRealtime, fake_postgrest: FakePostgrest, tmp_path: Path
) -> AsyncIterator[Run]:
    rows = trend_rows(WARM + LIVE, LIVE)
    insert_now(pg_dsn, rows[:WARM])
    worker = LoggedWorker(
        _env(fake_realtime, fake_postgrest, tmp_path / "out", SESSION_CALENDAR="always",
             STALE_AFTER_SECONDS=str(STALE_S), GRACE_SECONDS="2", HEALTH_PORT="0",
             HEALTH_HOST="127.0.0.1"),
        cwd=tmp_path,
    )  # fmt: skip
    await worker.start()
    context: Run | None = None
    try:
        await worker.wait_for(lambda: _states(worker, "READY") == 1, 60, "subscription")
        context = Run(worker, rows[WARM:], pg_dsn, fake_realtime)
        yield context
    finally:
        if context is not None:
            await context.prober.stop()
        code = await worker.stop()
    assert code == 0, worker.raw_err.decode()[-2000:]


async def test_metrics_parse_and_agree_with_the_run(run: Run) -> None:
    """Rows flow (with one dropped connection in the middle): /healthz stays 200 and the
    scraped counters equal what the worker logged and what the table holds."""
    worker, live = run.worker, run.live
    async with Inserter(run.pg_dsn) as ins:
        await ins.insert(live[:10], pause_s=PACE_S)
        run.prober.start()
        flow_start = time.monotonic()
        await ins.insert(live[10:60], pause_s=PACE_S)
        run.assert_healthy(flow_start + 0.3, time.monotonic())
        await run.rt.drop_all()  # one lost connection: a reconnect and a backfill
        await worker.wait_for(lambda: _states(worker, "READY") == 2, 30, "resubscribe")
        await ins.insert(live[60:], pause_s=PACE_S)
    await run.last_decision()
    async with httpx.AsyncClient(timeout=5) as http:
        before = time.time()
        scraped = await http.get(f"http://127.0.0.1:{worker.health_port}/metrics")
        after = time.time()
    await run.prober.stop()
    assert await worker.stop() == 0
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    metrics = parse_metrics(scraped.text)
    final = worker.named("worker_stopped")[0]

    def logged(name: str, **match: Any) -> tuple[int, int]:
        """Events logged before the scrape began, and those inside the scrape's window."""
        hits = [e for e in worker.named(name) if all(e.get(k) == v for k, v in match.items())]
        return (sum(1 for e in hits if stamp(e) < before),
                sum(1 for e in hits if before <= stamp(e) <= after))  # fmt: skip

    # Rows: each row of the table applied exactly once; what else came (the backfill's
    # overlap after the reconnect) are duplicates; nothing late, rejected or ignored.
    not_applied = by_label(metrics, "worker_rows_not_applied_total", "outcome")
    assert total(metrics, "worker_rows_accepted_total") == WARM + LIVE
    assert not_applied["late"] == 0 and not_applied["conflict"] == 0
    assert not_applied["duplicate"] > 0
    assert total(metrics, "worker_rows_total") == WARM + LIVE + not_applied["duplicate"]
    assert total(metrics, "worker_rows_rejected_total") == 0
    assert final["counts"]["accepted"] == WARM + LIVE
    assert total(metrics, "worker_rows_total") <= final["counts"]["rows"]
    # Decisions: one per 5m close of the live part, as logged (action_plan lines).
    decisions = total(metrics, "worker_decisions_total")
    plans, racing = logged("action_plan")
    assert plans <= decisions <= plans + racing
    assert decisions == LIVE // 5 == sum(final["decisions"].values())
    assert sum(by_label(metrics, "worker_decisions_total", "action").values()) == decisions
    # Reconnects: the one dropped connection, as logged.
    reconnects = total(metrics, "worker_source_reconnects_total")
    reconnecting, racing = logged("source_state", state="reconnecting")
    assert reconnecting <= reconnects <= reconnecting + racing
    assert reconnects == 1 == final["source"]["reconnects"]
    states = by_label(metrics, "worker_source_states_total", "state")
    assert states["READY"] == 2 and "stale" not in states
    assert total(metrics, "worker_source_live") == 1.0
    assert 0 <= total(metrics, "worker_last_row_age_seconds") < STALE_S
    assert total(metrics, "worker_event_loop_lag_max_seconds") < 1.0


async def test_healthz_503_on_silence_then_200_when_rows_flow_again(run: Run) -> None:
    worker, live = run.worker, run.live
    async with Inserter(run.pg_dsn) as ins:
        await ins.insert(live[:10], pause_s=PACE_S)
        run.prober.start()
        flow_start = time.monotonic()
        await ins.insert(live[10:60], pause_s=PACE_S)
        stopped = time.monotonic()
        run.assert_healthy(flow_start + 0.3, stopped)
        # Inserts stop: 503 once the newest row is STALE_S old, not before.
        went_bad = await run.prober.until(503, STALE_S + 5, "after the inserts stopped")
        silent_for = went_bad - stopped
        assert STALE_S - 0.3 <= silent_for <= STALE_S + 2.0, silent_for
        assert all(s[1] == 200 for s in run.prober.between(stopped, stopped + STALE_S - 0.3))
        body = run.prober.between(went_bad, went_bad)[0][2]
        assert body["status"] == "unhealthy" and "old" in body["reason"], body
        await worker.wait_for(lambda: _states(worker, "stale") >= 1, 10, "stale detection")
        await asyncio.sleep(2.0)  # silence goes on a little longer
        storm = _states(worker, "reconnecting")
        # Rows flow again: 200 within a few seconds, and the source stays live.
        resumed = time.monotonic()
        insert = asyncio.create_task(ins.insert(live[60:], pause_s=PACE_S))
        try:
            recovered = await run.prober.until(200, 5, "after rows resumed")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; meanwhile {_states(worker, 'stale')} `stale` verdicts and "
                f"{_states(worker, 'reconnecting')} reconnects ({storm} before rows resumed)"
            ) from None
        finally:
            await insert
    await run.last_decision()
    print(f"503 after {silent_for:.2f} s of silence; 200 again {recovered - resumed:.2f} s "
          f"after rows resumed")  # fmt: skip
    assert recovered - resumed < 3.0
    # One silence, one stale verdict: not a reconnect per backoff while it lasts.
    assert storm <= 2, f"{storm} reconnects during one silence"
    run.assert_healthy(recovered + 0.5, time.monotonic())
    statuses = [e["status"] for e in worker.named("health")]
    assert statuses == ["ok", "unhealthy", "ok"], statuses


async def test_healthz_503_during_a_realtime_stall_then_200(run: Run) -> None:
    """The socket stays open but nothing comes through while rows are being written."""
    worker, live = run.worker, run.live
    async with Inserter(run.pg_dsn) as ins:
        await ins.insert(live[:10], pause_s=PACE_S)
        run.prober.start()
        flow_start = time.monotonic()
        await ins.insert(live[10:60], pause_s=PACE_S)
        run.assert_healthy(flow_start + 0.3, time.monotonic())
        run.rt.stall(True)
        stall_start = time.monotonic()
        insert = asyncio.create_task(ins.insert(live[60:90], pause_s=0.2))  # 6 s of rows
        went_bad = await run.prober.until(503, STALE_S + 5, "during the stall")
        assert not insert.done(), "rows were still being written"
        await insert
        run.rt.stall(False)
        released = time.monotonic()
        ready_before = _states(worker, "READY")
        # A join sent into the stall is never answered: realtime-py times it out (10 s).
        await worker.wait_for(lambda: _states(worker, "READY") > ready_before, 30,
                              "resubscribe after the stall")  # fmt: skip
        resubscribed = time.monotonic()
        insert = asyncio.create_task(ins.insert(live[90:], pause_s=PACE_S))
        try:
            recovered = await run.prober.until(200, 5, "after rows flowed again")
        finally:
            await insert
    await run.last_decision()
    print(f"503 {went_bad - stall_start:.2f} s into the stall; resubscribed "
          f"{resubscribed - released:.2f} s after it ended; 200 again "
          f"{recovered - resubscribed:.2f} s after rows flowed again")  # fmt: skip
    assert recovered - resubscribed < 3.0
    assert STALE_S - 0.3 <= went_bad - stall_start <= STALE_S + 3.0
    assert run.rt.lost > 0  # the stall really swallowed rows
    run.assert_healthy(recovered + 0.5, time.monotonic())
    counts = worker.named("source_state")
    assert any(e["state"] == "stale" for e in counts)


async def test_metrics_on_the_bundled_sample_feed(tmp_path: Path) -> None:
    """`make run`'s default source (the sample feed, which keeps no source counters):
    /healthz and /metrics both answer, and nothing goes to stderr."""
    worker = LoggedWorker(
        {"BROKER": "none", "SAMPLE_SPEED": "60", "SAMPLE_LIVE_ROWS": "300",
         "HEALTH_PORT": "0", "HEALTH_HOST": "127.0.0.1"},
        cwd=tmp_path,
    )  # fmt: skip
    await worker.start()
    try:
        await worker.wait_for(lambda: bool(worker.named("warmup_done")), 30, "warm-up")
        base = f"http://127.0.0.1:{worker.health_port}"
        async with httpx.AsyncClient(timeout=5) as http:
            health = await http.get(f"{base}/healthz")
            try:
                scraped: httpx.Response | str = await http.get(f"{base}/metrics")
            except httpx.HTTPError as exc:
                scraped = f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(0.2)
    finally:
        code = await worker.stop()
    assert code == 0
    assert health.status_code == 200, health.text
    assert isinstance(scraped, httpx.Response), f"/metrics gave no answer: {scraped}"
    assert scraped.status_code == 200, scraped.text
    metrics = parse_metrics(scraped.text)
    assert total(metrics, "worker_rows_total") >= 4000  # the warm-up went through
    assert worker.raw_err == b"", worker.raw_err.decode()[-1500:]
