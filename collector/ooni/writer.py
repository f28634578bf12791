"""Imported OONI measurements into the collector's store, in batches, idempotently.

Ids are deterministic, and both back-ends store a record id once (SQLite ``INSERT OR IGNORE``,
InfluxDB's series key + timestamp), so importing a file twice stores each measurement once:
the second time every record counts as a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collector.ooni.evidence import Imported
from collector.store.base import Store
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
    _verdicts: list[Verdict] = field(default_factory=list)

    def add(self, imported: Imported, verdict: Verdict) -> None:
        self._measurements.extend(imported.measurements)
        self._verdicts.append(verdict)
        if len(self._verdicts) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self._verdicts:
            return
        result = self.store.write_batch(measurements=self._measurements, verdicts=self._verdicts)
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self._measurements, self._verdicts = [], []
