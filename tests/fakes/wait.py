"""Wait for a condition instead of sleeping a guessed time."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

Condition = Callable[[], bool | Awaitable[bool]]


async def eventually(
    condition: Condition,
    timeout: float = 5.0,  # noqa: ASYNC109 -- a polling deadline, not a cancellation scope
    interval: float = 0.01,
    message: str = "",
) -> None:
    """Poll `condition` (a plain or async callable) until it is truthy; raise
    AssertionError after `timeout` seconds. The loop keeps running meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout} s: {condition}")
        await asyncio.sleep(interval)


async def never(condition: Condition, within: float = 0.3, interval: float = 0.01) -> None:
    """Assert that `condition` stays falsy for `within` seconds (for "nothing arrives")."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        assert not result, f"condition became true: {condition}"
        await asyncio.sleep(interval)
