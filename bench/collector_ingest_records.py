"""The benchmark's records: a probe's measurements (and a round's verdicts and heartbeat) as
request bodies, and the same bodies renewed as new records for sustained runs."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from probe.model import (
    Category,
    Heartbeat,
    Measurement,
    TargetRef,
    TestKind,
    Vantage,
    Verdict,
    VerdictKind,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
_serial = itertools.count()


def round_records(n: int, probe_id: str) -> tuple[list[Verdict], list[Heartbeat]]:
    """What a probe's round sends beside ``n`` measurements: a verdict per 4 measurements
    (about one per target, 10% blocked) and one heartbeat (``--mix round``)."""
    verdicts = []
    for _ in range(max(1, n // 4)):
        i = next(_serial)
        verdicts.append(
            Verdict(
                id=f"m-v{i:012d}",
                probe_id=probe_id,
                vantage=Vantage("KZ", 9198, "fixed"),
                target=TargetRef(f"t{i % 20}", f"t{i % 20}.example", Category.PLATFORM),
                round_id=f"r-{i // 100}",
                at=T0 + timedelta(microseconds=i),
                verdict=VerdictKind.BLOCKED if i % 10 == 0 else VerdictKind.ACCESSIBLE,
                method=None,
                reason=None,
                confidence=0.9,
                measurement_ids=(f"m-{i:012d}",),
            )
        )
    i = next(_serial)
    beat = Heartbeat(
        id=f"m-h{i:012d}",
        probe_id=probe_id,
        probe_version="bench",
        vantage=Vantage("KZ", 9198, "fixed"),
        at=T0 + timedelta(microseconds=i),
        uptime_s=3600.0,
        outbox_depth=0,
    )
    return verdicts, [beat]


def make_measurements(n: int, probe_id: str) -> list[Measurement]:
    """``n`` distinct measurements (own id and timestamp each) from one probe."""
    out = []
    for _ in range(n):
        i = next(_serial)
        out.append(
            Measurement(
                id=f"m-{i:012d}",
                probe_id=probe_id,
                probe_version="bench",
                vantage=Vantage("KZ", 9198, "fixed"),
                target=TargetRef(f"t{i % 20}", f"t{i % 20}.example", Category.PLATFORM),
                test=TestKind.DNS,
                started_at=T0 + timedelta(microseconds=i),
                duration_ms=12.5,
                outcome="ok" if i % 7 else "dns_nxdomain_error",
                round_id=f"r-{i // 100}",
                details={"answers": ["198.18.0.10"], "rcode": "NOERROR", "resolver": "system"},
            )
        )
    return out


def renewed(bodies: list[bytes], round_: int) -> Iterator[bytes]:
    """The same batches as new records: other ids, and another (past) year for InfluxDB.

    Cheap byte replacement, so that under sustained load the benchmark's clients do not eat the
    CPU the collector needs (the machine is shared).
    """
    year = f'"{2023 - round_ % 20}-'.encode()
    for body in bodies:
        renewed = body.replace(b'"id": "m-', f'"id": "m{round_}-'.encode())
        for key in (b'"started_at": ', b'"at": '):
            renewed = renewed.replace(key + b'"2024-', key + year)
        yield renewed


def body(measurements: list[Measurement], mix: str = "measurements") -> bytes:
    data: dict[str, Any] = {
        "schema": "tyndau.batch/1",
        "measurements": [m.to_dict() for m in measurements],
    }
    if mix == "round":
        verdicts, beats = round_records(len(measurements), measurements[0].probe_id)
        data["verdicts"] = [v.to_dict() for v in verdicts]
        data["heartbeats"] = [h.to_dict() for h in beats]
    return json.dumps(data).encode()
