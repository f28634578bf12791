"""The wire model: measurements, verdicts and heartbeats as the probe sends them (versioned).

These dataclasses are the one definition of what crosses the probe -> collector boundary. They are
plain data: ``to_dict`` gives the JSON object; the collector reads one back strictly
(``collector/schema.py``). All timestamps are timezone-aware UTC; on the wire they are RFC 3339
strings ending in ``Z``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

MEASUREMENT_SCHEMA = "tyndau.measurement/1"
VERDICT_SCHEMA = "tyndau.verdict/1"
HEARTBEAT_SCHEMA = "tyndau.heartbeat/1"
BATCH_SCHEMA = "tyndau.batch/1"


class TestKind(StrEnum):
    """What one measurement tested."""

    __test__ = False  # not a pytest test class

    DNS = "dns"
    DNS_INJECTION = "dns_injection"
    TCP = "tcp"
    TLS = "tls"
    HTTP = "http"
    THROUGHPUT = "throughput"


class Category(StrEnum):
    """A target is a platform under test, a control that should always work, or another site.

    ``other`` is a site that is neither: an imported OONI measurement of a URL that no target of
    the list names (a test-list entry, a news site). It is judged and detected like a platform.
    """

    PLATFORM = "platform"
    CONTROL = "control"
    OTHER = "other"


class VerdictKind(StrEnum):
    ACCESSIBLE = "accessible"
    BLOCKED = "blocked"
    OFFLINE = "offline"
    INCONCLUSIVE = "inconclusive"


class BlockMethod(StrEnum):
    DNS = "dns"
    TCP = "tcp"
    TLS = "tls"
    HTTP = "http"
    THROTTLED = "throttled"


class Reason(StrEnum):
    """The finer reason behind a ``blocked`` verdict: ``<method>.<what was seen>``."""

    DNS_NXDOMAIN = "dns.nxdomain"
    DNS_REFUSED = "dns.refused"
    DNS_SERVFAIL = "dns.servfail"
    DNS_TIMEOUT = "dns.timeout"
    DNS_BOGON = "dns.bogon"
    DNS_BLOCKPAGE = "dns.blockpage"
    DNS_INJECTED = "dns.injected"
    DNS_INCONSISTENT = "dns.inconsistent"
    DNS_NO_ANSWER = "dns.no_answer"  # NOERROR without an address, where others get one
    TCP_RESET = "tcp.reset"
    TCP_TIMEOUT = "tcp.timeout"
    TCP_REFUSED = "tcp.refused"
    TLS_RESET = "tls.reset"
    TLS_TIMEOUT = "tls.timeout"
    TLS_MITM = "tls.mitm"
    TLS_CERT = "tls.certificate"
    HTTP_BLOCKPAGE = "http.blockpage"
    HTTP_RESET = "http.reset"
    HTTP_TIMEOUT = "http.timeout"
    HTTP_DIFF = "http.diff"
    THROTTLED = "throttled.bandwidth"


def utcnow() -> datetime:
    return datetime.now(UTC)


_TIMESPECS = {"microseconds": "%Y-%m-%dT%H:%M:%S.%fZ", "seconds": "%Y-%m-%dT%H:%M:%SZ"}


def format_time(
    at: datetime, *, timespec: Literal["microseconds", "seconds"] = "microseconds"
) -> str:
    """RFC 3339 UTC ending in ``Z``: the only time format on the wire and in stores, with
    microseconds; ``timespec="seconds"`` shortens it for a link a person reads."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: all tyndau timestamps are UTC-aware")
    return at.astimezone(UTC).strftime(_TIMESPECS[timespec])


def format_minute(at: datetime) -> str:
    """``2022-01-05 11:00``: the one way a time is shown to people (pages, charts, alerts, the
    command line), in UTC; a naive datetime is taken as UTC."""
    return (at.astimezone(UTC) if at.tzinfo else at).strftime("%Y-%m-%d %H:%M")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; a timestamp without an offset is rejected, not guessed."""
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset; send e.g. 2022-01-05T10:00:00Z")
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Vantage:
    """Where a probe stands: country and ASN are the finest location ever recorded."""

    cc: str  # ISO 3166-1 alpha-2, "ZZ" when unknown
    asn: int  # 0 when unknown
    network: str  # "mobile" | "fixed" | free text chosen by the volunteer


@dataclass(frozen=True, slots=True)
class TargetRef:
    name: str
    domain: str
    category: Category


@dataclass(frozen=True, slots=True)
class Measurement:
    id: str
    probe_id: str
    probe_version: str
    vantage: Vantage
    target: TargetRef
    test: TestKind
    started_at: datetime
    duration_ms: float
    outcome: str  # "ok" or a probe.failures.Failure value
    round_id: str
    details: dict[str, Any] = field(default_factory=dict)
    schema: str = MEASUREMENT_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = format_time(self.started_at)
        return data


@dataclass(frozen=True, slots=True)
class Verdict:
    id: str
    probe_id: str
    vantage: Vantage
    target: TargetRef
    round_id: str
    at: datetime
    verdict: VerdictKind
    method: BlockMethod | None
    reason: Reason | None
    confidence: float  # 0..1
    measurement_ids: tuple[str, ...]
    explanation: str = ""
    schema: str = VERDICT_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = format_time(self.at)
        data["measurement_ids"] = list(self.measurement_ids)
        return data


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Sent every minute so that silence itself is a signal."""

    id: str
    probe_id: str
    probe_version: str
    vantage: Vantage
    at: datetime
    uptime_s: float
    outbox_depth: int
    dropped: dict[str, int] = field(default_factory=dict)  # records dropped by the disk cap
    schema: str = HEARTBEAT_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = format_time(self.at)
        return data
