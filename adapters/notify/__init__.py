"""Notifications to the apps traders use (Telegram, Discord, ntfy, ... through Apprise):
`Notifier` bundles what turns logged events into notes (messages.py) and what sends
them off the worker's path (sender.py); its `tap` is a structlog processor that sees
every event after secrets are masked (adapters/logs.py)."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from typing import Any

from adapters import events
from adapters.logs import mask_text
from adapters.notify.messages import Notes
from adapters.notify.sender import AppriseSender, Note, SendPolicy

__all__ = ["AppriseSender", "Note", "Notes", "Notifier", "SendPolicy"]


class Notifier:
    """Events in (`tap`), notes out (`sender`); `counts` for /metrics."""

    def __init__(self, notes: Notes, sender: AppriseSender, secrets: Iterable[str] = ()) -> None:
        self.notes = notes
        self.sender = sender
        self._secrets = tuple(secrets)
        self._dropping = False

    @classmethod
    def build(
        cls, urls: Sequence[str], notes: Notes, policy: SendPolicy, secrets: Iterable[str] = ()
    ) -> Notifier:
        """`secrets`: masked in every note (the settings' secrets, NOTIFY_URLS among them)."""
        return cls(notes, AppriseSender(urls, policy), (*secrets, *urls))

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.sender.counts)

    def start(self) -> None:
        self.sender.start()

    def close(self, timeout_s: float) -> None:
        self.sender.close(timeout_s)

    def tap(
        self, _logger: object, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """structlog processor: the event's note, if any, queued. Never raises, never
        waits: a notification's trouble changes nothing of the log line or the worker."""
        try:
            note = self.notes(event)
            if note is not None:
                self._submit(note)
        except Exception:  # noqa: BLE001 -- a note's bug must not break logging
            self.sender.counts["errors"] += 1
        return event

    def _submit(self, note: Note) -> None:
        masked = Note(
            note.event, mask_text(note.title, self._secrets), mask_text(note.body, self._secrets)
        )
        if self.sender.submit(masked):
            self._dropping = False
        elif not self._dropping:  # once per run of drops: the count says how many
            self._dropping = True
            events.notify_dropped(notification=note.event, dropped=self.sender.counts["dropped"])
