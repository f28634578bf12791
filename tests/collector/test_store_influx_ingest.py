"""The InfluxDB store's ingest path: the id rule's memory and window lookups, and the rollup
buckets recomputed off the request path (collector/store/influx_dirty.py), on a real influxd."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from collector.store import StoreConflictError, StoreUnavailableError
from collector.store.influx import InfluxStore
from collector.store.influx_dirty import DirtyBuckets, Pair
from probe.model import VerdictKind
from tests.support.influxd import InfluxServer

from .conftest import T0

pytestmark = pytest.mark.influx
LEAF = ("KZ", 9198, "fixed")


class Recorder:
    """A recompute that records its passes (and can be slow or fail)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.passes: list[set[Pair]] = []
        self.delay_s = delay_s
        self.fail = False

    def __call__(self, pairs: set[Pair]) -> None:
        if self.fail:
            raise StoreUnavailableError("influxdb unreachable")
        time.sleep(self.delay_s)
        self.passes.append(set(pairs))


def test_marked_pairs_are_recomputed_once_now_and_once_after_settling() -> None:
    recorder = Recorder()
    dirty = DirtyBuckets(recorder, interval_s=60, settle_s=0.2)  # the thread stays asleep
    pairs: set[Pair] = {("v", LEAF, 10), ("h", LEAF, 10)}
    dirty.mark(pairs)
    dirty.mark({("v", LEAF, 10)})  # marked twice, recomputed once
    dirty.flush()
    assert recorder.passes == [pairs]
    dirty.flush()  # the second pass is not due yet
    assert len(recorder.passes) == 1 and dirty.pending() == 2
    time.sleep(0.25)
    dirty.flush()
    assert recorder.passes == [pairs, pairs] and dirty.pending() == 0
    dirty.close()


def test_a_slow_recompute_is_run_again_and_a_failed_one_keeps_its_pairs() -> None:
    recorder = Recorder(delay_s=0.15)
    dirty = DirtyBuckets(recorder, interval_s=60, settle_s=0.1)
    dirty.mark({("v", LEAF, 1)})
    dirty.flush()
    time.sleep(0.12)
    dirty.flush()  # the second pass, slower than settle_s: a third is scheduled
    assert len(recorder.passes) == 2 and dirty.pending() == 1
    recorder.fail = True
    time.sleep(0.12)
    with pytest.raises(StoreUnavailableError):
        dirty.flush()
    assert dirty.pending() == 1  # kept for the next pass
    recorder.fail = False
    dirty.close()  # close recomputes what is left, second passes included
    assert len(recorder.passes) == 3 and dirty.pending() == 0


def test_the_thread_recomputes_without_a_read() -> None:
    recorder = Recorder()
    dirty = DirtyBuckets(recorder, interval_s=0.05, settle_s=0.05)
    dirty.mark({("v", LEAF, 3)})
    for _ in range(100):
        if len(recorder.passes) >= 2:
            break
        time.sleep(0.02)
    assert recorder.passes == [{("v", LEAF, 3)}] * 2
    dirty.close()


def _store(influxd: InfluxServer, database: str) -> InfluxStore:
    return InfluxStore(influxd.url, database=database, mode="v1")


def test_a_resend_of_a_known_record_needs_no_lookup(influxd: InfluxServer, records: Any) -> None:
    database = f"t{uuid.uuid4().hex[:12]}"
    store, other = _store(influxd, database), _store(influxd, database)
    looked_up: list[int] = []
    lookup = store._stored
    store._stored = lambda unknown, batch: looked_up.append(len(unknown)) or lookup(unknown, batch)  # type: ignore[method-assign]
    try:
        first = records.measurement(at=T0)
        assert store.write_batch(measurements=[first]).accepted == 1
        assert store.write_batch(measurements=[first]).duplicates == 1
        assert looked_up == [1, 0]  # the re-send was known: no query
        with pytest.raises(StoreConflictError):
            store.write_batch(measurements=[replace(first, outcome="connection_reset")])
        # another process does not know it and finds it in the store, with the same answers
        assert other.write_batch(measurements=[first]).duplicates == 1
        with pytest.raises(StoreConflictError):
            other.write_batch(measurements=[replace(first, duration_ms=1.0)])
    finally:
        store.close()
        other.close()


def test_a_lookup_window_shared_with_other_probes(influxd: InfluxServer, records: Any) -> None:
    """Other probes' records in the same moments are read by the window and left out; one of
    them under an id of this batch is another probe's id, refused."""
    store = _store(influxd, f"t{uuid.uuid4().hex[:12]}")
    try:
        crowd = [
            records.measurement(at=T0 + timedelta(milliseconds=i), probe_id=f"probe-{i % 7 + 2}")
            for i in range(200)
        ]
        assert store.write_batch(measurements=crowd).accepted == 200
        mine = [
            records.measurement(at=T0 + timedelta(milliseconds=i, microseconds=3))
            for i in range(50)
        ]
        fresh = _store(influxd, store.database)  # no memory of the crowd
        assert fresh.write_batch(measurements=mine).accepted == 50
        assert fresh.write_batch(measurements=mine).duplicates == 50
        clash = replace(mine[10], id=crowd[10].id)
        with pytest.raises(StoreConflictError) as refused:
            fresh.write_batch(measurements=[mine[1], clash])
        assert [p.index for p in refused.value.problems] == [1]
        fresh.close()
    finally:
        store.close()


def test_two_writers_into_one_bucket_end_with_exact_rollups(
    influxd: InfluxServer, records: Any
) -> None:
    """Two stores (two collector workers) write verdicts of one vantage into the same
    5-minute buckets at once; once both have settled, the rollups count every verdict."""
    database = f"t{uuid.uuid4().hex[:12]}"
    writers = [_store(influxd, database) for _ in range(2)]
    for writer in writers:
        writer._dirty.interval_s, writer._dirty.settle_s = 0.05, 0.3

    def write(index: int) -> None:
        who = replace(records, probe_id=f"probe-{index}")
        for round_ in range(15):
            at = T0 + timedelta(seconds=round_ * 20)
            verdicts = [who.verdict(at=at + timedelta(milliseconds=k)) for k in range(5)]
            writers[index].write_batch(verdicts=verdicts, heartbeats=[who.heartbeat(at=at)])

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reader = _store(influxd, database)
    try:
        seen = []
        for _ in range(100):  # the writers' threads recompute without a read, within a second
            seen = reader.verdict_buckets(since=T0, until=T0 + timedelta(hours=1), step_s=300)
            if sum(b.accessible for b in seen) == 150:
                break
            time.sleep(0.05)
        assert [(b.accessible, b.probes) for b in seen] == [(150, 2)]
        beats = reader.heartbeat_buckets(since=T0, until=T0 + timedelta(hours=1), step_s=300)
        assert [(b.heartbeats, b.probes) for b in beats] == [(30, 2)]
    finally:
        for writer in writers:
            writer.close()
        reader.close()


def test_a_write_is_in_its_own_processs_next_read(influxd: InfluxServer, records: Any) -> None:
    store = _store(influxd, f"t{uuid.uuid4().hex[:12]}")
    store._dirty.interval_s = 3600  # only the read's flush can recompute
    try:
        verdict = records.verdict(at=T0, verdict=VerdictKind.BLOCKED)
        store.write_batch(verdicts=[verdict])
        buckets = store.verdict_buckets(since=T0, until=T0 + timedelta(hours=1), step_s=300)
        assert [(b.blocked, b.probes) for b in buckets] == [(1, 1)]
    finally:
        store.close()
