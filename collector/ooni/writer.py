"""Imported OONI measurements into the collector's store, in batches, idempotently.

Ids are deterministic, and both back-ends store a record id once (SQLite ``INSERT OR IGNORE``,
InfluxDB's series key + timestamp), so importing a file twice stores each measurement once:
the second time every record counts as a duplicate.

Into SQLite each record is made its row (``sqlite_rows.measurement_row``: its columns and its
JSON text) as it is added and the record itself let go, so a batch holds rows (strings and
numbers), not thousands of live records and details dicts; the rows are what ``write_batch``
would have made of them (``SqliteStore.write_rows``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.ooni.evidence import Imported
from collector.store.base import Store
from collector.store.sqlite import SqliteStore
from collector.store.sqlite_rows import measurement_row
from probe.model import Measurement, Verdict

BATCH = 500  # OONI measurements per write (about 3,000 records)


@dataclass
class StoreWriter:
    """Buffers imported measurements and their verdicts; ``flush`` writes one batch."""

    store: Store
    batch: int = BATCH
    accepted: int = 0
    duplicates: int = 0
    _measurements: list[Measurement] = field(default_factory=list)
    _rows: list[tuple[Any, ...]] = field(default_factory=list)
    _verdicts: list[Verdict] = field(default_factory=list)

    def add(self, imported: Imported, verdict: Verdict) -> None:
        if isinstance(self.store, SqliteStore):
            self._rows += map(measurement_row, imported.measurements)
        else:
            self._measurements.extend(imported.measurements)
        self._verdicts.append(verdict)
        if len(self._verdicts) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self._verdicts:
            return
        store = self.store
        if isinstance(store, SqliteStore):
            result = store.write_rows(self._rows, verdicts=self._verdicts)
        else:
            result = store.write_batch(measurements=self._measurements, verdicts=self._verdicts)
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self._measurements, self._rows, self._verdicts = [], [], []
