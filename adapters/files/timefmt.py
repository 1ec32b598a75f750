"""ISO 8601 UTC rendering of engine instants (epoch seconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

# Final: compiled, a module constant is a C static, not a dict lookup per use.
_DAYS: Final[dict[int, str]] = {}
_RECENT: Final[dict[float, str]] = {}
_RECENT_MAX: Final = 4096  # instants; cleared when full (a replay renders each close ~7 times)


def _day(day: int) -> str:
    text = _DAYS.get(day)
    if text is None:
        text = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)).strftime("%Y-%m-%dT")
        if len(_DAYS) >= _RECENT_MAX:
            _DAYS.clear()
        _DAYS[day] = text
    return text


# "HH:MM:" for each minute of a day and "SSZ" for each second: a whole-second instant is
# three lookups and two concatenations.
_HH_MM: Final = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440))
_SS_Z: Final = tuple(f"{s:02d}Z" for s in range(60))


def iso(t: float) -> str:
    """Epoch seconds -> '2025-06-16T14:35:00Z' (milliseconds only when not whole)."""
    text = _RECENT.get(t)
    if text is None:
        text = _render(t)
        if len(_RECENT) >= _RECENT_MAX:
            _RECENT.clear()
        _RECENT[t] = text
    return text


def iso_minute(t: int) -> str:
    """`iso` of a whole-minute instant (bar times, decision instants), from a small cache
    indexed by the minute: no float or dict per call — a replay renders ~1 per row."""
    minute = t // 60
    if minute * 60 != t:
        return iso(t)
    slot = minute & _SLOT_MASK
    if _SLOT_MINUTES[slot] == minute:
        return _SLOT_TEXTS[slot]
    day, of_day = divmod(minute, 1440)
    text = _day(day) + _HH_MM_00[of_day]
    _SLOT_MINUTES[slot] = minute
    _SLOT_TEXTS[slot] = text
    return text


_SLOT_MASK: Final = 1023  # 1,024 slots: 17 hours of minutes
# Slot i starts with minute i + 1, which never sits in slot i: every slot starts empty.
_SLOT_MINUTES: Final[list[int]] = [i + 1 for i in range(_SLOT_MASK + 1)]
_SLOT_TEXTS: Final[list[str]] = [""] * (_SLOT_MASK + 1)
_HH_MM_00: Final = tuple(f"{m // 60:02d}:{m % 60:02d}:00Z" for m in range(1440))


def _render(t: float) -> str:
    whole = int(t)
    if t == whole:
        day, rest = divmod(whole, 86_400)
        return _day(day) + _HH_MM[rest // 60] + _SS_Z[rest % 60]
    moment = datetime.fromtimestamp(t, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> float:
    """ISO 8601 with an offset -> epoch seconds. Raises ValueError on naive or bad text."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {text!r}")
    return moment.timestamp()
