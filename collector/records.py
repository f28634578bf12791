"""Plain records shared by the stores, the query API and the anomaly module.

The anomaly module reads time-bucketed aggregates (never raw rows) and writes events; both stores
(InfluxDB, SQLite) produce and keep exactly these shapes, so detection is pure code over them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class VerdictBucket:
    """Verdict counts of one (cc, asn, network, target) in one time bucket."""

    cc: str
    asn: int
    network: str
    target: str
    category: str  # "platform" | "control" | "other"
    start: datetime  # bucket start, UTC
    accessible: int = 0
    blocked: int = 0
    offline: int = 0
    inconclusive: int = 0
    probes: int = 0  # distinct probes that reported a verdict in the bucket
    methods: dict[str, int] = field(default_factory=dict)  # blocked verdicts by method
    reasons: dict[str, int] = field(default_factory=dict)  # blocked verdicts by reason

    @property
    def total(self) -> int:
        return self.accessible + self.blocked + self.offline + self.inconclusive


@dataclass(frozen=True, slots=True)
class HeartbeatBucket:
    """Probes heard from in one (cc, asn, network) in one time bucket."""

    cc: str
    asn: int
    network: str
    start: datetime
    probes: int  # distinct probes whose heartbeat is stamped in this bucket
    heartbeats: int


class EventKind(StrEnum):
    SHUTDOWN = "shutdown"
    BLOCKING = "blocking"
    PLATFORM_OUTAGE = "platform_outage"
    THROTTLING = "throttling"


class EventState(StrEnum):
    OPEN = "open"
    UPDATED = "updated"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Scope:
    cc: str
    asn: int | None = None  # None: every ASN of the country
    network: str | None = None  # None: every network type
    probes: int = 0  # how many probes the evidence comes from


@dataclass(frozen=True, slots=True)
class Event:
    """An anomaly: what, where, since when, how sure, on what evidence."""

    id: str
    kind: EventKind
    scope: Scope
    target: str | None  # None for a shutdown (every target)
    method: str | None  # blocking method (dns, tcp, tls, http, throttled)
    start: datetime
    end: datetime | None  # None while ongoing
    confidence: float
    state: EventState
    evidence: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None
