"""Fold grouped counts into the anomaly module's buckets; both stores share this pure step.

Each store groups its rows by dimensions, bucket and probe (SQL GROUP BY, InfluxQL GROUP BY
time(), tags); this module sums those counts and counts distinct probes, so the two back-ends
produce identical buckets from identical data.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from collector.records import HeartbeatBucket, VerdictBucket
from collector.store.codec import from_ns
from collector.store.rollup import KINDS, verdict_bucket


@dataclass(frozen=True, slots=True)
class VerdictCount:
    """Verdicts of one probe with one (verdict, method, reason) in one bucket."""

    cc: str
    asn: int
    network: str
    target: str
    category: str
    bucket_ns: int
    verdict: str
    method: str
    reason: str
    probe: str
    count: int


@dataclass(frozen=True, slots=True)
class HeartbeatCount:
    cc: str
    asn: int
    network: str
    bucket_ns: int
    probe: str
    count: int


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    """Measurements of one probe with one outcome in one bucket."""

    cc: str
    asn: int
    network: str
    target: str
    category: str
    test: str
    bucket_ns: int
    outcome: str
    probe: str
    count: int


@dataclass(frozen=True, slots=True)
class MeasurementBucket:
    """Outcomes of one test of one target from one (cc, asn, network) in one time bucket."""

    cc: str
    asn: int
    network: str
    target: str
    category: str
    test: str
    start: datetime
    ok: int = 0
    failed: int = 0
    probes: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # failures by failure string


@dataclass(slots=True)
class _Acc:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    methods: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    probes: set[str] = field(default_factory=set)


def fold_verdicts(rows: list[VerdictCount]) -> list[VerdictBucket]:
    """Sum verdict counts per (cc, asn, network, target, category, bucket), ordered by time."""
    acc: dict[tuple[str, int, str, str, str, int], _Acc] = defaultdict(_Acc)
    for row in rows:
        if row.count <= 0:
            continue
        item = acc[(row.cc, row.asn, row.network, row.target, row.category, row.bucket_ns)]
        item.counts[row.verdict] += row.count
        item.probes.add(row.probe)
        if row.verdict == "blocked":
            if row.method:
                item.methods[row.method] += row.count
            if row.reason:
                item.reasons[row.reason] += row.count
    buckets = [
        verdict_bucket(
            (cc, asn, network, target, category),
            _start(bucket_ns),
            [item.counts.get(kind, 0) for kind in KINDS],
            len(item.probes),
            methods=dict(item.methods),
            reasons=dict(item.reasons),
        )
        for (cc, asn, network, target, category, bucket_ns), item in acc.items()
    ]
    buckets.sort(key=lambda b: (b.start, b.cc, b.asn, b.network, b.target))
    return buckets


def fold_heartbeats(rows: list[HeartbeatCount]) -> list[HeartbeatBucket]:
    """Count heartbeats and distinct probes per (cc, asn, network, bucket), ordered by time."""
    probes: dict[tuple[str, int, str, int], set[str]] = defaultdict(set)
    beats: dict[tuple[str, int, str, int], int] = defaultdict(int)
    for row in rows:
        if row.count <= 0:
            continue
        key = (row.cc, row.asn, row.network, row.bucket_ns)
        probes[key].add(row.probe)
        beats[key] += row.count
    buckets = [
        HeartbeatBucket(
            cc=cc,
            asn=asn,
            network=network,
            start=_start(bucket_ns),
            probes=len(probes[key]),
            heartbeats=beats[key],
        )
        for key in beats
        for cc, asn, network, bucket_ns in [key]
    ]
    buckets.sort(key=lambda b: (b.start, b.cc, b.asn, b.network))
    return buckets


def _start(bucket_ns: int) -> datetime:
    return from_ns(bucket_ns)


def fold_outcomes(rows: list[OutcomeCount]) -> list[MeasurementBucket]:
    """Sum measurement outcomes per (cc, asn, network, target, category, test, bucket)."""
    acc: dict[tuple[str, int, str, str, str, str, int], _Acc] = defaultdict(_Acc)
    for row in rows:
        if row.count <= 0:
            continue
        key = (row.cc, row.asn, row.network, row.target, row.category, row.test, row.bucket_ns)
        item = acc[key]
        item.counts[row.outcome] += row.count
        item.probes.add(row.probe)
    buckets = []
    for (cc, asn, network, target, category, test, bucket_ns), item in acc.items():
        ok = item.counts.get("ok", 0)
        failures = {k: v for k, v in item.counts.items() if k != "ok"}
        buckets.append(
            MeasurementBucket(
                cc=cc,
                asn=asn,
                network=network,
                target=target,
                category=category,
                test=test,
                start=_start(bucket_ns),
                ok=ok,
                failed=sum(failures.values()),
                probes=len(item.probes),
                outcomes=failures,
            )
        )
    buckets.sort(key=lambda b: (b.start, b.cc, b.asn, b.network, b.target, b.test))
    return buckets
