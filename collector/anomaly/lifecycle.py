"""Event lifecycle: match this evaluation's detections to stored events, keep ids stable.

An event is born ``open`` (or ``resolved`` when history shows it already over), becomes
``updated`` when late data moves its onset, widens its scope or grows its evidence, and
``resolved`` when the detector's belief falls back (hysteresis lives in the detector). Its id is
derived once, at birth, from kind + scope + target + onset (UUIDv5), so a re-scan of the same
history makes the same ids; afterwards a detection continues an event when kind, target and
country agree, scopes nest and times overlap, so a revised onset keeps the first id.
``reconcile`` is pure and stamps what it changes with the ``now`` it is given, which the
watcher sets to the evaluated end: identical watchers write identical events (watcher.py).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from collector.anomaly.classify import EVERYWHERE, Detection
from collector.records import Event, EventKind, EventState, Scope

ID_NAMESPACE = uuid.UUID("6f1c3c1e-5a53-4b8e-9a55-1f0c2d7e8a41")


def event_id(detection: Detection) -> str:
    """Deterministic id of a newborn event: same history, same id (idempotent scans)."""
    scope = detection.scope
    key = "|".join(
        [
            detection.kind.value,
            scope.cc,
            str(scope.asn),
            str(scope.network),
            str(detection.target),
            detection.start.isoformat(),
        ]
    )
    return str(uuid.uuid5(ID_NAMESPACE, key))


def reconcile(
    stored: list[Event],
    detections: list[Detection],
    *,
    evaluated_since: datetime,
    now: datetime,
    evaluated_until: datetime | None = None,
) -> list[Event]:
    """The events to write: new ones, changed ones and retracted ones; unchanged ones are left.

    A detection still under way at ``evaluated_until`` says nothing about later times, so it
    never reopens a stored event that ended after that (a scan of an older range). Detections
    of one kind, country and target that overlap in time have disjoint scopes (``classify``
    merges the others).
    """
    pool = sorted(stored, key=lambda e: (e.start, e.id))  # what each detection may continue
    seen: set[str] = set()
    changes: dict[str, Event] = {}
    for det in sorted(detections, key=lambda d: (d.start, d.kind, d.scope.cc, str(d.target))):
        previous = next((e for e in pool if _continues(e, det)), None)
        if previous is None:
            born = _born(det, now)
            changes[born.id] = born
            pool.append(born)
            seen.add(born.id)
            continue
        seen.add(previous.id)
        if (
            det.end is None
            and previous.end is not None
            and evaluated_until is not None
            and previous.end >= evaluated_until
        ):
            continue  # the range cut a finished event short: what is stored knows more
        changed = _continued(previous, det, now)
        if changed is not None:
            changes[changed.id] = changed
            pool[pool.index(previous)] = changed
    for event in stored:
        if event.id in seen or event.state == EventState.RESOLVED:
            continue
        if event.start >= evaluated_since:
            evidence = {**event.evidence, "retracted": True}
            changes[event.id] = replace(
                event, state=EventState.RESOLVED, end=now, evidence=evidence, updated_at=now
            )
    return list(changes.values())


FAILURE_KINDS = frozenset({EventKind.BLOCKING, EventKind.THROTTLING, EventKind.PLATFORM_OUTAGE})
# onsets of one event seen first as one kind, then as another (a country's blocking found to be
# part of a platform outage once other countries' runs arrive): within an hour
RECLASSIFY_SLACK = timedelta(hours=1)


def _with_opened(evidence: dict[str, Any], opened: datetime, before: Any = None) -> dict[str, Any]:
    """Evidence with ``opened_at``: when the event would first have been paged (kept earliest)."""
    stamp = opened.isoformat()
    if isinstance(before, str) and before < stamp:
        stamp = before
    return {**evidence, "opened_at": stamp}


def _born(det: Detection, now: datetime) -> Event:
    return Event(
        id=event_id(det),
        kind=det.kind,
        scope=det.scope,
        target=det.target,
        method=det.method,
        start=det.start,
        end=det.end,
        confidence=det.confidence,
        state=EventState.OPEN if det.end is None else EventState.RESOLVED,
        evidence=_with_opened(det.evidence, det.opened),
        updated_at=now,
    )


def _continued(previous: Event, det: Detection, now: datetime) -> Event | None:
    start = min(previous.start, det.start)
    state = EventState.RESOLVED if det.end is not None else EventState.UPDATED
    candidate = replace(
        previous,
        kind=det.kind,  # a reclassified event (blocking -> platform outage) keeps its id
        scope=det.scope,
        method=det.method,
        start=start,
        end=det.end,
        confidence=max(previous.confidence, det.confidence),
        evidence=_with_opened(det.evidence, det.opened, previous.evidence.get("opened_at")),
    )
    same = (
        candidate.scope == previous.scope
        and candidate.kind == previous.kind
        and candidate.method == previous.method
        and candidate.start == previous.start
        and candidate.end == previous.end
        and candidate.confidence == previous.confidence
        and _without_rounds(candidate.evidence) == _without_rounds(previous.evidence)
    )
    if same and (state == EventState.UPDATED or previous.state == EventState.RESOLVED):
        return None
    return replace(candidate, state=state, updated_at=now)


def _without_rounds(evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence minus the round count, which grows with the clock alone (not worth a write)."""
    return {k: v for k, v in evidence.items() if k != "rounds"}


def _continues(event: Event, det: Detection) -> bool:
    """Same target and overlapping time, and either the same kind, country and nested scopes,
    or a reclassification of target failures (one country's blocking found to be part of a
    platform outage, or throttling found to be blocking) whose onsets agree within
    RECLASSIFY_SLACK: one event, one page. Without that bound Myanmar's days-old Facebook block
    took in the global outage of 4 Oct 2021, which was then never paged as one."""
    if event.target != det.target:
        return False
    if event.kind == det.kind:
        if event.scope.cc != det.scope.cc or not _nested(event.scope, det.scope):
            return False
    elif not (
        {event.kind, det.kind} <= FAILURE_KINDS
        and (EVERYWHERE in (event.scope.cc, det.scope.cc) or event.scope.cc == det.scope.cc)
        and abs(det.start - event.start) <= RECLASSIFY_SLACK
    ):
        return False  # a block begun days before a platform outage is not that outage
    event_end = event.end or datetime.max.replace(tzinfo=event.start.tzinfo)
    det_end = det.end or datetime.max.replace(tzinfo=det.start.tzinfo)
    return det.start <= event_end and event.start <= det_end


def _nested(a: Scope, b: Scope) -> bool:
    """One scope contains the other (a cut seen first in one ASN, then nationwide)."""

    def within(inner: Scope, outer: Scope) -> bool:
        return (outer.asn is None or outer.asn == inner.asn) and (
            outer.network is None or outer.network == inner.network
        )

    return within(a, b) or within(b, a)
