"""The watcher end to end over an in-memory store: scan idempotence, revisions, alerts once."""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.anomaly.alerts import Ledger
from collector.anomaly.channels import JsonWebhook
from collector.anomaly.settings import AnomalySettings
from collector.anomaly.shard import Partitions, Shard, shard_of
from collector.anomaly.thresholds import Thresholds
from collector.anomaly.watcher import MAX_EVENT_AGE, Watcher, evaluate
from collector.records import Event, EventKind, EventState, Scope
from collector.store import open_store
from tests.support.influxd import InfluxServer, start_influxd
from tests.support.memory_store import MemoryStore

TH = Thresholds()


def test_scan_is_idempotent(b: Any) -> None:
    s = b.day + 30
    leaf = b.Leaf(shutdown=(s, s + 20), blocked={"telegram": (s + 50, s + 70, "tls")})
    store = MemoryStore(*b.history([leaf], b.day + 120))
    since, until = b.at(b.day), b.at(b.day + 120)
    first = evaluate(store, since=since, until=until, th=TH, now=until)
    assert sorted(e.kind for e in first) == [EventKind.BLOCKING, EventKind.SHUTDOWN]
    assert all(e.state == EventState.RESOLVED for e in first)
    assert evaluate(store, since=since, until=until, th=TH, now=until + timedelta(hours=1)) == []
    fresh = MemoryStore(*b.history([leaf], b.day + 120))
    again = evaluate(fresh, since=since, until=until, th=TH, now=until)
    assert {e.id for e in again} == {e.id for e in first}


def watcher(store: MemoryStore, tmp_path: Path, url: str) -> Watcher:
    settings = AnomalySettings(timeline_url="http://collector.test/timeline", lookback_s=6 * 3600)
    return Watcher(
        store, settings, channels=[JsonWebhook(url)], ledger=Ledger(tmp_path / "alerts.sqlite3")
    )


def test_watch_revises_with_backfill_and_pages_once_per_phase(
    b: Any, tmp_path: Path, receiver: Any
) -> None:
    s = b.day + 40
    settle = timedelta(seconds=TH.settle_s)
    # Real time: AS64500's mobile probes fall silent at s+5; AS64501's probes upload late.
    cut_a = b.Leaf(asn=64500, shutdown=(s + 5, s + 40))
    store = MemoryStore(*b.history([cut_a], s + 12, backfilled=False))
    w = watcher(store, tmp_path, receiver.url)
    (opened,) = w.cycle(b.at(s + 12) + settle)
    assert opened.state == EventState.OPEN and opened.start == b.at(s + 5)
    assert (opened.scope.asn, opened.evidence["offline_verdicts"]) == (64500, 0)
    ((path, body),) = receiver.wait_for(1)
    assert body["status"] == "firing" and body["event"]["id"] == opened.id
    assert (
        "KZ AS64500 mobile networks" in body["summary"]
        and "since 2026-01-06 03:45" in body["summary"]
    )
    assert "http://collector.test/timeline?cc=KZ&asn=64500" in body["timeline"]

    # Backfill: both ASNs were cut from s (AS64501 from the true onset), with offline verdicts.
    cut_b = b.Leaf(asn=64501, shutdown=(s, s + 40))
    store.verdicts, store.heartbeats = b.history([cut_a, cut_b], s + 20)
    (revised,) = w.cycle(b.at(s + 20) + settle)
    assert revised.id == opened.id and revised.state == EventState.UPDATED
    assert revised.start == b.at(s) and revised.scope.asn is None
    assert revised.evidence["offline_verdicts"] > 0
    assert w.cycle(b.at(s + 21) + settle) == []

    store.verdicts, store.heartbeats = b.history([cut_a, cut_b], s + 60)
    (resolved,) = w.cycle(b.at(s + 60) + settle)
    assert resolved.id == opened.id and resolved.state == EventState.RESOLVED
    assert resolved.end == b.at(s + 40)
    received = receiver.wait_for(2)
    assert [body["status"] for _, body in received] == ["firing", "resolved"]
    w.close()

    again = watcher(store, tmp_path, receiver.url)  # a restart: the ledger remembers
    assert again.cycle(b.at(s + 61) + settle) == []
    again.close()
    assert len(receiver.received) == 2


def test_failed_delivery_is_retried_next_cycle(b: Any, tmp_path: Path, receiver: Any) -> None:
    s = b.day + 40
    leaf = b.Leaf(blocked={"telegram": (s, s + 100, "dns")})
    store = MemoryStore(*b.history([leaf], s + 10))
    receiver.status = 503
    w = watcher(store, tmp_path, receiver.url)
    (event,) = w.cycle(b.at(s + 10) + timedelta(seconds=TH.settle_s))
    assert receiver.received == []
    receiver.status = 200
    assert w.cycle(b.at(s + 11) + timedelta(seconds=TH.settle_s)) == []
    ((_, body),) = receiver.wait_for(1)
    assert body["event"]["id"] == event.id and body["event"]["method"] == "dns"
    w.close()


def scripted(b: Any) -> tuple[list[Any], int]:
    """A KZ shutdown seen in real time then backfilled, and a TM blocking: (leaves, onset)."""
    s = b.day + 40
    leaves = [
        b.Leaf(asn=64500, shutdown=(s, s + 8)),
        b.Leaf(cc="TM", asn=64510, blocked={"telegram": (s + 1, s + 9, "tls")}),
    ]
    return leaves, s


@dataclass
class Race:
    """What two watchers computed cycle by cycle over the same data, and one's final store."""

    changes: list[tuple[list[Event], list[Event]]]
    stored: dict[str, Event]


def race(b: Any, tmp_path: Path) -> Race:
    """Two watchers over the same data, cycling at other wall times of the same step."""
    leaves, s = scripted(b)
    memories = [MemoryStore(), MemoryStore()]
    watchers = [watcher(m, tmp_path / str(n), "http://127.0.0.1:1") for n, m in enumerate(memories)]
    settle = timedelta(seconds=TH.settle_s)
    cycles: list[tuple[list[Event], list[Event]]] = []
    try:
        for k in range(s - 1, s + 14):
            verdicts, heartbeats = b.history(leaves, k, backfilled=k >= s + 8)  # real time
            pair = []
            for w, m, offset in zip(watchers, memories, (7, 251), strict=True):
                w.channels = []
                m.verdicts, m.heartbeats = verdicts, heartbeats
                pair.append(w.cycle(b.at(k) + settle + timedelta(seconds=offset)))
            cycles.append((pair[0], pair[1]))
    finally:
        for w in watchers:
            w.close()
    assert memories[0].stored == memories[1].stored
    return Race(cycles, memories[0].stored)


def check_race(outcome: Race) -> None:
    for k, (first, second) in enumerate(outcome.changes):
        assert first == second, f"cycle {k}: the watchers disagree"
    seen = [e for first, _ in outcome.changes for e in first]
    kinds = {(e.kind, e.state) for e in seen}
    assert {(EventKind.SHUTDOWN, EventState.OPEN), (EventKind.BLOCKING, EventState.OPEN)} <= kinds
    assert len(outcome.stored) == 2
    assert all(e.state == EventState.RESOLVED for e in outcome.stored.values())
    assert all(e.updated_at is not None and e.updated_at.second == 0 for e in seen)


def by_id(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: e.id)


def test_two_watchers_over_one_store_write_identical_rows(b: Any, tmp_path: Path) -> None:
    """Two watchers over the same data, at other moments of the same step, compute the same
    events (ids and every field); both write all they compute into one SQLite store (a race:
    neither saw the other's write) and it keeps one row per event, as one alone would."""
    outcome = race(b, tmp_path)
    check_race(outcome)
    shared = open_store(f"sqlite:{tmp_path / 'shared.sqlite3'}")
    try:
        for first, second in outcome.changes:
            shared.write_events(first)
            shared.write_events(second)
        rows = shared.events(since=b.at(0), until=b.at(b.day + 80))
    finally:
        shared.close()
    assert by_id(rows) == by_id(list(outcome.stored.values()))
    count = sqlite3.connect(tmp_path / "shared.sqlite3").execute("SELECT count(*) FROM events")
    assert count.fetchone() == (2,)


@pytest.fixture(scope="module")
def influxd() -> Iterator[InfluxServer]:
    if shutil.which("influxd") is None:
        pytest.skip("LOUD SKIP: influxd is not installed (Debian package influxdb); CI has it")
    with start_influxd() as server:
        yield server


@pytest.mark.influx
def test_two_watchers_writing_into_influxdb_make_one_point_per_event_version(
    b: Any, tmp_path: Path, influxd: InfluxServer
) -> None:
    """The same race into InfluxDB: an event written twice with the same content is the same
    point (series and time), so the store holds what one watcher alone writes."""
    outcome = race(b, tmp_path)
    check_race(outcome)
    alone, shared = (f"t{uuid.uuid4().hex[:12]}" for _ in range(2))
    for db, writers in ((alone, 1), (shared, 2)):
        store = open_store(f"influxdb:{influxd.url}?db={db}")
        try:
            for pair in outcome.changes:
                for changes in pair[:writers]:
                    store.write_events(changes)
            rows = store.events(since=b.at(0), until=b.at(b.day + 80))
        finally:
            store.close()
        assert by_id(rows) == by_id(list(outcome.stored.values()))
    points = {}
    for db in (alone, shared):
        answer = httpx.get(
            f"{influxd.url}/query",
            params={"db": db, "q": 'SELECT count("record") FROM "anomaly_event"'},
            timeout=10,
        )
        points[db] = answer.json()["results"][0]["series"][0]["values"][0][1]
    assert points[shared] == points[alone]


def test_a_shard_writes_and_alerts_only_its_countries(b: Any, tmp_path: Path) -> None:
    leaves, s = scripted(b)
    store = MemoryStore(*b.history(leaves, s + 6))
    settle = timedelta(seconds=TH.settle_s)
    found: dict[int, set[str]] = {}
    for index in (0, 1):
        w = watcher(MemoryStore(store.verdicts, store.heartbeats), tmp_path / str(index), "x")
        w.channels = []
        w.partitions = Partitions.of(Shard(index, 2))
        found[index] = {e.scope.cc for e in w.cycle(b.at(s + 6) + settle)}
        w.close()
    assert (shard_of("KZ", 2), shard_of("TM", 2)) == (1, 0)  # md5 mod 2, fixed forever
    assert found == {0: {"TM"}, 1: {"KZ"}}


class CountingStore(MemoryStore):
    """Records the earliest time each cycle asked aggregates for."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read_from: list[Any] = []

    def verdict_buckets(self, **kwargs: Any) -> Any:
        self.read_from.append(kwargs["since"])
        return super().verdict_buckets(**kwargs)


def test_an_event_open_for_months_does_not_widen_every_read(
    b: Any, tmp_path: Path, receiver: Any
) -> None:
    s = b.day + 40
    store = CountingStore(*b.history([b.Leaf()], s))
    ancient = Event(
        "old",
        EventKind.SHUTDOWN,
        Scope("KZ"),
        None,
        None,
        b.at(s) - timedelta(days=200),
        None,
        0.99,
        EventState.OPEN,
    )
    store.write_events([ancient])
    w = watcher(store, tmp_path, receiver.url)
    now = b.at(s)
    w.cycle(now)
    w.close()
    bound = now - MAX_EVENT_AGE - timedelta(seconds=TH.warmup_s + TH.settle_s + TH.step_s)
    assert min(store.read_from) >= bound


def test_scan_keeps_when_each_event_would_have_been_paged(b: Any) -> None:
    s = b.day + 30
    store = MemoryStore(*b.history([b.Leaf(shutdown=(s, s + 20))], b.day + 120))
    (event,) = evaluate(store, since=b.at(b.day), until=b.at(b.day + 120), th=TH, now=b.at(999))
    assert event.evidence["opened_at"] == b.at(s + 1).isoformat()  # paged one round in


def test_cycle_by_cycle_a_total_cut_of_two_probes_pages_within_two_rounds(
    b: Any, tmp_path: Path, receiver: Any
) -> None:
    s = b.day + 40
    leaf = b.Leaf(probes=2, shutdown=(s, s + 30))
    store = MemoryStore(*b.history([leaf], s + 30, backfilled=False))  # real time: silence
    w = watcher(store, tmp_path, receiver.url)
    settle = timedelta(seconds=TH.settle_s)
    paged_at = None
    for k in range(0, 6):  # one cycle per round after the onset
        if w.cycle(b.at(s + k) + settle) and paged_at is None:
            paged_at = k
    w.close()
    assert paged_at is not None and paged_at <= 3  # buckets s, s+1, s+2 silent: 2 rounds late
    ((_, body),) = receiver.wait_for(1)
    assert body["status"] == "firing"
    assert body["event"]["evidence"]["opened_at"] == b.at(s + 2).isoformat()
