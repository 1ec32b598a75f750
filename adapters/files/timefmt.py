"""ISO 8601 UTC rendering of engine instants (epoch seconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache


@lru_cache(maxsize=4096)
def _day(day: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)).strftime("%Y-%m-%dT")


def iso(t: float) -> str:
    """Epoch seconds -> '2025-06-16T14:35:00Z' (milliseconds only when not whole).

    Whole seconds are formatted arithmetically (a replay renders ~10 per row)."""
    if t == int(t):
        day, rest = divmod(int(t), 86_400)
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{_day(day)}{hours:02d}:{minutes:02d}:{seconds:02d}Z"
    moment = datetime.fromtimestamp(t, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> float:
    """ISO 8601 with an offset -> epoch seconds. Raises ValueError on naive or bad text."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {text!r}")
    return moment.timestamp()
