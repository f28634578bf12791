"""A fake HTTP endpoint on loopback, served from a thread, for tests of the clients that call one
(the probe's uploader and control client, the alert webhooks' receiver).

The handler class is the test's own (what the endpoint answers); this module only runs it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that writes no access log lines to the test's stderr."""

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on 127.0.0.1 at a port the kernel picks, in a daemon thread; yields the
    base URL ``http://127.0.0.1:PORT``; on exit the server is shut down and its socket closed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
