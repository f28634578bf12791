"""Storage back-ends behind one interface: SQLite (embedded default) and InfluxDB."""

from collector.store.base import (
    MeasurementPage,
    MeasurementQuery,
    ProbeRecord,
    RecordProblem,
    Store,
    StoreConflictError,
    StoreError,
    StoreRefusedError,
    StoreUnavailableError,
    StoreUrlError,
    WriteResult,
)
from collector.store.buckets import MeasurementBucket
from collector.store.url import open_store

__all__ = [
    "MeasurementBucket",
    "MeasurementPage",
    "MeasurementQuery",
    "ProbeRecord",
    "RecordProblem",
    "Store",
    "StoreConflictError",
    "StoreError",
    "StoreRefusedError",
    "StoreUnavailableError",
    "StoreUrlError",
    "WriteResult",
    "open_store",
]
