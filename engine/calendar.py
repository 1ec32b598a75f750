"""CME Globex equity-index session calendar (MES, ES): when silence is normal.

Sunday-Friday 17:00-16:00 America/Chicago, daily halt 16:00-17:00, closed from Friday
16:00 to Sunday 17:00. Exchange holidays are not modelled: on a holiday the staleness
watchdog treats silence as a fault and reconnects (harmless, logged).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

_CHICAGO = ZoneInfo("America/Chicago")
_OPEN_HOUR = 17  # session opens at 17:00 CT (the trading day's start)
_HALT_HOUR = 16  # halt 16:00-17:00 CT
_SUNDAY, _FRIDAY, _SATURDAY = 6, 4, 5


def in_session(t: float, tz: ZoneInfo = _CHICAGO) -> bool:
    """True when bars are expected at epoch second `t` (UTC)."""
    local = datetime.fromtimestamp(t, UTC).astimezone(tz)
    weekday, hour = local.weekday(), local.hour
    if hour == _HALT_HOUR:
        return False
    if weekday == _SATURDAY:
        return False
    if weekday == _SUNDAY:
        return hour >= _OPEN_HOUR
    if weekday == _FRIDAY:
        return hour < _HALT_HOUR
    return True


def trading_day_start(t: float, tz: ZoneInfo = _CHICAGO) -> float:
    """Epoch seconds of the 17:00 CT that began the trading day containing `t`."""
    local = datetime.fromtimestamp(t, UTC).astimezone(tz)
    day = local.date() if local.hour >= _OPEN_HOUR else local.date() - timedelta(days=1)
    return datetime.combine(day, time(_OPEN_HOUR), tz).timestamp()


def always_open(t: float) -> bool:
    """A market that never closes (SESSION_CALENDAR=always): all silence is a fault."""
    return True


CALENDARS = {"cme": in_session, "always": always_open}
