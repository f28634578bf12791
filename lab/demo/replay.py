"""The demo's data in scenario time: a copy of its store with every moment mapped to 2022.

The demo plays ``kz-2022`` compressed (e.g. 228 hours in 3 minutes), so what the probes record
carries wall-clock times. This copy maps each time ``t`` to ``start + (t - t0) x speed`` (the
scenario's own clock, lab/demo/truth.py's ``Clock``), record ids included (a UUIDv7 keeps its
random bits and takes the mapped milliseconds), so ``tyndau timeline``, the web pages and the
README's examples read the replay on 2022 dates.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any

from collector.records import Event
from collector.schema import HeartbeatIn, MeasurementIn, Shared, VerdictIn
from collector.store import open_store
from collector.store.codec import event_from_dict
from collector.store.sqlite_rows import heartbeat_content, verdict_content
from lab.demo.truth import Clock
from probe.model import Heartbeat, Measurement, Verdict

BATCH = 5_000  # records per write


@dataclass(frozen=True, slots=True)
class ScenarioTime:
    """Wall-clock moments of the demo as the scenario's own (2022) moments."""

    clock: Clock
    start: datetime  # the scenario's t=0 in real 2022 UTC

    def at(self, wall: datetime) -> datetime:
        moment = self.start + timedelta(seconds=self.clock.offset(wall))
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def record_id(self, record_id: str) -> str:
        """A UUIDv7 re-stamped at its own moment mapped (so references stay equal); other ids
        are kept."""
        digits = record_id.replace("-", "")
        if len(digits) != 32 or digits[12] != "7":
            return record_id
        wall = datetime.fromtimestamp(int(digits[:12], 16) / 1000, UTC)
        ms = int(self.at(wall).timestamp() * 1000)
        new = f"{ms:012x}" + digits[12:]
        return f"{new[:8]}-{new[8:12]}-{new[12:16]}-{new[16:20]}-{new[20:]}"

    def event(self, event: Event) -> Event:
        return replace(
            event,
            start=self.at(event.start),
            end=None if event.end is None else self.at(event.end),
            updated_at=None if event.updated_at is None else self.at(event.updated_at),
        )


# How each table's records are read back: measurements and events keep their JSON; verdicts and
# heartbeats are integer-coded rows (collector/store/sqlite_schema.py), rebuilt by the store's own
# functions from its views.
READ: dict[str, tuple[str, Callable[[Sequence[Any]], str]]] = {
    "measurements": ("SELECT record FROM measurements", itemgetter(0)),
    "events": ("SELECT record FROM events", itemgetter(0)),
    "verdicts": ("SELECT * FROM verdict_rows", verdict_content),
    "heartbeats": ("SELECT * FROM heartbeat_rows", heartbeat_content),
}


def stored_records(db: sqlite3.Connection, table: str) -> Iterator[dict[str, Any]]:
    """Every record of ``table`` (measurements, verdicts, heartbeats, events) of a SQLite store,
    in its wire form."""
    sql, content = READ[table]
    for row in db.execute(sql):
        data: dict[str, Any] = json.loads(content(row))
        yield data


# Stored records are read back by the collector's own strict ingest models (collector/schema.py),
# then moved to scenario time: one parser of the wire form, not a second one here.
def _measurement(m: dict[str, Any], time: ScenarioTime, shared: Shared) -> Measurement:
    read = MeasurementIn.model_validate(m).to_model(shared)
    at, round_id = time.at(read.started_at), time.record_id(read.round_id)
    return replace(read, id=time.record_id(read.id), started_at=at, round_id=round_id)


def _verdict(v: dict[str, Any], time: ScenarioTime, shared: Shared) -> Verdict:
    read = VerdictIn.model_validate(v).to_model(shared)
    at, round_id = time.at(read.at), time.record_id(read.round_id)
    ids = tuple(time.record_id(i) for i in read.measurement_ids)
    return replace(read, id=time.record_id(read.id), at=at, round_id=round_id, measurement_ids=ids)


def _heartbeat(h: dict[str, Any], time: ScenarioTime, shared: Shared) -> Heartbeat:
    read = HeartbeatIn.model_validate(h).to_model(shared)
    return replace(read, id=time.record_id(read.id), at=time.at(read.at))


def restamp_store(source: Path, target: Path, time: ScenarioTime) -> dict[str, int]:
    """Copy the demo's SQLite store at ``source`` into a new one at ``target`` in scenario
    time; returns the records copied per kind. ``target`` must not exist yet."""
    if target.exists():
        raise FileExistsError(f"{target}: already exists; the demo keeps a new store")
    counts = {"measurements": 0, "verdicts": 0, "heartbeats": 0, "events": 0}
    out = open_store(f"sqlite:{target}")
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as db:
            shared = Shared()
            batch: list[Any] = []
            for m in stored_records(db, "measurements"):
                batch.append(_measurement(m, time, shared))
                if len(batch) >= BATCH:
                    out.write_batch(measurements=batch)
                    counts["measurements"] += len(batch)
                    batch = []
            out.write_batch(measurements=batch)
            counts["measurements"] += len(batch)
            verdicts = [_verdict(v, time, shared) for v in stored_records(db, "verdicts")]
            heartbeats = [_heartbeat(h, time, shared) for h in stored_records(db, "heartbeats")]
            for i in range(0, max(len(verdicts), len(heartbeats)), BATCH):
                out.write_batch(
                    verdicts=verdicts[i : i + BATCH], heartbeats=heartbeats[i : i + BATCH]
                )
            counts["verdicts"], counts["heartbeats"] = len(verdicts), len(heartbeats)
            events = [time.event(event_from_dict(e)) for e in stored_records(db, "events")]
            out.write_events(events)
            counts["events"] = len(events)
    finally:
        out.close()
    return counts


def origin_of(start: datetime | None) -> datetime:
    """The scenario's t=0 (a replay of real events has one; else the Unix epoch's 2022)."""
    return start if start is not None else datetime(2022, 1, 1, tzinfo=UTC)
