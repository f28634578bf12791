"""Availability series per target from verdict buckets: the pure core of the timeline.

Availability is accessible / (accessible + blocked) in a bucket; ``offline`` and
``inconclusive`` verdicts say nothing about the target (the vantage was dark or the test
unsure), so they are reported but left out of the ratio, as OONI Explorer separates "anomaly"
from "failure" measurements.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from collector.records import Event, VerdictBucket
from collector.store.buckets import MeasurementBucket
from probe.model import format_time

B = TypeVar("B", VerdictBucket, MeasurementBucket)
K = TypeVar("K", tuple[str, str], tuple[str, str, str])

_STEP = re.compile(r"^(\d+)([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_step(text: str) -> int:
    """``300``, ``30s``, ``5m``, ``1h``, ``1d`` -> seconds; ValueError names the accepted forms."""
    match = _STEP.match(text.strip())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"step {text!r}: use a positive number with s, m, h or d, e.g. 5m")
    return int(match.group(1)) * _UNIT[match.group(2)]


@dataclass(frozen=True, slots=True)
class Point:
    start: datetime
    accessible: int
    blocked: int
    offline: int
    inconclusive: int
    probes: int

    @property
    def availability(self) -> float | None:
        judged = self.accessible + self.blocked
        return None if judged == 0 else self.accessible / judged


@dataclass(frozen=True, slots=True)
class Series:
    target: str
    category: str
    points: list[Point]


def availability_series(
    buckets: list[VerdictBucket],
    *,
    asn: int | None = None,
    network: str | None = None,
    target: str | None = None,
) -> list[Series]:
    """Sum buckets over the vantages that match, one series per target, points in time order.

    ``probes`` sums distinct probes per vantage, an upper bound when one probe moved networks.
    """
    grouped = _grouped(buckets, lambda b: (b.target, b.category), asn, network, target)
    return [
        Series(name, category, [_verdict_point(start, group) for start, group in points])
        for (name, category), points in grouped
    ]


def _verdict_point(start: datetime, group: list[VerdictBucket]) -> Point:
    return Point(
        start,
        accessible=sum(b.accessible for b in group),
        blocked=sum(b.blocked for b in group),
        offline=sum(b.offline for b in group),
        inconclusive=sum(b.inconclusive for b in group),
        probes=sum(b.probes for b in group),
    )


def _grouped(
    buckets: Iterable[B],
    key: Callable[[B], K],
    asn: int | None,
    network: str | None,
    target: str | None,
) -> list[tuple[K, list[tuple[datetime, list[B]]]]]:
    """The buckets of the asked ASN, network and target (None: any) grouped by series
    (``key``, in its order) and start (in time order): what both series sum."""
    groups: dict[K, dict[datetime, list[B]]] = defaultdict(lambda: defaultdict(list))
    for b in buckets:
        if _selected(b, asn, network, target):
            groups[key(b)][b.start].append(b)
    return [
        (series, sorted(points.items(), key=lambda item: item[0]))
        for series, points in sorted(groups.items(), key=lambda item: item[0])
    ]


def _selected(
    bucket: VerdictBucket | MeasurementBucket,
    asn: int | None,
    network: str | None,
    target: str | None,
) -> bool:
    """The bucket is of the asked ASN, network and target (None: any)."""
    return (
        (asn is None or bucket.asn == asn)
        and (network is None or bucket.network == network)
        and (target is None or bucket.target == target)
    )


@dataclass(frozen=True, slots=True)
class OutcomePoint:
    start: datetime
    ok: int
    failed: int
    probes: int
    outcomes: dict[str, int]

    @property
    def success(self) -> float | None:
        total = self.ok + self.failed
        return None if total == 0 else self.ok / total


@dataclass(frozen=True, slots=True)
class OutcomeSeries:
    target: str
    category: str
    test: str
    points: list[OutcomePoint]


def outcome_series(
    buckets: list[MeasurementBucket],
    *,
    asn: int | None = None,
    network: str | None = None,
    target: str | None = None,
) -> list[OutcomeSeries]:
    """One test's success share per target over time: raw measurements, before any verdict."""
    grouped = _grouped(buckets, lambda b: (b.target, b.category, b.test), asn, network, target)
    return [
        OutcomeSeries(name, category, test, [_outcome_point(at, group) for at, group in points])
        for (name, category, test), points in grouped
    ]


def _outcome_point(start: datetime, group: list[MeasurementBucket]) -> OutcomePoint:
    outcomes: dict[str, int] = {}
    for b in group:
        for name, count in b.outcomes.items():
            outcomes[name] = outcomes.get(name, 0) + count
    return OutcomePoint(
        start,
        ok=sum(b.ok for b in group),
        failed=sum(b.failed for b in group),
        probes=sum(b.probes for b in group),
        outcomes=outcomes,
    )


def availability_json(series: Series) -> dict[str, Any]:
    """One availability series as it appears in the ``GET /v1/timeline`` document."""
    return {
        "target": series.target,
        "category": series.category,
        "points": [
            {
                "start": format_time(p.start),
                "accessible": p.accessible,
                "blocked": p.blocked,
                "offline": p.offline,
                "inconclusive": p.inconclusive,
                "probes": p.probes,
                "availability": p.availability,
            }
            for p in series.points
        ],
    }


def outcome_json(series: OutcomeSeries) -> dict[str, Any]:
    """One test's series as it appears in the ``GET /v1/timeline?test=...`` document."""
    return {
        "target": series.target,
        "category": series.category,
        "test": series.test,
        "points": [
            {
                "start": format_time(p.start),
                "ok": p.ok,
                "failed": p.failed,
                "probes": p.probes,
                "outcomes": p.outcomes,
                "availability": p.success,
            }
            for p in series.points
        ],
    }


def event_concerns(
    event: Event, *, asn: int | None = None, network: str | None = None, target: str | None = None
) -> bool:
    """Whether an event belongs on a timeline narrowed to ``asn``, ``network`` and ``target``.

    An event concerns every part of its scope: a country-wide shutdown shows on the timeline of
    any ASN or network of the country, a cut of one ASN's mobile network only where the ASN and
    the network (when asked for) match; an event without a target (a shutdown) concerns every
    target.
    """
    scope = event.scope
    return (
        (asn is None or scope.asn is None or scope.asn == asn)
        and (network is None or scope.network is None or scope.network == network)
        and (target is None or event.target is None or event.target == target)
    )
