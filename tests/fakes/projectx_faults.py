"""Fault injection for FakeProjectX: 429s, arbitrary statuses, delays and the ambiguous
outcomes of Order/place. Each fault is armed for n requests (n=None: until clear_faults())
and spent atomically under the gateway's lock, so tests may arm from any thread or loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tests.fakes.projectx_http import Hang, Outcome, Reply, Reset
from tests.fakes.projectx_routes import json_reply

PlaceFault = Literal[
    "500_before", "500_after", "hang_after", "reset_after", "success_false", "body_before",
    "body_after",
]  # fmt: skip
PLACE = "/api/Order/place"


def api_path(path: str) -> str:
    """Route names may drop the prefix: "Order/place" is "/api/Order/place"."""
    return path if path.startswith("/") else f"/api/{path}"


@dataclass(slots=True)
class _Armed:
    path: str | None  # None: any path
    left: int | None  # None: until clear_faults()
    value: Any
    account_id: int | None = None  # None: any request; else only bodies with this accountId


class FaultInjection:
    """The fault half of FakeProjectX (a base class, so the methods sit on the fake)."""

    hang_seconds: float

    def __init__(self) -> None:
        self._lock = threading.RLock()
        # Added to EVERY request, as a network's round trip would be: half before the fake
        # sees (and records) the request, half before its answer leaves. 0 = loopback only.
        self.latency_s = 0.0
        self._delays: list[_Armed] = []
        self._rate_limits: list[_Armed] = []
        self._statuses: list[_Armed] = []
        self._place_faults: list[_Armed] = []

    def rate_limit_next(
        self, n: int | None = 1, retry_after: int = 1, path: str | None = None
    ) -> None:
        """Answer the next n requests (to `path`, or to any route) with 429 and
        `Retry-After: <retry_after>` (seconds), before authentication."""
        self._arm(self._rate_limits, path, n, retry_after)

    def fail_next(self, path: str, status: int = 500, n: int | None = 1, body: bytes = b"") -> None:
        """Answer the next n requests to `path` with `status` and `body`, touching nothing."""
        self._arm(self._statuses, path, n, (status, body))

    def delay(
        self, path: str, seconds: float, n: int | None = 1, account_id: int | None = None
    ) -> None:
        """Hold the next n requests to `path` (whose body names `account_id`, when given)
        for `seconds` before handling them. A client that gives up meanwhile does not stop
        the handling: the request did arrive."""
        self._arm(self._delays, path, n, seconds, account_id)

    def set_latency(self, round_trip_s: float) -> None:
        """Every request from now on takes `round_trip_s` longer: half on its way in (it is
        recorded when it arrives), half on the answer's way back."""
        with self._lock:
            self.latency_s = round_trip_s

    def fail_next_place(
        self, mode: PlaceFault, n: int | None = 1, *, error_code: int = 2,
        error_message: str = "Order rejected: insufficient margin", body: bytes = b"",
    ) -> None:  # fmt: skip
        """The next n authenticated Order/place calls: "500_before" (500, nothing booked),
        "500_after" (booked, then 500), "hang_after" (booked, then no answer until the
        client leaves or `hang_seconds` pass), "reset_after" (booked, then a TCP RST),
        "success_false" (200, success:false with error_code/error_message, nothing booked),
        "body_before" / "body_after" (200 with `body` as given, e.g. not JSON, JSON that is
        not an object or an object without the envelope; nothing booked / booked)."""
        self._arm(self._place_faults, PLACE, n, (mode, error_code, error_message, body))

    def clear_faults(self) -> None:
        with self._lock:
            for armed in (self._delays, self._rate_limits, self._statuses, self._place_faults):
                armed.clear()

    def _arm(
        self,
        armed: list[_Armed],
        path: str | None,
        n: int | None,
        value: Any,
        account_id: int | None = None,
    ) -> None:
        with self._lock:
            armed.append(_Armed(api_path(path) if path else None, n, value, account_id))

    def _take(self, armed: list[_Armed], path: str, body: Any = None) -> Any:
        """The value of the first fault armed for `path` (and the body's accountId, for a
        fault armed for one account), spending one of its shots."""
        account = body.get("accountId") if isinstance(body, dict) else None
        for fault in armed:
            if fault.path in (None, path) and fault.account_id in (None, account):
                if fault.left is not None:
                    fault.left -= 1
                    if fault.left <= 0:
                        armed.remove(fault)
                return fault.value
        return None

    def place_outcome(self, answer: Callable[[], Reply]) -> Outcome:
        """Order/place through the armed place fault, if any; `answer` books the order."""
        fault = self._take(self._place_faults, PLACE)
        if fault is None:
            return answer()
        mode, code, message, body = fault
        if mode == "500_before":
            return Reply(500)
        if mode == "success_false":
            return json_reply({"orderId": None}, code, message)
        if mode == "body_before":
            return Reply(200, body, {"Content-Type": "application/json"})
        answer()  # book the order, then lose the answer
        if mode == "500_after":
            return Reply(500)
        if mode == "body_after":
            return Reply(200, body, {"Content-Type": "application/json"})
        if mode == "hang_after":
            return Hang(self.hang_seconds)
        return Reset()
