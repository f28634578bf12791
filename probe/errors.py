"""Socket-level errors shared by every layer: errno and exception class -> OONI failure string.

Each layer (dns, tcp, tls, http) maps its library's exceptions in one table, most specific first,
and falls back to ``map_os_error`` for what the kernel said (OONI df-007-errors names).
"""

from __future__ import annotations

import errno

from probe.failures import Failure

_ERRNO: dict[int, str] = {
    errno.ECONNREFUSED: Failure.CONNECTION_REFUSED,
    errno.ECONNRESET: Failure.CONNECTION_RESET,
    errno.EPIPE: Failure.CONNECTION_RESET,
    errno.ECONNABORTED: Failure.CONNECTION_RESET,
    errno.ETIMEDOUT: Failure.GENERIC_TIMEOUT,
    errno.EHOSTUNREACH: Failure.HOST_UNREACHABLE,
    errno.ENETUNREACH: Failure.NETWORK_UNREACHABLE,
    errno.EADDRNOTAVAIL: Failure.NETWORK_UNREACHABLE,
}

_CLASSES: tuple[tuple[type[BaseException], str], ...] = (
    (TimeoutError, Failure.GENERIC_TIMEOUT),
    (ConnectionRefusedError, Failure.CONNECTION_REFUSED),
    (ConnectionResetError, Failure.CONNECTION_RESET),
    (BrokenPipeError, Failure.CONNECTION_RESET),
    (ConnectionAbortedError, Failure.CONNECTION_RESET),
    (EOFError, Failure.EOF),
)


def map_os_error(exc: BaseException) -> str | None:
    """The failure string for a socket-level error, or None when it is not one."""
    for kind, failure in _CLASSES:
        if isinstance(exc, kind):
            return failure
    if isinstance(exc, OSError) and exc.errno in _ERRNO:
        return _ERRNO[exc.errno]
    return None


def raw_text(exc: BaseException) -> str:
    """The original error, kept verbatim in ``<stage>_failure_raw``."""
    return f"{type(exc).__name__}: {exc}"[:500]
