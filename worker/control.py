"""The trader's pause switch: POST /control {"action": "pause" | "resume" | "status"}
(with the webhook secret, worker/health.py), durable in STATE_DIR/control.sqlite3.

While paused every decision is still made and logged; BUY/SELL become HOLD `paused`
(the switch reaches `decide` as `PositionContext.paused`, adapters/pause.py). Each
change is logged (`pause_changed`) and so notified; a start while paused says so too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters import events
from adapters.pause import PauseState, PauseStore
from engine.timefmt import iso
from worker.health import BadRequest

ACTIONS = ("pause", "resume", "status")


class Control:
    """Loaded as the first start-up phase (`load`); not paused before that (no decision
    is made before start-up ends)."""

    def __init__(self, path: Path, *, pause_on_start: bool = False) -> None:
        self.path = path
        self.pause_on_start = pause_on_start
        self.store: PauseStore | None = None

    @property
    def paused(self) -> bool:
        return self.store is not None and self.store.state.paused

    async def load(self) -> None:
        if self.store is None:
            self.store = PauseStore(self.path)
        state = self.store.state
        if self.pause_on_start and self.store.set(True, "PAUSE_ON_START"):
            self._logged(self.store.state)
        elif state.paused:  # a restart while paused stays paused: say so
            self._logged(state)

    async def handle(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The answer to POST /control (BadRequest for an unknown action)."""
        action = payload.get("action")
        if action not in ACTIONS:
            raise BadRequest("unknown_action")
        if self.store is None:
            raise BadRequest("starting")
        changed = False
        if action != "status":
            changed = self.store.set(action == "pause", "control")
            if changed:
                self._logged(self.store.state)
        return {"action": action, "changed": changed, **self.status()}

    def status(self) -> dict[str, Any]:
        """The switch as /healthz and /control show it."""
        state = self.store.state if self.store is not None else PauseState(False)
        shown: dict[str, Any] = {"paused": state.paused}
        if state.since is not None:
            shown |= {"paused_by" if state.paused else "resumed_by": state.by}
            shown |= {"paused_since" if state.paused else "resumed_at": iso(state.since)}
        return shown

    @staticmethod
    def _logged(state: PauseState) -> None:
        events.pause_changed(paused=state.paused, by=state.by or "", since=state.since)
