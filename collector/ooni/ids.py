"""Deterministic ids for imported records, so importing the same measurement twice is a no-op.

Ids keep the UUIDv7 layout (RFC 9562: 48-bit Unix milliseconds, version 7, variant 10) so that
they sort by time like the ids our probes make, but the 74 "random" bits come from a BLAKE2b hash of
the measurement's identity: OONI's ``measurement_uid`` where the archive gives one, else
``(report_id, input, measurement_start_time, test_name)``. A measurement never submitted has no
``report_id``: its run is named by :func:`run_key` and the measurement by :func:`content_digest`
of everything it holds but ``probe_ip``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

PROBE_PREFIX = "ooni-"
# what never enters an id: the probe's address (DESIGN.md decision 8)
_NOT_HASHED = frozenset({"probe_ip"})
_LOW62 = (1 << 62) - 1
_VERSION_VARIANT = (0x7 << 76) | (0b10 << 62)
_blake2b = hashlib.blake2b


def stable_uuid7(at: datetime, key: str) -> str:
    """A UUIDv7 whose time is ``at`` and whose other bits are a hash of ``key``."""
    ms = int(at.timestamp() * 1000)
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"time out of range for UUIDv7: {at}")
    digest = int.from_bytes(_blake2b(key.encode(), digest_size=10).digest(), "big")
    # 48 bits of time, version 7 and 12 hash bits, variant 10 and 62 hash bits: uuid.UUID's
    # str() of that 128-bit value, one hex conversion cut at the dashes (tests/ooni/test_speedups)
    value = (ms << 80) | _VERSION_VARIANT | (((digest >> 62) & 0xFFF) << 64) | (digest & _LOW62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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


def run_key(
    *,
    software: str,
    test_name: str,
    test_start_time: str,
    probe_cc: str,
    probe_asn: int,
    annotations: Mapping[str, Any] | None,
) -> str:
    """What names one run of one OONI probe when OONI's backend assigned no ``report_id``.

    A report is one run of one test (df-000): the software, the test, when the run started, the
    network (cc, asn) and the run's annotations (platform, engine, network type) are the same
    for every measurement of it. ``probe_ip`` is never used.
    """
    notes = json.dumps(dict(annotations or {}), sort_keys=True, default=str, ensure_ascii=False)
    return "|".join(
        ("run", software, test_name, test_start_time, probe_cc, f"AS{probe_asn}", notes)
    )


def content_digest(data: Mapping[str, Any]) -> str:
    """A hash of a whole measurement but ``probe_ip`` (canonical JSON, keys sorted): two
    different measurements of one run differ in it, the same one twice does not."""
    kept = {k: v for k, v in data.items() if k not in _NOT_HASHED}
    text = json.dumps(kept, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
