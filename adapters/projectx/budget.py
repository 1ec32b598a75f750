"""Local request budgets mirroring the gateway's limits (sliding windows)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class BudgetExceeded(RuntimeError):
    """No budget left now; the request was not sent."""


class RateBudget:
    """At most `limit` requests per `window_s` seconds (sliding window)."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._sent: deque[float] = deque()

    def _prune(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= self.window_s:
            self._sent.popleft()

    def try_acquire(self) -> bool:
        """Take one slot now or report that none is free (orders never wait)."""
        now = self._clock()
        self._prune(now)
        if len(self._sent) >= self.limit:
            return False
        self._sent.append(now)
        return True

    async def acquire(self) -> None:
        """Wait for a slot (reads may queue)."""
        while not self.try_acquire():  # noqa: ASYNC110 -- a timer until the window frees
            await asyncio.sleep(max(0.01, self.window_s - (self._clock() - self._sent[0])))
