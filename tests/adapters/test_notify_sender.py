"""The sender against the real Apprise library and a loopback receiver: notes arrive;
a receiver that answers 500, hangs or refuses is retried with backoff, then counted as
failed (`notify_failed`, no URL in it); a full queue drops (counted) without waiting."""

from __future__ import annotations

import time

from structlog.testing import capture_logs

from adapters.notify.sender import AppriseSender, Note, SendPolicy, url_secrets
from tests.fakes.notify_receiver import NotifyReceiver
from tests.fakes.ports import ReservedPort
from tests.fakes.wait import eventually

QUICK = SendPolicy(timeout_s=0.5, retries=2, backoff_initial_s=0.01, backoff_cap_s=0.02)
NOTE = Note("order_placed", "Order placed: buy 1 MES on main", "tag: RT-1")


async def test_a_note_arrives_with_its_title_and_body() -> None:
    with NotifyReceiver() as receiver:
        sender = AppriseSender([receiver.url("hook-abc123")], QUICK)
        sender.start()
        assert sender.submit(NOTE)
        await eventually(lambda: sender.counts["sent"] == 1)
        sender.close(1.0)
    assert [(n["title"], n["message"]) for n in receiver.notes] == [(NOTE.title, NOTE.body)]
    assert receiver.paths == ["/hook-abc123"]


async def test_each_target_gets_the_note_and_only_a_failing_one_is_retried() -> None:
    with NotifyReceiver() as good, NotifyReceiver("error") as bad:
        sender = AppriseSender([good.url(), bad.url("s3cret-path-token")], QUICK)
        sender.start()
        with capture_logs() as logs:
            sender.submit(NOTE)
            await eventually(lambda: sender.counts["failed"] == 1)
        sender.close(1.0)
    assert len(good.notes) == 1  # delivered once, never re-sent for the other's failure
    assert len(bad.notes) == 3  # the first attempt and two retries
    assert dict(sender.counts) == {"sent": 1, "retried": 2, "failed": 1}
    failed = [e for e in logs if e["event"] == "notify_failed"]
    assert [(e["attempt"], e["final"]) for e in failed] == [(1, False), (2, False), (3, True)]
    assert all(e["target"] == "2 (JSON)" and "500" in e["error"] for e in failed)
    assert "s3cret-path-token" not in repr(logs)


async def test_a_hanging_receiver_costs_the_timeout_per_attempt_not_more() -> None:
    with NotifyReceiver("hang") as receiver:
        policy = SendPolicy(timeout_s=0.3, retries=1, backoff_initial_s=0.01, backoff_cap_s=0.01)
        sender = AppriseSender([receiver.url()], policy)
        sender.start()
        with capture_logs() as logs:
            sender.submit(NOTE)
            await eventually(lambda: sender.counts["failed"] == 1, timeout=5)
        sender.close(1.0)
    assert len(receiver.notes) == 2
    assert [e["final"] for e in logs if e["event"] == "notify_failed"] == [False, True]


async def test_a_refused_connection_is_a_failed_send() -> None:
    with ReservedPort() as port:
        sender = AppriseSender([f"json://127.0.0.1:{port.port}/x"], QUICK)
        sender.start()
        with capture_logs():
            sender.submit(NOTE)
            await eventually(lambda: sender.counts["failed"] == 1)
        sender.close(1.0)
    assert sender.counts["retried"] == 2


def test_a_full_queue_drops_at_once_and_counts() -> None:
    with NotifyReceiver("hang") as receiver:
        policy = SendPolicy(timeout_s=2.0, retries=0, queue_size=2)
        sender = AppriseSender([receiver.url()], policy)
        sender.start()
        with capture_logs():
            started = time.monotonic()
            accepted = [sender.submit(NOTE) for _ in range(10)]
            took = time.monotonic() - started
            sender.close(0.1)
    assert took < 0.5  # submit never waits on the service
    assert accepted.count(False) == sender.counts["dropped"] >= 7
    assert sender.counts["abandoned"] >= 1  # left queued at close


def test_url_secrets_cover_the_tokens_of_a_url() -> None:
    parts = url_secrets(["tgram://123456789:AAH-bot-token/987654321/?format=text"])
    assert "123456789:AAH-bot-token" in parts and "987654321" in parts
