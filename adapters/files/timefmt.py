"""ISO 8601 UTC rendering of engine instants (epoch seconds)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


@lru_cache(maxsize=8192)
def iso(t: float) -> str:
    """Epoch seconds -> '2025-06-16T14:35:00Z' (milliseconds only when not whole)."""
    moment = datetime.fromtimestamp(t, UTC)
    if moment.microsecond:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """ISO 8601 with an offset -> epoch seconds. Raises ValueError on naive or bad text."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {text!r}")
    return moment.timestamp()
