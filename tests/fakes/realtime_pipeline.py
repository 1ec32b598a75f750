"""The path of a committed row between PostgreSQL and FakeRealtime's sockets, where
delivery faults are injected: stall, drop, delay, duplicate, reorder."""

from __future__ import annotations

import asyncio

from tests.fakes.realtime_protocol import Change


class ChangePipeline:
    def __init__(self) -> None:
        self.changes: list[Change] = []  # every change PostgreSQL reported
        self.lost = 0  # changes never delivered: stalled, or dropped on purpose
        self.stalled = False
        self.drop = 0  # how many of the next changes to lose silently
        self.delay_s = 0.0
        self.duplicate = 0  # how many of the next changes go out twice
        self.reorder = 0  # how many of the next changes to hold and reverse
        self._held: list[Change] = []
        self._queue: asyncio.Queue[tuple[float, Change]] = asyncio.Queue()

    def push(self, change: Change) -> None:
        """Take a change as it commits (called from the LISTEN task)."""
        self.changes.append(change)
        if self.stalled:
            self.lost += 1
            return
        if self.drop > 0:
            self.drop -= 1
            self.lost += 1
            return
        batch = [change]
        if self.reorder > 0:
            self._held.append(change)
            self.reorder -= 1
            if self.reorder:
                return
            batch, self._held = self._held[::-1], []
        due = asyncio.get_running_loop().time() + self.delay_s
        for item in batch:
            copies = 1
            if self.duplicate > 0:
                self.duplicate -= 1
                copies = 2
            for _ in range(copies):
                self._queue.put_nowait((due, item))

    async def next(self) -> Change:
        """The next change to deliver, once its delay has passed; a change that falls
        due while the server is stalled is lost."""
        loop = asyncio.get_running_loop()
        while True:
            due, change = await self._queue.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not self.stalled:
                return change
            self.lost += 1
