"""Instants as text: epoch seconds UTC <-> ISO 8601, the form every output uses."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(t: float) -> str:
    """Epoch seconds -> '2025-06-16T14:35:00Z' (milliseconds only when not whole)."""
    spec = "seconds" if t == int(t) else "milliseconds"
    return datetime.fromtimestamp(t, UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def parse_iso(text: str) -> float:
    """ISO 8601 with an offset -> epoch seconds. Raises ValueError on naive or bad text."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {text!r}")
    return moment.timestamp()
