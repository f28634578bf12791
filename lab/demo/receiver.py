"""A local alert receiver: an HTTP server on 127.0.0.1 that records every JSON POST.

It stands in for a team's chat webhook so the demo (and its test) can show which alerts were
delivered; it answers 200 to any JSON body and 400 to anything else.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AlertReceiver:
    """``with AlertReceiver() as r:`` serves on ``r.url``; ``r.received`` lists the bodies."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.received.append(body if isinstance(body, dict) else {"body": body})
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                del format, args  # quiet: the demo prints its own summary

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"

    def __enter__(self) -> AlertReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.received)

    def counts(self) -> Counter[str]:
        """Alerts by status (``firing`` / ``resolved``), as the JSON webhook sends them."""
        return Counter(str(body.get("status", "?")).lower() for body in self.snapshot())
