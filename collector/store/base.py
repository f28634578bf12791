"""The one storage interface of the collector, implemented by SQLite and InfluxDB back-ends.

The Store is synchronous on purpose: both back-ends are blocking clients (stdlib sqlite3, httpx /
influxdb-client), the anomaly watcher and CLI tools call it from plain code, and the async API
runs each call in Starlette's thread pool, so one slow write never stalls the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from collector.records import Event, HeartbeatBucket, VerdictBucket
from collector.store.buckets import MeasurementBucket
from probe.model import Heartbeat, Measurement, Verdict


class StoreError(Exception):
    """Base of the store errors."""


class StoreUnavailableError(StoreError):
    """The back-end cannot be reached or refused a write: the caller should retry later."""


class StoreUrlError(StoreError, ValueError):
    """A store URL is malformed; the message names the accepted forms."""


class StoreMissingError(StoreError):
    """No store exists where one was to be opened (a mistyped path is never created)."""


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """Why one record of a batch was refused: its group (``measurements``...) and index there."""

    group: str
    index: int
    message: str
    kind: str


class StoreRefusedError(StoreError):
    """The back-end refuses the batch as malformed: retrying the same records cannot succeed.

    ``problems`` names the records at fault when the store knows them (empty: the whole batch).
    """

    def __init__(self, message: str, problems: Sequence[RecordProblem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class StoreConflictError(StoreRefusedError):
    """Records reuse an id that belongs to other content (or another probe): nothing stored."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a batch write did: records newly stored and records already present (re-sent)."""

    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """One registered probe. No address of any kind is ever part of it."""

    probe_id: str
    name: str
    token_hash: str  # hex sha256 of the bearer token
    created: datetime


@dataclass(frozen=True, slots=True)
class Enrolment:
    """An enrolment token (stored only as its hash): lets volunteers register up to
    ``max_uses`` probes before ``expires``, so the operator token never leaves the operator."""

    enrolment_id: str
    note: str
    token_hash: str
    max_uses: int
    uses: int
    expires: datetime
    created: datetime
    revoked: bool = False

    def usable(self, now: datetime) -> bool:
        return not self.revoked and self.uses < self.max_uses and now < self.expires


@dataclass(frozen=True, slots=True)
class MeasurementQuery:
    """Filters for raw measurement paging; ``cursor`` is the opaque value of a previous page."""

    since: datetime
    until: datetime
    cc: str | None = None
    asn: int | None = None
    network: str | None = None
    target: str | None = None
    test: str | None = None
    probe_id: str | None = None
    cursor: str | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class MeasurementPage:
    """Raw measurements (the wire ``to_dict`` form) in (started_at, id) order."""

    items: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class OutcomeQuery:
    """Which measurement outcomes ``measurement_buckets`` counts: [since, until) in buckets of
    ``step_s``, optionally one country and one test (None: all)."""

    since: datetime
    until: datetime
    step_s: int
    cc: str | None = None
    test: str | None = None


class EventSource(Protocol):
    """Reads time-bucketed aggregates and the events already written: what the anomaly module
    reads from a store (collector/anomaly/protocols.py)."""

    def verdict_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[VerdictBucket]: ...

    def heartbeat_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[HeartbeatBucket]: ...

    def events(self, *, since: datetime, until: datetime, cc: str | None = None) -> list[Event]: ...


class EventSink(Protocol):
    """Keeps events: idempotent by id, the latest state wins."""

    def write_events(self, events: list[Event]) -> None: ...


class Store(EventSource, EventSink, Protocol):
    """Everything the API, the CLI and the anomaly module need from storage."""

    def write_batch(
        self,
        *,
        measurements: Sequence[Measurement] = (),
        verdicts: Sequence[Verdict] = (),
        heartbeats: Sequence[Heartbeat] = (),
    ) -> WriteResult:
        """Store durably and idempotently by record id; return only once the data is safe."""
        ...

    def measurements(self, query: MeasurementQuery) -> MeasurementPage: ...

    def measurement_buckets(self, query: OutcomeQuery) -> list[MeasurementBucket]:
        """Outcome counts per vantage, target and test in time buckets (timeline by test)."""
        ...

    def day_stamps(self, *, since: datetime, until: datetime) -> dict[int, int]:
        """A stamp per UTC day (key: day start, epoch seconds) that changes whenever a write adds
        records timed in that day; days never written are absent. Readers that cache aggregates
        per day (the anomaly scan) recompute a day only when its stamp differs from theirs."""
        ...

    def add_probe(self, probe: ProbeRecord) -> None: ...

    def probe_by_token_hash(self, token_hash: str) -> ProbeRecord | None: ...

    def add_enrolment(self, enrolment: Enrolment) -> None: ...

    def enrolments(self) -> list[Enrolment]: ...

    def use_enrolment(self, token_hash: str, *, now: datetime) -> Enrolment | None:
        """Count one registration against a usable enrolment token; None when it is unknown,
        revoked, expired or used up (then nothing is counted)."""
        ...

    def revoke_enrolment(self, enrolment_id: str) -> bool:
        """Revoke by id; False when there is no such enrolment."""
        ...

    def publication_secret(self) -> bytes:
        """The collector's secret for published pseudonyms (collector/pseudonym.py): made at the
        first call, then the same for every later call and every process sharing the store."""
        ...

    def ping(self) -> None:
        """Raise StoreUnavailableError when the back-end cannot serve."""
        ...

    def close(self) -> None: ...
