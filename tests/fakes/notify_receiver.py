"""A loopback HTTP receiver for Apprise's `json://` target: it records what each note
said (Apprise's JSON body: version, title, message, type), or misbehaves on purpose —
answers 500, or hangs without answering. Threaded: the worker's sender thread, an
in-process test and a worker subprocess can all post to it while the test awaits."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class NotifyReceiver:
    """`mode`: ok (200), error (500) or hang (read the request, never answer until
    closed). `notes` holds every JSON body received, in order, whatever the mode."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.notes: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                receiver.notes.append(body)
                receiver.paths.append(self.path)
                if receiver.mode == "hang":
                    receiver._release.wait(30)
                    return
                self.send_response(500 if receiver.mode == "error" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str = "notify") -> str:
        """The Apprise URL of this receiver (`json://127.0.0.1:<port>/<path>`)."""
        return f"json://127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        return [str(n.get("title", "")) for n in self.notes]

    def named(self, prefix: str) -> list[dict[str, Any]]:
        """The notes whose title starts with `prefix`."""
        return [n for n in self.notes if str(n.get("title", "")).startswith(prefix)]

    def __enter__(self) -> NotifyReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
