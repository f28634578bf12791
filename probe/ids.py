"""Record ids: UUIDv7 (RFC 9562), made where a record is born, sortable by creation time."""

from __future__ import annotations

import os
import time
import uuid


def uuid7(*, unix_ms: int | None = None) -> str:
    """Return a new UUIDv7 string; ``unix_ms`` fixes the timestamp (tests, replays)."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"unix_ms out of range for UUIDv7: {ms}")
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (ms << 80)
        | (0x7 << 76)
        | ((rand >> 62) & 0xFFF) << 64
        | (0b10 << 62)
        | (rand & ((1 << 62) - 1))
    )
    return str(uuid.UUID(int=value))
