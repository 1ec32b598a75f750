"""The one reconnect / retry delay of the project: doubling, capped, jittered."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, initial_s: float, cap_s: float) -> float:
    """Seconds before retry `attempt` (1, 2, ...): `initial_s` doubled per attempt, capped
    at `cap_s`, then jittered down to 50-100 % so that many clients do not retry in step."""
    delay = min(cap_s, initial_s * 2.0 ** min(attempt - 1, 30))
    return delay * random.uniform(0.5, 1.0)  # noqa: S311 -- jitter, not cryptography
