"""Pure parts of the user-hub listener: the frame tap, the subscriptions, the token in the
URL, the reconnect backoff."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.backoff import backoff_delay
from adapters.projectx.hub.frames import tap
from adapters.projectx.hub.listener import subscriptions, with_token


class Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def message(self, target: str, arguments: list[Any]) -> None:
        self.calls.append(("message", (target, arguments)))

    def alive(self) -> None:
        self.calls.append(("alive", None))

    def bad_frame(self, reason: str, detail: str) -> None:
        self.calls.append(("bad", reason))

    def closed(self, reason: str) -> None:
        self.calls.append(("closed", reason))


def test_tap_sends_pushes_to_the_sink_and_hands_completions_and_closes_to_the_library() -> None:
    sink = Sink()
    frame = (
        '{"type":1,"target":"GatewayUserTrade","arguments":[{"id":1}]}\x1e'
        '{"type":6}\x1e'
        '{"type":3,"invocationId":"7","result":null}\x1e'
        '{"type":7,"error":"bye","allowReconnect":true}\x1e'
    )
    passed = tap(frame, sink)
    assert [m["type"] for m in passed] == [3, 7]
    assert sink.calls == [
        ("alive", None),
        ("message", ("GatewayUserTrade", [{"id": 1}])),
        ("alive", None),
        ("alive", None),
        ("closed", "server close: bye (allowReconnect=True)"),
    ]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("nope\x1e", "not_json"),
        ("[]\x1e", "not_object"),
        ('{"type": "1"}\x1e', "no_type"),
        ('{"type": false}\x1e', "no_type"),
        ('{"type": 42}\x1e', "unexpected_type"),
        ('{"type": 4, "invocationId": "1", "target": "x", "arguments": []}\x1e', "unexpected_type"),
        ('{"type": 1, "arguments": []}\x1e', "bad_invocation"),
        ('{"type": 1, "target": "", "arguments": []}\x1e', "bad_invocation"),
        ('{"type": 1, "target": "T", "arguments": {}}\x1e', "bad_invocation"),
        ('{"type": 3, "invocationId": 7}\x1e', "bad_completion"),
        (b"\xff\xfe", "not_utf8"),
    ],
)
def test_tap_reports_malformed_records(frame: str | bytes, reason: str) -> None:
    sink = Sink()
    assert tap(frame, sink) == []
    assert sink.calls == [("bad", reason)]


def test_tap_ignores_empty_pieces_and_reads_every_record_of_a_frame() -> None:
    sink = Sink()
    assert tap("\x1e\x1e{}\x1e{\x1e", sink) == []
    assert sink.calls == [("bad", "no_type"), ("bad", "not_json")]


def test_subscriptions_in_order() -> None:
    assert subscriptions((7,)) == [
        ("SubscribeAccounts", []),
        ("SubscribeOrders", [7]),
        ("SubscribePositions", [7]),
        ("SubscribeTrades", [7]),
    ]
    assert subscriptions(()) == [("SubscribeAccounts", [])]


def test_with_token_encodes_the_token() -> None:
    assert (
        with_token("https://h/hubs/user", "a+b/c") == "https://h/hubs/user?access_token=a%2Bb%2Fc"
    )
    assert with_token("https://h/hubs/user?x=1", "t") == "https://h/hubs/user?x=1&access_token=t"


@pytest.mark.parametrize("attempt", [1, 2, 3, 10, 1000])
def test_backoff_doubles_is_capped_and_jittered(attempt: int) -> None:
    for _ in range(50):
        full = min(60.0, 1.0 * 2 ** (min(attempt, 40) - 1))
        assert full / 2 <= backoff_delay(attempt, 1.0, 60.0) <= full
