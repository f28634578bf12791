"""The rollups behind the bucket reads equal buckets recomputed from the raw records.

Random batches with re-sends (whole and partial), records of one probe in several buckets and
late uploads into old buckets; after every batch the buckets a store returns are compared with
buckets folded in Python from the distinct records sent so far (both stores), and on SQLite also
with the store's own GROUP BY over its raw rows. A first-layout SQLite store is migrated on open.
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collector.records import HeartbeatBucket, VerdictBucket
from collector.store import Store
from collector.store.buckets import HeartbeatCount, VerdictCount, fold_heartbeats, fold_verdicts
from collector.store.codec import dumps, heartbeat_record, record_ns, verdict_record
from collector.store.sqlite import SqliteStore
from probe.model import Category, Heartbeat, Verdict, VerdictKind

T0 = datetime(2022, 1, 5, 0, 0, tzinfo=UTC)
STEPS = (300, 900, 3600, 86_400)


def _verdict_count(v: Verdict, step: int) -> VerdictCount:
    vantage, target = v.vantage, v.target
    method = v.method.value if v.method else ""
    reason = v.reason.value if v.reason else ""
    bucket = record_ns(v.at, v.id) // step * step
    dims = (vantage.cc, vantage.asn, vantage.network, target.name, target.category.value)
    return VerdictCount(*dims, bucket, v.verdict.value, method, reason, v.probe_id, 1)


def _beat_count(h: Heartbeat, step: int) -> HeartbeatCount:
    bucket = record_ns(h.at, h.id) // step * step
    return HeartbeatCount(h.vantage.cc, h.vantage.asn, h.vantage.network, bucket, h.probe_id, 1)


def _expected(
    verdicts: dict[str, Verdict], beats: dict[str, Heartbeat], step_s: int
) -> tuple[list[VerdictBucket], list[HeartbeatBucket]]:
    step = step_s * 1_000_000_000
    rows = [_verdict_count(v, step) for v in verdicts.values()]
    hb_rows = [_beat_count(h, step) for h in beats.values()]
    return fold_verdicts(rows), fold_heartbeats(hb_rows)


def _batch(rng: random.Random, records: Any, late: bool) -> tuple[list[Verdict], list[Heartbeat]]:
    base = T0 + timedelta(hours=rng.randrange(2) if late else rng.randrange(20, 24))
    verdicts, beats = [], []
    for _ in range(rng.randrange(1, 12)):
        probe, cc = f"probe-{rng.randrange(4)}", rng.choice(["KZ", "UZ"])
        who = replace(records, probe_id=probe, cc=cc, network=rng.choice(["fixed", "mobile"]))
        at = base + timedelta(seconds=rng.randrange(3600))
        verdict = rng.choice(list(VerdictKind))
        category = rng.choice([Category.PLATFORM, Category.CONTROL])
        target = rng.choice(["facebook", "telegram"]) if category is Category.PLATFORM else "ctl"
        verdicts.append(who.verdict(at=at, verdict=verdict, target=target, category=category))
        beats.append(who.heartbeat(at=at))
    return verdicts, beats


def _check(store: Store, verdicts: dict[str, Verdict], beats: dict[str, Heartbeat]) -> None:
    window = {"since": T0, "until": T0 + timedelta(days=1)}
    for step in STEPS:
        want_v, want_h = _expected(verdicts, beats, step)
        assert store.verdict_buckets(**window, step_s=step) == want_v, step
        assert store.heartbeat_buckets(**window, step_s=step) == want_h, step
        kz = [b for b in want_v if b.cc == "KZ"]
        assert store.verdict_buckets(**window, step_s=step, cc="KZ") == kz, step
        if isinstance(store, SqliteStore):
            assert store.raw_buckets(**window, step_s=step) == (want_v, want_h), step


def test_rollup_buckets_equal_buckets_from_raw_records(store: Store, records: Any) -> None:
    rng = random.Random(17)
    sent_v: dict[str, Verdict] = {}
    sent_h: dict[str, Heartbeat] = {}
    history: list[tuple[list[Verdict], list[Heartbeat]]] = []
    for round_ in range(12):
        verdicts, beats = _batch(rng, records, late=round_ % 4 == 3)
        if history and rng.random() < 0.6:  # re-send an earlier batch, whole or in part
            old_v, old_h = rng.choice(history)
            verdicts += rng.sample(old_v, rng.randrange(len(old_v) + 1))
            beats += old_h
        result = store.write_batch(verdicts=verdicts, heartbeats=beats)
        fresh = {v.id for v in verdicts if v.id not in sent_v}
        fresh |= {h.id for h in beats if h.id not in sent_h}
        assert result.accepted == len(fresh)
        sent_v.update({v.id: v for v in verdicts})
        sent_h.update({h.id: h for h in beats})
        history.append((verdicts, beats))
        _check(store, sent_v, sent_h)


def test_a_refused_batch_adds_nothing_to_the_rollups(store: Store, records: Any) -> None:
    kept = records.verdict(at=T0 + timedelta(minutes=1))
    store.write_batch(verdicts=[kept])
    changed = replace(kept, explanation="other content")
    fresh = records.verdict(at=T0 + timedelta(minutes=2))
    try:
        store.write_batch(verdicts=[fresh, changed])
    except Exception as exc:  # the id rule refuses the batch
        assert "reuse an id" in str(exc)
    else:
        raise AssertionError("a conflicting id was accepted")
    _check(store, {kept.id: kept}, {})


_FIRST_LAYOUT = """
CREATE TABLE verdicts (
    id TEXT PRIMARY KEY, probe_id TEXT NOT NULL, cc TEXT NOT NULL, asn INTEGER NOT NULL,
    network TEXT NOT NULL, target TEXT NOT NULL, category TEXT NOT NULL, verdict TEXT NOT NULL,
    method TEXT NOT NULL, reason TEXT NOT NULL, at_ns INTEGER NOT NULL, confidence REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX verdicts_time ON verdicts (at_ns);
CREATE INDEX verdicts_cc_time ON verdicts (cc, at_ns);
CREATE TABLE heartbeats (
    id TEXT PRIMARY KEY, probe_id TEXT NOT NULL, cc TEXT NOT NULL, asn INTEGER NOT NULL,
    network TEXT NOT NULL, at_ns INTEGER NOT NULL, uptime_s REAL NOT NULL,
    outbox_depth INTEGER NOT NULL, record TEXT NOT NULL
);
CREATE INDEX heartbeats_time ON heartbeats (at_ns);
"""


def _v1_row(v: Verdict) -> tuple[Any, ...]:
    """A verdict as a row of the first layout (text columns and the record as JSON)."""
    vv = v.vantage
    method = v.method.value if v.method else ""
    reason = v.reason.value if v.reason else ""
    dims = (vv.cc, vv.asn, vv.network, v.target.name, v.target.category.value, v.verdict.value)
    at = record_ns(v.at, v.id)
    return (v.id, v.probe_id, *dims, method, reason, at, v.confidence, json.dumps(v.to_dict()))


def _v1_beat(h: Heartbeat) -> tuple[Any, ...]:
    hv = h.vantage
    at = record_ns(h.at, h.id)
    record = dumps(heartbeat_record(h))
    return (h.id, h.probe_id, hv.cc, hv.asn, hv.network, at, h.uptime_s, h.outbox_depth, record)


def test_a_first_layout_store_is_migrated_on_open(tmp_path: Path, records: Any) -> None:
    path = tmp_path / "old.sqlite3"
    rng = random.Random(5)
    verdicts, beats = _batch(rng, records, late=False)
    db = sqlite3.connect(path)
    db.executescript(_FIRST_LAYOUT)
    db.executemany(
        "INSERT INTO verdicts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", [_v1_row(v) for v in verdicts]
    )
    db.executemany(
        "INSERT INTO heartbeats VALUES (?,?,?,?,?,?,?,?,?)", [_v1_beat(h) for h in beats]
    )
    db.commit()
    db.close()
    store = SqliteStore(path)
    try:
        _check(store, {v.id: v for v in verdicts}, {h.id: h for h in beats})
        again = store.write_batch(verdicts=verdicts, heartbeats=beats)  # re-sent: all duplicates
        assert (again.accepted, again.duplicates) == (0, len(verdicts) + len(beats))
        assert dumps(verdict_record(verdicts[0]))  # the stored form compares equal (above)
    finally:
        store.close()
    reopened = SqliteStore(path)  # nothing left to migrate, rollups current
    try:
        _check(reopened, {v.id: v for v in verdicts}, {h.id: h for h in beats})
    finally:
        reopened.close()


def test_reads_off_five_minute_edges_widen_to_them(store: Store, records: Any) -> None:
    """Bounds off 5-minute edges (a page's "the last hour until now") are widened to the edges,
    in both stores alike, so the rollups answer them instead of every raw row of the store."""
    rng = random.Random(5)
    verdicts, beats = _batch(rng, records, late=False)
    store.write_batch(verdicts=verdicts, heartbeats=beats)
    since, until = T0 + timedelta(hours=20, seconds=130), T0 + timedelta(hours=23, seconds=7)
    edges = T0 + timedelta(hours=20), T0 + timedelta(hours=23, minutes=5)
    for step in (300, 3600):
        assert store.verdict_buckets(since=since, until=until, step_s=step) == (
            store.verdict_buckets(since=edges[0], until=edges[1], step_s=step)
        )
        assert store.heartbeat_buckets(since=since, until=until, step_s=step) == (
            store.heartbeat_buckets(since=edges[0], until=edges[1], step_s=step)
        )
    assert store.verdict_buckets(since=edges[0], until=edges[1], step_s=300)  # not vacuous
