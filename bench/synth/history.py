"""Labelled synthetic histories and their scoring, shared by the generators in this package.

A history is bucket aggregates (what the collector's store answers) with the bucket at which
each one reached the collector (store and forward: DESIGN.md decision 1), plus the truths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from collector.anomaly.classify import Detection
from collector.records import EventKind, HeartbeatBucket, VerdictBucket

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)
STEP_S = 300
DAY = 86400 // STEP_S
WARMUP = DAY  # buckets of warm-up at the start of every history (not judged)
KIND_SLACK = 12  # buckets before a truth's onset in which a detection may begin to be about it


@dataclass(frozen=True, slots=True)
class Truth:
    """A labelled event: what really happened, in bucket indexes [start, end)."""

    kind: EventKind
    cc: str
    asn: int | None
    network: str | None
    target: str | None
    method: str | None
    start: int
    end: int
    # a shutdown that, at its onset, cut every probe of a group of two or more (cc, asn,
    # network): issue 13 wants such cuts paged within 2 rounds; partial cuts are judged apart
    whole: bool = False


@dataclass(slots=True)
class History:
    """Buckets with their arrival bucket, plus the labels."""

    since: datetime
    n_times: int
    verdicts: list[tuple[int, VerdictBucket]] = field(default_factory=list)
    heartbeats: list[tuple[int, HeartbeatBucket]] = field(default_factory=list)
    truths: list[Truth] = field(default_factory=list)

    def view(
        self, *, arrived_by: int | None = None
    ) -> tuple[list[VerdictBucket], list[HeartbeatBucket]]:
        """Buckets arrived by bucket ``arrived_by`` (None: everything, the backfilled view)."""
        limit = self.n_times * 2 if arrived_by is None else arrived_by
        return (
            [b for a, b in self.verdicts if a <= limit],
            [b for a, b in self.heartbeats if a <= limit],
        )

    def realtime(self) -> tuple[list[VerdictBucket], list[HeartbeatBucket]]:
        """What a watcher saw as each bucket settled: late records excluded."""
        step = STEP_S
        return (
            [b for a, b in self.verdicts if a <= index_of(b.start, self.since, step) + 1],
            [b for a, b in self.heartbeats if a <= index_of(b.start, self.since, step) + 1],
        )


def index_of(moment: datetime, since: datetime, step_s: int = STEP_S) -> int:
    return int((moment - since).total_seconds()) // step_s


@dataclass(frozen=True, slots=True)
class Score:
    """One history's detections against its truths."""

    truths: int
    detections: int
    true_positives: int  # detections matching a truth
    found: int  # truths matched by a detection
    onset_delays: tuple[int, ...]  # rounds from true onset to the first page, per found truth
    whole_delays: tuple[int, ...]  # the same, for the found truths that are whole-group cuts
    method_hits: int
    method_total: int
    scope_hits: int
    kind_hits: int  # truths whose place and time were flagged, with the right kind
    kind_total: int  # truths whose place and time were flagged at all

    @property
    def precision(self) -> float:
        return self.true_positives / self.detections if self.detections else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.truths if self.truths else 1.0

    @property
    def median_delay(self) -> float:
        return float(np.median(self.onset_delays)) if self.onset_delays else 0.0


def score(history: History, detections: list[Detection]) -> Score:
    """Event precision/recall (kind, target, country and time must agree), delays, methods."""
    matched: set[int] = set()
    delays: list[int] = []
    whole: list[int] = []
    method_hits = method_total = scope_hits = kind_hits = kind_total = found = 0
    for truth in history.truths:
        # the kind is judged on detections that begin with this truth (an hour's slack): a
        # block running for days before a cut is not what was said about the cut
        placed = [
            d
            for d in detections
            if matches(history, truth, d, any_kind=True)
            and index_of(d.start, history.since) >= truth.start - KIND_SLACK
        ]
        if placed:
            kind_total += 1
            first_placed = min(placed, key=lambda d: d.opened)
            kind_hits += first_placed.kind == truth.kind
        hits = [i for i, d in enumerate(detections) if matches(history, truth, d)]
        if not hits:
            continue
        found += 1
        matched.update(hits)
        first = min((detections[i] for i in hits), key=lambda d: d.opened)
        delays.append(max(0, index_of(first.opened, history.since) - truth.start))
        if truth.whole:
            whole.append(delays[-1])
        if truth.method is not None:
            method_total += 1
            method_hits += first.method == truth.method
        # the scope is judged on the first detection about this truth's place: one about
        # another ASN of the country (a block that ASN applied on its own time) is not it
        about = [detections[i] for i in hits if detections[i].scope.asn in (None, truth.asn)] or [
            first
        ]
        told = min(about, key=lambda d: d.opened)
        scope_hits += (told.scope.asn, told.scope.network) == (truth.asn, truth.network)
    return Score(
        truths=len(history.truths),
        detections=len(detections),
        true_positives=len(matched),
        found=found,
        onset_delays=tuple(delays),
        whole_delays=tuple(whole),
        method_hits=method_hits,
        method_total=method_total,
        scope_hits=scope_hits,
        kind_hits=kind_hits,
        kind_total=kind_total,
    )


def matches(history: History, truth: Truth, det: Detection, *, any_kind: bool = False) -> bool:
    """Same kind (unless ``any_kind``), target and country (or "*"), overlapping in time."""
    if not any_kind and det.kind != truth.kind:
        return False
    if det.target != truth.target and not (any_kind and truth.target is None):
        return False
    if det.scope.cc != truth.cc and not (any_kind and "*" in (det.scope.cc, truth.cc)):
        return False
    start = index_of(det.start, history.since)
    end = history.n_times if det.end is None else index_of(det.end, history.since)
    return start < truth.end + 2 and truth.start - 2 < end
