"""What the anomaly module needs from a store: aggregates in, events out.

Both collector stores (SQLite, InfluxDB) implement these methods; the reads and the event sink
are declared once, in the store's interface (collector/store/base.py), and named here. The
module depends on these protocols only, so detection and lifecycle are tested against an
in-memory store (``tests/support/memory_store.py``) as pure logic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from collector.store.base import EventSink, EventSource
from collector.store.columns import HeartbeatColumns, VerdictColumns

__all__ = ["AnomalyStore", "ColumnSource", "EventSink", "EventSource"]


@runtime_checkable
class ColumnSource(Protocol):
    """A store that reads its rollups as arrays (collector/store/columns.py); None: not for
    this range or step (then the buckets are read)."""

    def rollup_columns(
        self, *, since: datetime, until: datetime, step_s: int
    ) -> tuple[VerdictColumns, HeartbeatColumns] | None: ...


class AnomalyStore(EventSource, EventSink, Protocol):
    """A store the watcher both reads and writes."""
