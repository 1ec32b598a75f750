"""A loopback port that refuses connections until a fake takes it: a service that is
down at first and comes up later, at the address the worker was given."""

from __future__ import annotations

import socket


class ReservedPort:
    """Bound but not listening: a connect gets ECONNREFUSED, as from a host whose
    service is down. `release()` frees the port for the fake that will serve on it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._sock: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((host, 0))
        self.host, self.port = host, int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def release(self) -> int:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        return self.port

    def __enter__(self) -> ReservedPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
