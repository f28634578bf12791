"""TCP connect outcomes against real listeners on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

from probe.failures import Failure
from probe.tcp import connect


def test_open_port_is_ok(serve: Callable[..., Any], kit: Any) -> None:
    server = serve(kit.silent)
    result = asyncio.run(connect("127.0.0.1", server.port, timeout=2))
    assert (result.failure, result.failure_raw) == (None, None)
    assert 0 < result.t < 2


def test_closed_port_is_refused(kit: Any) -> None:
    result = asyncio.run(connect("127.0.0.1", kit.free_port(), timeout=2))
    assert result.failure == Failure.CONNECTION_REFUSED
    assert "Errno 111" in (result.failure_raw or "")


def test_full_backlog_times_out() -> None:
    """A listener that never accepts, with its backlog full, drops SYNs: a blackhole."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                fillers.append(s)
            result = asyncio.run(connect("127.0.0.1", port, timeout=0.5))
        finally:
            for s in fillers:
                s.close()
    assert result.failure == Failure.GENERIC_TIMEOUT
    assert 0.4 < result.t < 1.5
