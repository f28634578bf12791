"""Storage back-ends behind one interface: SQLite (embedded default) and InfluxDB."""

from collector.store.base import (
    Enrolment,
    MeasurementPage,
    MeasurementQuery,
    OutcomeQuery,
    ProbeRecord,
    RecordProblem,
    Store,
    StoreConflictError,
    StoreError,
    StoreMissingError,
    StoreRefusedError,
    StoreUnavailableError,
    StoreUrlError,
    WriteResult,
)
from collector.store.buckets import MeasurementBucket
from collector.store.url import open_store

__all__ = [
    "Enrolment",
    "MeasurementBucket",
    "MeasurementPage",
    "MeasurementQuery",
    "OutcomeQuery",
    "ProbeRecord",
    "RecordProblem",
    "Store",
    "StoreConflictError",
    "StoreError",
    "StoreMissingError",
    "StoreRefusedError",
    "StoreUnavailableError",
    "StoreUrlError",
    "WriteResult",
    "open_store",
]
