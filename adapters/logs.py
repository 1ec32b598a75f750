"""Structured logging: one JSON object per line on stdout, secrets masked everywhere; on a
terminal, one short line per event for people (adapters/console.py)."""

from __future__ import annotations

import logging
import re
import sys
from collections import Counter
from collections.abc import Iterable, MutableMapping, Sequence
from typing import Any, TextIO

import structlog

from adapters.console import ConsoleLine

_SECRET_KEYS = re.compile(r"(key|token|secret|password|authorization|apikey)", re.I)
_SECRET_PATTERNS = (
    re.compile(r"(access_token=)[^&\s\"']+", re.I),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I),
    re.compile(r"((?:api[_-]?key|token|secret|password)[\"']?\s*[:=]\s*[\"']?)[^\"'\s,&}]+", re.I),
)
MASK = "***"


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values and secret-looking patterns inside free text."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class SecretMasker:
    """structlog processor: masks secret-named fields and secret values in any field."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = tuple(s for s in secrets if s)

    def __call__(
        self, _logger: object, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            if key != "event" and _SECRET_KEYS.search(key) and value not in (None, ""):
                event[key] = MASK
            elif isinstance(value, str):
                event[key] = mask_text(value, self._secrets)
        return event


class EventCounter:
    """structlog processor: counts events by name (e.g. order_placed) for /metrics."""

    def __init__(self, counts: Counter[str], prefixes: tuple[str, ...] = ("order_",)) -> None:
        self.counts = counts
        self.prefixes = prefixes

    def __call__(
        self, _logger: object, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        name = event.get("event")
        if isinstance(name, str) and name.startswith(self.prefixes):
            self.counts[name] += 1
        return event


def configure_logging(
    level: str = "INFO",
    fmt: str = "auto",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    event_counts: Counter[str] | None = None,
    taps: Sequence[structlog.types.Processor] = (),
) -> None:
    """Configure structlog once. `fmt`: json | console | auto (console on a terminal).
    JSON keeps every field at full precision; the console line is for reading (colored
    on a terminal). `event_counts`, when given, counts `order_*` events as they are logged.
    `taps` see every event after secrets are masked (the notifications, adapters/notify/)."""
    out = stream or sys.stdout
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Any = (
        ConsoleLine(colors=out.isatty()) if use_console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *([EventCounter(event_counts)] if event_counts is not None else []),
            SecretMasker(secrets),
            *taps,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
