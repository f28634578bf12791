"""Typed evidence: each test stage's record, and the control endpoint's result, defined once.

``stages`` holds one frozen record per stage (DNS, control view, injection, TCP, TLS, HTTP,
throughput), flattened to the wire's details keys; ``control`` holds ``ControlResult``, what the
collector's control endpoint answers; ``flat`` is the reader both use.
"""

from probe.evidence.control import (
    CONTROL_SCHEMA,
    ControlResult,
    ControlResultError,
    RefusedAddress,
)
from probe.evidence.flat import EvidenceError
from probe.evidence.stages import (
    ENCRYPTED_TRANSPORTS,
    ControlEvidence,
    DnsEvidence,
    HttpEvidence,
    InjectionEvidence,
    TcpEvidence,
    ThroughputEvidence,
    TlsEvidence,
)

__all__ = [
    "CONTROL_SCHEMA",
    "ENCRYPTED_TRANSPORTS",
    "ControlEvidence",
    "ControlResult",
    "ControlResultError",
    "DnsEvidence",
    "EvidenceError",
    "HttpEvidence",
    "InjectionEvidence",
    "RefusedAddress",
    "TcpEvidence",
    "ThroughputEvidence",
    "TlsEvidence",
]
