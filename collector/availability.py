"""Availability series per target from verdict buckets: the pure core of the timeline.

Availability is accessible / (accessible + blocked) in a bucket; ``offline`` and
``inconclusive`` verdicts say nothing about the target (the vantage was dark or the test
unsure), so they are reported but left out of the ratio, as OONI Explorer separates "anomaly"
from "failure" measurements.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.records import Event, VerdictBucket
from collector.store.buckets import MeasurementBucket
from probe.model import format_time

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
    sums: dict[tuple[str, str], dict[datetime, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0, 0, 0, 0])
    )
    for b in buckets:
        if not _selected(b, asn, network, target):
            continue
        acc = sums[(b.target, b.category)][b.start]
        for index, value in enumerate(
            (b.accessible, b.blocked, b.offline, b.inconclusive, b.probes)
        ):
            acc[index] += value
    return [
        Series(
            target=name,
            category=category,
            points=[Point(start, *values) for start, values in sorted(points.items())],
        )
        for (name, category), points in sorted(sums.items())
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
    sums: dict[tuple[str, str, str], dict[datetime, OutcomePoint]] = defaultdict(dict)
    for b in buckets:
        if not _selected(b, asn, network, target):
            continue
        points = sums[(b.target, b.category, b.test)]
        old = points.get(b.start, OutcomePoint(b.start, 0, 0, 0, {}))
        outcomes = dict(old.outcomes)
        for name, count in b.outcomes.items():
            outcomes[name] = outcomes.get(name, 0) + count
        points[b.start] = OutcomePoint(
            b.start, old.ok + b.ok, old.failed + b.failed, old.probes + b.probes, outcomes
        )
    return [
        OutcomeSeries(name, category, test, [p for _, p in sorted(points.items())])
        for (name, category, test), points in sorted(sums.items())
    ]


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
