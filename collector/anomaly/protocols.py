"""What the anomaly module needs from a store: aggregates in, events out.

Both collector stores (SQLite, InfluxDB) implement these methods; the module depends on this
protocol only, so detection and lifecycle are tested against an in-memory store
(``tests/support/memory_store.py``) as pure logic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from collector.records import Event, HeartbeatBucket, VerdictBucket
from collector.store.columns import HeartbeatColumns, VerdictColumns


class EventSource(Protocol):
    """Reads time-bucketed aggregates and the events already written."""

    def verdict_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[VerdictBucket]: ...

    def heartbeat_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[HeartbeatBucket]: ...

    def events(self, *, since: datetime, until: datetime, cc: str | None = None) -> list[Event]: ...


@runtime_checkable
class ColumnSource(Protocol):
    """A store that reads its rollups as arrays (collector/store/columns.py); None: not for
    this range or step (then the buckets are read)."""

    def rollup_columns(
        self, *, since: datetime, until: datetime, step_s: int
    ) -> tuple[VerdictColumns, HeartbeatColumns] | None: ...


class EventSink(Protocol):
    """Keeps events: idempotent by id, the latest state wins."""

    def write_events(self, events: list[Event]) -> None: ...


class AnomalyStore(EventSource, EventSink, Protocol):
    """A store the watcher both reads and writes."""
