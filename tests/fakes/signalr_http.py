"""The HTTP side of FakeUserHub: the token in an upgrade or negotiate request, and the
`POST .../negotiate` answer that websockets (GET only) cannot give."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection

if TYPE_CHECKING:
    from tests.fakes.signalr_hub import FakeUserHub

# websockets logs an answered negotiate request or an abandoned upgrade as a failed
# opening handshake: those connections log here instead, which is muted.
MUTED = logging.Logger("tests.fakes.signalr_hub.muted", logging.CRITICAL + 1)


def path_and_token(target: str, authorization: str | None) -> tuple[str, str | None]:
    parts = urlsplit(target)
    token = parse_qs(parts.query).get("access_token", [None])[0]
    if token is None and authorization and authorization.startswith("Bearer "):
        token = authorization.removeprefix("Bearer ")
    return parts.path, token


class NegotiatingConnection(ServerConnection):
    """websockets parses only GET; a `POST .../negotiate` is answered here, before it."""

    def __init__(self, hub: FakeUserHub, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hub = hub
        self._head: bytes | None = b""  # None once the request is known to be a GET

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._hub.track(transport)

    def data_received(self, data: bytes) -> None:
        if self._head is None:
            super().data_received(data)
            return
        self._head += data
        if not b"POST".startswith(self._head[:4]):
            head, self._head = self._head, None
            super().data_received(head)
        elif b"\r\n\r\n" in self._head:
            self._answer_negotiate(self._head)

    def _answer_negotiate(self, head: bytes) -> None:
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else ""
        headers = dict(
            (k.strip().lower(), v.strip()) for k, _, v in (x.partition(":") for x in lines[1:])
        )
        status, body = self._hub.negotiate(target, headers.get("authorization"))
        self.logger = MUTED
        reason = HTTPStatus(status).phrase
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        self.transport.close()
