"""A free port on 127.0.0.1 for a server a test starts (TCP by default, UDP on request)."""

from __future__ import annotations

import socket


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing listens on now (the kernel's pick; a test binds it at once)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
