"""One contract, two back-ends: every test here runs on SQLite and on a real InfluxDB 1.6."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.records import Event, EventKind, EventState, Scope
from collector.store import MeasurementQuery, OutcomeQuery, ProbeRecord, Store
from probe.model import Category, TestKind, VerdictKind

T0 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _all_measurements(store: Store, **filters: Any) -> list[dict[str, Any]]:
    query = MeasurementQuery(since=T0 - DAY, until=T0 + DAY, limit=1000, **filters)
    return store.measurements(query).items


def test_batch_round_trips_exactly_and_is_idempotent(store: Store, records: Any) -> None:
    measurement = records.measurement(details={"answers": ["198.18.0.1"], "rcode": "NOERROR"})
    verdict = records.verdict()
    heartbeat = records.heartbeat()
    first = store.write_batch(
        measurements=[measurement], verdicts=[verdict], heartbeats=[heartbeat]
    )
    assert first.accepted == 3
    again = store.write_batch(
        measurements=[measurement], verdicts=[verdict], heartbeats=[heartbeat]
    )
    assert again.accepted + again.duplicates == 3
    assert _all_measurements(store) == [measurement.to_dict()]
    buckets = store.verdict_buckets(since=T0, until=T0 + DAY, step_s=300)
    assert [(b.accessible, b.total) for b in buckets] == [(1, 1)]
    beats = store.heartbeat_buckets(since=T0, until=T0 + DAY, step_s=300)
    assert [(b.probes, b.heartbeats) for b in beats] == [(1, 1)]


def test_measurement_paging_visits_each_record_once(store: Store, records: Any) -> None:
    batch = [
        records.measurement(at=T0 + timedelta(seconds=i // 3), target=f"t{i}") for i in range(25)
    ]
    store.write_batch(measurements=batch)
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        query = MeasurementQuery(since=T0, until=T0 + DAY, limit=7, cursor=cursor)
        page = store.measurements(query)
        seen += [item["id"] for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(m.id for m in batch)
    assert len(seen) == len(set(seen))


def test_measurement_filters(store: Store, records: Any) -> None:
    dns = records.measurement(target="facebook", test=TestKind.DNS)
    tcp = records.measurement(target="telegram", test=TestKind.TCP, at=T0 + timedelta(seconds=1))
    other = replace(records, cc="UZ", asn=1).measurement(at=T0 + timedelta(seconds=2))
    store.write_batch(measurements=[dns, tcp, other])
    assert [m["id"] for m in _all_measurements(store, test="tcp")] == [tcp.id]
    assert [m["id"] for m in _all_measurements(store, cc="UZ")] == [other.id]
    assert [m["id"] for m in _all_measurements(store, asn=9198, target="facebook")] == [dns.id]
    assert _all_measurements(store, probe_id="nobody") == []


def test_verdict_buckets_count_kinds_methods_and_distinct_probes(
    store: Store, records: Any
) -> None:
    a = records
    b = replace(records, probe_id="probe-2")
    mobile = replace(records, probe_id="probe-3", network="mobile")
    verdicts = [
        a.verdict(at=T0 + timedelta(minutes=1)),
        a.verdict(at=T0 + timedelta(minutes=2), verdict=VerdictKind.BLOCKED),
        b.verdict(at=T0 + timedelta(minutes=3), verdict=VerdictKind.BLOCKED),
        b.verdict(at=T0 + timedelta(minutes=6), verdict=VerdictKind.OFFLINE),
        mobile.verdict(at=T0 + timedelta(minutes=1), category=Category.PLATFORM),
        replace(records, cc="UZ").verdict(at=T0),
    ]
    store.write_batch(verdicts=verdicts)
    buckets = store.verdict_buckets(since=T0, until=T0 + timedelta(hours=1), step_s=300, cc="KZ")
    summary = [
        (b.network, b.start, b.accessible, b.blocked, b.offline, b.probes, b.methods, b.reasons)
        for b in buckets
    ]
    five = T0 + timedelta(minutes=5)
    assert sorted(summary, key=str) == sorted(
        [
            ("fixed", T0, 1, 2, 0, 2, {"dns": 2}, {"dns.nxdomain": 2}),
            ("mobile", T0, 1, 0, 0, 1, {}, {}),
            ("fixed", five, 0, 0, 1, 1, {}, {}),
        ],
        key=str,
    )
    assert all(b.cc == "KZ" and b.asn == 9198 and b.target == "facebook" for b in buckets)
    everywhere = store.verdict_buckets(since=T0, until=T0 + timedelta(hours=1), step_s=3600)
    assert sum(b.total for b in everywhere) == 6


def test_range_is_half_open(store: Store, records: Any) -> None:
    store.write_batch(
        verdicts=[records.verdict(at=T0), records.verdict(at=T0 + timedelta(minutes=5))],
        heartbeats=[records.heartbeat(at=T0 + timedelta(minutes=5))],
    )
    buckets = store.verdict_buckets(since=T0, until=T0 + timedelta(minutes=5), step_s=60)
    assert [(b.start, b.total) for b in buckets] == [(T0, 1)]
    assert store.heartbeat_buckets(since=T0, until=T0 + timedelta(minutes=5), step_s=60) == []


def test_heartbeat_buckets_count_probes(store: Store, records: Any) -> None:
    beats = [records.heartbeat(at=T0 + timedelta(minutes=m)) for m in (0, 1, 2)] + [
        replace(records, probe_id="probe-2").heartbeat(at=T0 + timedelta(minutes=1))
    ]
    store.write_batch(heartbeats=beats)
    buckets = store.heartbeat_buckets(since=T0, until=T0 + timedelta(hours=1), step_s=600)
    assert [(b.cc, b.asn, b.network, b.start, b.probes, b.heartbeats) for b in buckets] == [
        ("KZ", 9198, "fixed", T0, 2, 4)
    ]
    assert store.heartbeat_buckets(since=T0, until=T0 + DAY, step_s=600, cc="UZ") == []


def test_day_stamps_change_with_each_write_into_their_day(store: Store, records: Any) -> None:
    """What the anomaly scan's day cache relies on: a write into a day replaces its stamp, and
    leaves the other days' alone; reading is by UTC day, the range half-open."""
    midnight = T0.replace(hour=0)
    window = {"since": midnight - DAY, "until": midnight + 2 * DAY}
    assert store.day_stamps(**window) == {}
    store.write_batch(verdicts=[records.verdict(at=T0)], heartbeats=[records.heartbeat(at=T0)])
    day = int(midnight.timestamp())
    first = store.day_stamps(**window)
    assert set(first) == {day}
    store.write_batch(measurements=[records.measurement(at=T0 + DAY)])
    second = store.day_stamps(**window)
    assert second[day] == first[day]
    assert set(second) == {day, day + 86_400}
    store.write_batch(verdicts=[records.verdict(at=T0 + timedelta(hours=13, minutes=59))])
    third = store.day_stamps(**window)
    assert third[day] != first[day]
    assert third[day + 86_400] == second[day + 86_400]
    assert store.day_stamps(since=T0 + timedelta(hours=1), until=midnight + DAY) == {
        day: third[day]
    }
    assert store.day_stamps(since=midnight + DAY, until=midnight + DAY + timedelta(seconds=1)) == {
        day + 86_400: third[day + 86_400]
    }
    store.write_events([_event(start=T0 - DAY)])  # events are not aggregated data: no stamp
    assert store.day_stamps(**window) == third


def _event(**changes: Any) -> Event:
    base = Event(
        id="ev-1",
        kind=EventKind.SHUTDOWN,
        scope=Scope(cc="KZ", asn=None, network=None, probes=3),
        target=None,
        method=None,
        start=T0,
        end=None,
        confidence=0.7,
        state=EventState.OPEN,
        evidence={"silent_probes": 3, "note": 'a, b = "c"\n'},
        updated_at=T0,
    )
    return replace(base, **changes)


def test_events_latest_state_wins_and_overlap(store: Store) -> None:
    store.write_events([_event()])
    resolved = _event(
        end=T0 + timedelta(hours=2),
        state=EventState.RESOLVED,
        confidence=0.95,
        updated_at=T0 + timedelta(hours=2),
    )
    other = _event(id="ev-2", kind=EventKind.BLOCKING, scope=Scope(cc="UZ"), target="telegram")
    store.write_events([resolved, other])
    store.write_events([resolved])
    assert store.events(since=T0, until=T0 + DAY, cc="KZ") == [resolved]
    assert store.events(since=T0 + timedelta(hours=3), until=T0 + DAY, cc="KZ") == []
    assert store.events(since=T0 - DAY, until=T0, cc="KZ") == []
    assert store.events(since=T0 + DAY, until=T0 + 2 * DAY, cc="UZ") == [other]
    assert {e.id for e in store.events(since=T0, until=T0 + DAY)} == {"ev-1", "ev-2"}


def test_probe_registry(store: Store) -> None:
    probe = ProbeRecord("p-1", "volunteer, Almaty", "ab" * 32, T0)
    store.add_probe(probe)
    assert store.probe_by_token_hash("ab" * 32) == probe
    assert store.probe_by_token_hash("cd" * 32) is None


def test_ping(store: Store) -> None:
    store.ping()


def test_measurement_buckets_count_outcomes_per_test(store: Store, records: Any) -> None:
    other = replace(records, probe_id="probe-2")
    measurements = [
        records.measurement(at=T0, test=TestKind.DNS),
        records.measurement(
            at=T0 + timedelta(seconds=1), test=TestKind.DNS, outcome="dns_nxdomain_error"
        ),
        other.measurement(
            at=T0 + timedelta(seconds=2), test=TestKind.DNS, outcome="dns_nxdomain_error"
        ),
        records.measurement(
            at=T0 + timedelta(seconds=3), test=TestKind.TCP, outcome="connection_reset"
        ),
        records.measurement(at=T0 + timedelta(minutes=10), test=TestKind.DNS),
    ]
    store.write_batch(measurements=measurements)
    dns = store.measurement_buckets(
        OutcomeQuery(since=T0, until=T0 + timedelta(hours=1), step_s=600, cc="KZ", test="dns")
    )
    assert [(b.start, b.test, b.ok, b.failed, b.probes, b.outcomes) for b in dns] == [
        (T0, "dns", 1, 2, 2, {"dns_nxdomain_error": 2}),
        (T0 + timedelta(minutes=10), "dns", 1, 0, 1, {}),
    ]
    every = store.measurement_buckets(OutcomeQuery(T0, T0 + timedelta(hours=1), step_s=3600))
    assert sorted((b.test, b.ok + b.failed) for b in every) == [("dns", 4), ("tcp", 1)]
    assert store.measurement_buckets(OutcomeQuery(T0, T0 + DAY, step_s=60, cc="UZ")) == []


def test_sqlite_busy_database_is_unavailable_not_a_crash(tmp_path: Any, records: Any) -> None:
    """Another writer holding the lock past the busy timeout gives StoreUnavailableError (503)."""
    import sqlite3

    from collector.store import StoreUnavailableError
    from collector.store.sqlite import SqliteStore

    path = tmp_path / "busy.sqlite3"
    store = SqliteStore(path)
    store._db.execute("PRAGMA busy_timeout=100")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailableError, match="locked"):
            store.write_batch(measurements=[records.measurement()])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.write_batch(measurements=[records.measurement()]).accepted == 1
    store.close()


def test_records_of_one_series_in_the_same_microsecond_are_both_kept(
    store: Store, records: Any
) -> None:
    """Same probe, target, test, outcome and time: InfluxDB's series key + time would collide."""
    first = records.measurement(at=T0)
    second = replace(first, id=first.id[:-4] + "beef")
    assert first.id != second.id
    store.write_batch(measurements=[first, second])
    store.write_batch(measurements=[second])  # a re-send still overwrites itself
    assert sorted(m["id"] for m in _all_measurements(store)) == sorted([first.id, second.id])
    buckets = store.measurement_buckets(OutcomeQuery(T0, T0 + DAY, step_s=60))
    assert [(b.ok, b.failed) for b in buckets] == [(2, 0)]


def test_an_id_belongs_to_one_record(store: Store, records: Any) -> None:
    """The id rule of both stores: a re-send (same id, same content) is a duplicate; the same id
    with other content, in the same batch or a later one, or under another probe, is refused
    for that record (StoreConflictError naming it) and nothing of that batch is stored."""
    from collector.store import StoreConflictError

    first = records.measurement(at=T0)
    beat = records.heartbeat(at=T0)
    assert store.write_batch(measurements=[first], heartbeats=[beat]).accepted == 2
    again = store.write_batch(measurements=[first], heartbeats=[beat])
    assert (again.accepted, again.duplicates) == (0, 2)

    twice = records.measurement(at=T0 + timedelta(seconds=1), target="telegram")
    same = store.write_batch(measurements=[twice, twice])
    assert (same.accepted, same.duplicates) == (1, 1)

    fresh = records.measurement(at=T0 + timedelta(seconds=2), target="tiktok")
    altered = replace(first, outcome="connection_reset")
    stolen = replace(beat, probe_id="probe-2")
    with pytest.raises(StoreConflictError) as refused:
        store.write_batch(measurements=[fresh, altered], heartbeats=[stolen])
    assert [(p.group, p.index) for p in refused.value.problems] == [
        ("measurements", 1),
        ("heartbeats", 0),
    ]
    clash = records.measurement(at=T0 + timedelta(seconds=3), target="youtube")
    with pytest.raises(StoreConflictError) as within:
        store.write_batch(measurements=[clash, replace(clash, duration_ms=99.0)])
    assert [(p.group, p.index) for p in within.value.problems] == [("measurements", 1)]

    stored = sorted((m["id"], m["outcome"], m["probe_id"]) for m in _all_measurements(store))
    assert stored == sorted([(first.id, "ok", "probe-1"), (twice.id, "ok", "probe-1")])
    beats = store.heartbeat_buckets(since=T0, until=T0 + DAY, step_s=600)
    assert [(b.probes, b.heartbeats) for b in beats] == [(1, 1)]


def test_enrolment_tokens_are_limited_expire_and_revoke(store: Store) -> None:
    from collector.store import Enrolment

    limited = Enrolment("en-1", "Almaty volunteers", "ab" * 32, 2, 0, T0 + DAY, T0)
    once = Enrolment("en-2", "one", "cd" * 32, 1, 0, T0 + DAY, T0 + timedelta(seconds=1))
    store.add_enrolment(limited)
    store.add_enrolment(once)
    assert store.use_enrolment("ab" * 32, now=T0) is not None
    assert store.use_enrolment("ab" * 32, now=T0) is not None
    assert store.use_enrolment("ab" * 32, now=T0) is None  # used up
    assert store.use_enrolment("cd" * 32, now=T0 + DAY) is None  # expired
    assert store.use_enrolment("ef" * 32, now=T0) is None  # unknown
    assert store.revoke_enrolment("en-2") is True
    assert store.revoke_enrolment("en-404") is False
    assert store.use_enrolment("cd" * 32, now=T0) is None  # revoked
    listed = {e.enrolment_id: (e.uses, e.max_uses, e.revoked) for e in store.enrolments()}
    assert listed == {"en-1": (2, 2, False), "en-2": (0, 1, True)}


def test_a_record_the_store_cannot_hold_is_refused_not_unavailable(
    store: Store, records: Any
) -> None:
    """Issue 14 item 3: past the API's bounds, a value the back-end refuses (an integer over
    64 bits) is StoreRefusedError (a 422), never StoreUnavailableError (a 503, retried)."""
    from collector.store import StoreRefusedError

    huge = replace(records.heartbeat(), outbox_depth=2**63)
    with pytest.raises(StoreRefusedError):
        store.write_batch(heartbeats=[huge])
    assert store.write_batch(heartbeats=[records.heartbeat()]).accepted == 1
