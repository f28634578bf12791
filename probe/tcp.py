"""TCP connect measurement: can this vantage open a connection to address:port?

Outcomes follow OONI's df-007 strings: ok, connection_refused, connection_reset,
generic_timeout_error, host_unreachable, network_unreachable.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from probe.errors import map_os_error, raw_text
from probe.failures import Failure


@dataclass(frozen=True, slots=True)
class Connect:
    address: str
    port: int
    failure: str | None
    failure_raw: str | None
    t: float  # seconds


async def connect(address: str, port: int, *, timeout: float) -> Connect:
    """Open and close one TCP connection; every failure is returned as data."""
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(address, port)
    except Exception as exc:  # every failure becomes data through the one mapping
        return Connect(
            address,
            port,
            map_os_error(exc) or Failure.UNKNOWN,
            raw_text(exc),
            time.monotonic() - start,
        )
    elapsed = time.monotonic() - start
    writer.close()
    return Connect(address, port, None, None, elapsed)
