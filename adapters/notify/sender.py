"""Delivery of notifications through Apprise, off the worker's path.

`submit` only puts a note on a bounded queue and returns at once (False, counted as a
drop, when the queue is full); one thread of its own sends the notes in order, each to
every target separately, with a timeout per attempt (Apprise's socket connect and read
timeouts) and retries with backoff. A thread, not an asyncio task: notes are submitted
from wherever an event is logged — the event loop, a SignalR client's thread, and after
the loop has ended (`worker_stopped`, `worker_crashed`) — and a blocking send that hangs
holds up nothing but this thread. Apprise's own log records never reach the output:
they are kept only to say why a send failed, masked (`notify_failed`).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import apprise

from adapters import events
from adapters.backoff import backoff_delay
from adapters.logs import mask_text


@dataclass(frozen=True, slots=True)
class Note:
    """One notification: the event it tells of, a title and a short body (plain text)."""

    event: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """Seconds and counts of the delivery (settings NOTIFY_*)."""

    timeout_s: float = 5.0  # per attempt: Apprise's connect and read timeouts
    retries: int = 2  # attempts after the first, for a failed send
    backoff_initial_s: float = 1.0
    backoff_cap_s: float = 30.0
    queue_size: int = 100  # notes waiting; more are dropped (counted)


def targets(urls: Iterable[str], timeout_s: float) -> list[apprise.plugins.NotifyBase]:
    """One Apprise service per URL, with the send timeouts; ValueError names the bad
    item by its position, never its text (a URL holds a token)."""
    out = []
    for index, url in enumerate(urls, start=1):
        service = apprise.Apprise.instantiate(url)
        if service is None:
            raise ValueError(
                f"item {index} is not an Apprise URL (https://github.com/caronc/apprise/wiki)"
            )
        service.socket_connect_timeout = timeout_s
        service.socket_read_timeout = timeout_s
        out.append(service)
    return out


def url_secrets(urls: Iterable[str]) -> list[str]:
    """The parts of each URL that may be a token or password (masked wherever they
    would appear): the whole URL, its user info, host part and path segments."""
    parts: list[str] = []
    for url in urls:
        split = urlsplit(url)
        parts += [url, split.netloc, split.username or "", split.password or ""]
        parts += [unquote(s) for s in split.path.split("/")]
        parts += [unquote(v) for _, _, v in (p.partition("=") for p in split.query.split("&"))]
    return [p for p in parts if len(p) >= 4]


class _LastRecord(logging.Handler):
    """Keeps the last warning Apprise logged (why a send failed)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.last = record.getMessage()


class AppriseSender:
    """The notes' queue and the thread that sends them (see the module doc)."""

    def __init__(self, urls: Sequence[str], policy: SendPolicy | None = None) -> None:
        self.policy = policy or SendPolicy()
        self._targets = targets(urls, self.policy.timeout_s)
        self._secrets = url_secrets(urls)
        self._queue: queue.Queue[Note | None] = queue.Queue(self.policy.queue_size)
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        # sent / failed (a note not delivered to a target after all its attempts) /
        # retried (one more attempt) / dropped (queue full) / abandoned (left at close)
        self.counts: Counter[str] = Counter()
        self._apprise_log = _LastRecord()
        library = logging.getLogger("apprise")
        library.addHandler(self._apprise_log)  # removed at close
        library.propagate = False  # its records name hosts and paths: never printed
        library.setLevel(logging.WARNING)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
            self._thread.start()

    def submit(self, note: Note) -> bool:
        """Queue `note` without waiting; False (a counted drop) when the queue is full."""
        try:
            self._queue.put_nowait(note)
        except queue.Full:
            self.counts["dropped"] += 1
            return False
        return True

    def close(self, timeout_s: float) -> None:
        """Send what is queued within `timeout_s` (one attempt each), then stop; what is
        left is abandoned (counted)."""
        self._closing.set()
        if self._thread is None:
            self.counts["abandoned"] += self._queue.qsize()
            return
        deadline = time.monotonic() + timeout_s
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout_s)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self.counts["abandoned"] += self._queue.qsize()
        else:
            logging.getLogger("apprise").removeHandler(self._apprise_log)

    def _run(self) -> None:
        while True:
            note = self._queue.get()
            if note is None:
                return
            for index, target in enumerate(self._targets, start=1):
                self._deliver(note, index, target)

    def _deliver(self, note: Note, index: int, target: apprise.plugins.NotifyBase) -> None:
        attempts = 1 + self.policy.retries
        for attempt in range(1, attempts + 1):
            self._apprise_log.last = ""
            try:
                ok = bool(target.notify(body=note.body, title=note.title))
                error = self._apprise_log.last or "the service refused or did not answer"
            except Exception as exc:  # noqa: BLE001 -- a plugin's bug is a failed send
                ok, error = False, f"{type(exc).__name__}: {exc}"
            if ok:
                self.counts["sent"] += 1
                return
            last = attempt == attempts or self._closing.is_set()
            events.notify_failed(
                notification=note.event,
                target=f"{index} ({target.service_name})",
                attempt=attempt,
                error=mask_text(error, self._secrets)[:200],
                final=last,
            )
            if last:
                self.counts["failed"] += 1
                return
            self.counts["retried"] += 1
            delay = backoff_delay(attempt, self.policy.backoff_initial_s, self.policy.backoff_cap_s)
            if self._closing.wait(delay):
                self.counts["failed"] += 1
                return
