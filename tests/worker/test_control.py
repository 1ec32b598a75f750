"""The pause switch: durable in SQLite (a new store on the same file is still paused),
PAUSE_ON_START, contexts that carry it to `decide`, and POST /control on the health
server: pause / status / resume with the webhook secret, 401 for a wrong one, 400 for
an unknown action; each change logged once."""

from __future__ import annotations

from pathlib import Path

import httpx
from structlog.testing import capture_logs

from adapters.pause import PausableContexts, PauseStore
from engine.model import PositionContext
from worker.control import Control
from worker.health import HealthServer, Webhook

SECRET = "control-s3cret"


class Contexts:
    def __init__(self, context: PositionContext | None) -> None:
        self.value = context

    async def context(self, account: str, symbol: str) -> PositionContext | None:
        return self.value


def test_the_store_keeps_the_switch_across_restarts(tmp_path: Path) -> None:
    store = PauseStore(tmp_path / "control.sqlite3", clock=lambda: 1000.0)
    assert not store.state.paused
    assert store.set(True, "control") and not store.set(True, "control")
    store.close()
    again = PauseStore(tmp_path / "control.sqlite3")
    assert (again.state.paused, again.state.by, again.state.since) == (True, "control", 1000.0)
    assert again.set(False, "control")
    again.close()
    assert not PauseStore(tmp_path / "control.sqlite3").state.paused


async def test_contexts_carry_the_switch() -> None:
    paused = False
    contexts = PausableContexts(Contexts(PositionContext("main")), lambda: paused)
    assert await contexts.context("main", "MES") == PositionContext("main")
    paused = True
    assert await contexts.context("main", "MES") == PositionContext("main", paused=True)
    assert await PausableContexts(Contexts(None), lambda: True).context("main", "MES") is None


async def test_pause_on_start_and_a_restart_while_paused_are_logged(tmp_path: Path) -> None:
    with capture_logs() as logs:
        first = Control(tmp_path / "c.sqlite3", pause_on_start=True)
        await first.load()
        assert first.paused
        second = Control(tmp_path / "c.sqlite3")
        await second.load()
        assert second.paused  # durable: still paused without PAUSE_ON_START
    changes = [(e["paused"], e["by"]) for e in logs if e["event"] == "pause_changed"]
    assert changes == [(True, "PAUSE_ON_START"), (True, "PAUSE_ON_START")]


async def test_post_control_pauses_reports_and_resumes(tmp_path: Path) -> None:
    control = Control(tmp_path / "c.sqlite3")
    await control.load()

    async def trigger(payload: dict[str, object]) -> dict[str, object]:
        raise AssertionError("the webhook is not /control")

    server = HealthServer(
        "127.0.0.1", 0, lambda: (True, control.status()), bytes,
        webhook=Webhook(SECRET, trigger, control=control.handle),
    )  # fmt: skip
    await server.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", trust_env=False, timeout=5.0
        ) as client:
            with capture_logs() as logs:
                wrong = await client.post("/control", json={"secret": "nope", "action": "pause"})
                pause = await client.post("/control", json={"secret": SECRET, "action": "pause"})
                again = await client.post("/control", json={"secret": SECRET, "action": "pause"})
                health = await client.get("/healthz")
                status = await client.post("/control", json={"secret": SECRET, "action": "status"})
                bad = await client.post("/control", json={"secret": SECRET, "action": "halt"})
                resume = await client.post("/control", json={"secret": SECRET, "action": "resume"})
                big = await client.post("/control", content=b'{"secret": "' + b"x" * 20_000 + b'"}')
    finally:
        await server.stop()
    assert wrong.status_code == 401
    assert pause.json()["paused"] is True and pause.json()["changed"] is True
    assert pause.json()["paused_by"] == "control" and "paused_since" in pause.json()
    assert again.json()["changed"] is False
    assert health.json()["paused"] is True
    assert status.json()["paused"] is True and status.json()["changed"] is False
    assert bad.status_code == 400
    assert resume.json() == {**resume.json(), "paused": False, "changed": True}
    assert big.status_code == 413
    assert not control.paused
    changes = [e["paused"] for e in logs if e["event"] == "pause_changed"]
    assert changes == [True, False]  # each change once, never a repeat
    rejected = [(e["status"], e["reason"], e["path"]) for e in logs
                if e["event"] == "webhook_rejected"]  # fmt: skip
    assert rejected == [(401, "unauthorized", "/control"), (400, "unknown_action", "/control"),
                        (413, "body_too_large", "/control")]  # fmt: skip
    assert SECRET not in repr(logs) and "nope" not in repr(logs)


async def test_no_control_route_without_the_secret() -> None:
    server = HealthServer("127.0.0.1", 0, lambda: (True, {}), bytes)
    await server.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", trust_env=False
        ) as client:
            assert (await client.post("/control", json={"action": "pause"})).status_code == 404
    finally:
        await server.stop()
