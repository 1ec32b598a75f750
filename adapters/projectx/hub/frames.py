"""Our own reading of incoming SignalR JSON frames, shared by both adapters.

Both libraries fail badly on input this hub may send: a record that is not JSON ends
signalrcore's receive thread (socket left open) and pysignalr's `run()`; an unknown
target is only a library log line. So each adapter plugs this tap into its library's
protocol object (a public constructor/builder option) and the library sees only what it
must handle itself: Completions (to finish `invoke`) and Close messages. Pushes go to
the sink directly, pings only prove the server alive, anything else is a bad frame.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.projectx.hub.port import HubSink

RS = "\x1e"
INVOCATION, COMPLETION, PING, CLOSE = 1, 3, 6, 7
_DETAIL_CHARS = 120


def tap(raw: str | bytes, sink: HubSink) -> list[dict[str, Any]]:
    """Classify the records of one frame; return those the library must handle."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            sink.bad_frame("not_utf8", repr(raw[:_DETAIL_CHARS]))
            return []
    passthrough: list[dict[str, Any]] = []
    for piece in raw.split(RS):
        if piece.strip():
            message = _record(piece, sink)
            if message is not None:
                passthrough.append(message)
    return passthrough


def close_reason(message: dict[str, Any]) -> str:
    error = message.get("error")
    again = message.get("allowReconnect")
    return f"server close: {error or 'no error'} (allowReconnect={again})"


def _record(piece: str, sink: HubSink) -> dict[str, Any] | None:
    try:
        message = json.loads(piece)
    except ValueError:
        return _bad(sink, "not_json", piece)
    if not isinstance(message, dict):
        return _bad(sink, "not_object", piece)
    kind = message.get("type")
    if type(kind) is not int:  # bool is an int too: {"type": true} is no message type
        return _bad(sink, "no_type", piece)
    if kind == INVOCATION:
        target, arguments = message.get("target"), message.get("arguments", [])
        if not isinstance(target, str) or not target or not isinstance(arguments, list):
            return _bad(sink, "bad_invocation", piece)
        sink.alive()
        sink.message(target, arguments)
        return None
    if kind == COMPLETION:
        if not isinstance(message.get("invocationId"), str):
            return _bad(sink, "bad_completion", piece)
        sink.alive()
        return message
    if kind == PING:
        sink.alive()
        return None
    if kind == CLOSE:
        sink.closed(close_reason(message))
        return message
    return _bad(sink, "unexpected_type", piece)


def _bad(sink: HubSink, reason: str, piece: str) -> dict[str, Any] | None:
    sink.bad_frame(reason, piece[:_DETAIL_CHARS])
    return None
