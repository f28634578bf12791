"""Event lifecycle: birth, revision by late data, resolution, retraction, stable ids."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.anomaly.classify import EVERYWHERE, Detection
from collector.anomaly.lifecycle import event_id, reconcile
from collector.records import EventKind, EventState, Scope

T = datetime(2026, 1, 5, 12, tzinfo=UTC)
NOW = T + timedelta(hours=2)
MIN = timedelta(minutes=1)


def det(
    start: datetime = T, end: datetime | None = None, scope: Scope | None = None, **ev: int
) -> Detection:
    return Detection(
        kind=EventKind.SHUTDOWN,
        scope=scope or Scope(cc="KZ", asn=64500, network="mobile", probes=6),
        target=None,
        method=None,
        start=start,
        end=end,
        opened=start + 5 * MIN,
        confidence=0.999,
        evidence={"rounds": 4, **ev},
    )


def test_new_detection_is_born_open_with_a_deterministic_id() -> None:
    (event,) = reconcile([], [det()], evaluated_since=T - timedelta(days=1), now=NOW)
    assert event.state == EventState.OPEN and event.end is None
    assert event.id == event_id(det())
    assert event.updated_at == NOW


def test_history_already_over_is_born_resolved() -> None:
    (event,) = reconcile([], [det(end=T + 30 * MIN)], evaluated_since=T, now=NOW)
    assert event.state == EventState.RESOLVED


def test_same_detection_again_changes_nothing() -> None:
    (event,) = reconcile([], [det()], evaluated_since=T, now=NOW)
    assert reconcile([event], [det()], evaluated_since=T, now=NOW + MIN) == []


def test_late_data_moves_onset_widens_scope_grows_evidence_and_keeps_id() -> None:
    (first,) = reconcile([], [det(start=T + 25 * MIN)], evaluated_since=T, now=NOW)
    revised = det(start=T, scope=Scope(cc="KZ", probes=24), offline_verdicts=300)
    (second,) = reconcile([first], [revised], evaluated_since=T, now=NOW + MIN)
    assert second.id == first.id
    assert second.state == EventState.UPDATED
    assert (second.start, second.scope.asn, second.evidence["offline_verdicts"]) == (T, None, 300)


def test_recovery_resolves_and_resolved_stays_quiet() -> None:
    (event,) = reconcile([], [det()], evaluated_since=T, now=NOW)
    (done,) = reconcile([event], [det(end=T + 40 * MIN)], evaluated_since=T, now=NOW)
    assert (done.id, done.state, done.end) == (event.id, EventState.RESOLVED, T + 40 * MIN)
    assert reconcile([done], [det(end=T + 40 * MIN)], evaluated_since=T, now=NOW) == []


def test_other_place_or_kind_is_another_event() -> None:
    (event,) = reconcile([], [det()], evaluated_since=T, now=NOW)
    elsewhere = det(scope=Scope(cc="KZ", asn=64501, network="fixed"))
    blocking = replace(det(), kind=EventKind.BLOCKING, target="telegram", method="dns")
    changes = reconcile([event], [det(), elsewhere, blocking], evaluated_since=T, now=NOW)
    assert len(changes) == 2 and event.id not in {e.id for e in changes}


def test_open_event_no_longer_seen_is_retracted_but_older_ones_are_left() -> None:
    (event,) = reconcile([], [det()], evaluated_since=T, now=NOW)
    (gone,) = reconcile([event], [], evaluated_since=T, now=NOW)
    assert gone.state == EventState.RESOLVED and gone.evidence["retracted"] is True
    assert reconcile([event], [], evaluated_since=T + MIN, now=NOW) == []


def test_scan_of_an_older_range_does_not_reopen_an_event_that_ended_later() -> None:
    (done,) = reconcile([], [det(end=T + 40 * MIN)], evaluated_since=T, now=NOW)
    cut_short = det()  # the older range ends at T + 20 min, inside the event
    assert (
        reconcile([done], [cut_short], evaluated_since=T, evaluated_until=T + 20 * MIN, now=NOW)
        == []
    )


KINDS = [EventKind.SHUTDOWN, EventKind.BLOCKING]


@st.composite
def detections(draw: st.DrawFn) -> list[Detection]:
    """Detections at random places and times, some ongoing (end None); like classify's output,
    those of one kind, country and target that overlap in time have disjoint scopes."""
    out: list[Detection] = []
    for _ in range(draw(st.integers(0, 6))):
        start = T + draw(st.integers(0, 200)) * 5 * MIN
        length = draw(st.one_of(st.none(), st.integers(2, 50)))
        asn = draw(st.sampled_from([None, 64500, 64501]))
        network = None if asn is None else draw(st.sampled_from([None, "fixed", "mobile"]))
        kind = draw(st.sampled_from(KINDS))
        new = replace(
            det(start=start, end=None if length is None else start + length * 5 * MIN),
            kind=kind,
            target=None if kind == EventKind.SHUTDOWN else "telegram",
            scope=Scope(cc=draw(st.sampled_from(["KZ", "UZ"])), asn=asn, network=network),
        )
        if not any(_clash(new, old) for old in out):
            out.append(new)
    return out


def _clash(a: Detection, b: Detection) -> bool:
    if (a.kind, a.scope.cc, a.target) != (b.kind, b.scope.cc, b.target):
        return False
    disjoint = (
        a.scope.asn is not None
        and b.scope.asn is not None
        and (
            a.scope.asn != b.scope.asn
            or (a.scope.network is not None and b.scope.network not in (None, a.scope.network))
        )
    )
    if disjoint:
        return False
    far = datetime.max.replace(tzinfo=UTC)
    return a.start <= (b.end or far) and b.start <= (a.end or far)


@given(detections())
@settings(max_examples=200, deadline=None)
def test_reconcile_is_idempotent_and_ids_are_unique(found: list[Detection]) -> None:
    written = reconcile([], found, evaluated_since=T, now=NOW)
    assert len({e.id for e in written}) == len(written)
    assert reconcile(written, found, evaluated_since=T, now=NOW + MIN) == []


def test_reclassified_event_keeps_its_id_and_one_page() -> None:
    t0 = datetime(2026, 1, 6, 10, tzinfo=UTC)
    blocking = Detection(
        EventKind.BLOCKING,
        Scope("KZ", probes=4),
        "telegram",
        "tcp",
        t0,
        None,
        t0,
        0.99,
        {"rounds": 3},
    )
    (born,) = reconcile([], [blocking], evaluated_since=t0, now=t0)
    outage = Detection(
        EventKind.PLATFORM_OUTAGE,
        Scope(EVERYWHERE, probes=9),
        "telegram",
        None,
        t0,
        None,
        t0,
        0.99,
        {"rounds": 4},
    )
    (changed,) = reconcile([born], [outage], evaluated_since=t0, now=t0)
    assert changed.id == born.id and changed.kind == EventKind.PLATFORM_OUTAGE
