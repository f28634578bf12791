"""Deterministic ids for imported records, so importing the same measurement twice is a no-op.

Ids keep the UUIDv7 layout (RFC 9562: 48-bit Unix milliseconds, version 7, variant 10) so that
they sort by time like the ids our probes make, but the 74 "random" bits come from a BLAKE2b hash of
the measurement's identity: OONI's ``measurement_uid`` where the archive gives one, else
``(report_id, input, measurement_start_time, test_name)``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import datetime

PROBE_PREFIX = "ooni-"
_LOW62 = (1 << 62) - 1


def stable_uuid7(at: datetime, key: str) -> str:
    """A UUIDv7 whose time is ``at`` and whose other bits are a hash of ``key``."""
    ms = int(at.timestamp() * 1000)
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"time out of range for UUIDv7: {at}")
    digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=10).digest(), "big")
    # 48 bits of time, version 7 and 12 hash bits, variant 10 and 62 hash bits: uuid.UUID's
    # str() of that 128-bit value, written field by field (tests/ooni/test_ids.py)
    time_hex = f"{ms:012x}"
    low = f"{(0b10 << 62) | (digest & _LOW62):016x}"
    return f"{time_hex[:8]}-{time_hex[8:]}-7{(digest >> 62) & 0xFFF:03x}-{low[:4]}-{low[4:]}"


@functools.lru_cache(maxsize=4096)  # a report's measurements come together: hashed once
def probe_id_for(report_id: str, *, key: bytes | None = None) -> str:
    """``ooni-`` and 16 hex digits of a hash of the report id (HMAC-SHA256 when ``key`` is set).

    One OONI report is one run of one probe, so it stands for a probe; no address is involved.
    """
    if key is None:
        digest = hashlib.sha256(report_id.encode()).hexdigest()
    else:
        digest = hmac.new(key, report_id.encode(), hashlib.sha256).hexdigest()
    return PROBE_PREFIX + digest[:16]
