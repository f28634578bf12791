"""Give memory a round freed back to the operating system, so the idle daemon stays small.

A round (dozens of concurrent DNS/TLS/HTTP exchanges) leaves freed blocks in glibc's heaps
(OpenSSL's allocations among them) that RSS keeps counting; ``malloc_trim(0)`` returns them
(https://man7.org/linux/man-pages/man3/malloc_trim.3.html). Measured in the lab with
bench/probe_daemon.py: docs/volunteers.md. Elsewhere (musl, macOS) only the collection runs.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` from the symbols already loaded (no library search)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc: no malloc_trim
        return None
    return trim


def release_memory() -> None:
    """Collect cycles, then hand the free heap pages of every malloc arena back to the OS."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
