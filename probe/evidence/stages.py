"""Typed evidence, one frozen record per test stage, flattened to the wire's details keys.

``probe/steps.py`` builds them and stores ``to_dict()`` as a Measurement's ``details``; the verdict
(probe/layers.py, probe/findings.py) reads them back with ``from_dict`` instead of string keys.
The keys are the wire format (docs/method.md lists them); a field added here is a key added there.
Modelled on OONI's ``model.ArchivalTCPConnectResult`` / Web Connectivity ``TestKeys``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from probe.evidence.flat import OMIT_WHEN_NONE, Flat

# DNS transports a censor on the path cannot forge unseen: DoH (our probe's), and DoH3, DoT and
# DoQ (df-002 engines of OONI's probe). UDP and TCP to any resolver cross the censor in the clear.
ENCRYPTED_TRANSPORTS = frozenset({"doh", "doh3", "dot", "doq"})


@dataclass(frozen=True, slots=True)
class DnsEvidence(Flat):
    """One resolver's answer for one name (``dns_*``)."""

    PREFIX = "dns"
    query: str = ""
    resolver: str = ""  # label: "IP:PORT", "tcp://IP:PORT" or the DoH URL
    transport: str = ""  # "udp" | "tcp" | "doh" ("tcp,udp" after a truncation fallback)
    system: bool = False
    primary: bool = False
    rcode: str | None = None
    answers: tuple[str, ...] = ()
    extra_answers: tuple[tuple[str, ...], ...] = ()
    bogons: tuple[str, ...] = ()
    blockpage: tuple[str, ...] = ()
    consistency: str = "unknown"
    t: float = 0.0
    failure: str | None = None
    failure_raw: str | None = None
    host: bool | None = field(default=None, metadata=OMIT_WHEN_NONE)  # an app's extra host
    injected_genuine: bool | None = field(default=None, metadata=OMIT_WHEN_NONE)

    @property
    def encrypted(self) -> bool:
        """Asked over an encrypted transport: the only kind of resolver whose answer can vouch
        for another's (a cleartext query crosses the same censor, who may forge it too)."""
        return self.transport.split(",")[0] in ENCRYPTED_TRANSPORTS

    @property
    def identity(self) -> tuple[str, str]:
        """A resolver is its address, port and transport (the label holds address and port)."""
        transport = self.transport.split(",")[0]
        if transport in {"udp", "tcp"} and not self.resolver.startswith("tcp://"):
            transport = "udp"  # a UDP resolver that fell back to TCP is still that resolver
        return (self.resolver, transport)


@dataclass(frozen=True, slots=True)
class ControlEvidence(Flat):
    """The control endpoint's view, on the primary DNS measurement (``control_*``)."""

    PREFIX = "control"
    addresses: tuple[str, ...] = ()
    reachable: bool | None = None  # None: no view (no endpoint, or it refused every address)
    error: str | None = None
    result: dict[str, Any] | None = None  # probe.evidence.ControlResult.to_dict()


@dataclass(frozen=True, slots=True)
class InjectionEvidence(Flat):
    """The silent-host probe (``inj_*``): any answer from a host that runs no resolver."""

    PREFIX = "inj"
    query: str = ""
    address: str | None = None
    answers: tuple[tuple[str, ...], ...] = ()
    ttls: tuple[int, ...] = ()
    raw_error: str | None = None
    t: float = 0.0
    failure: str | None = None
    failure_raw: str | None = None
    genuine: bool | None = field(default=None, metadata=OMIT_WHEN_NONE)


@dataclass(frozen=True, slots=True)
class TcpEvidence(Flat):
    """One TCP connect (``tcp_*``)."""

    PREFIX = "tcp"
    address: str = ""
    port: int = 0
    address_source: str = "primary"  # "primary" | "control_resolver" | "control_endpoint"
    t: float = 0.0
    failure: str | None = None
    failure_raw: str | None = None
    url_port: bool | None = field(default=None, metadata=OMIT_WHEN_NONE)  # the target URL's port


@dataclass(frozen=True, slots=True)
class TlsEvidence(Flat):
    """One handshake with the target's SNI, and one with a control SNI (``tls_*``)."""

    PREFIX = "tls"
    address: str = ""
    sni: str = ""
    stage: str = "connect"  # "connect" | "handshake" | "done"
    version: str | None = None
    issuer: str | None = None
    subject: str | None = None
    leaf_sha256: str | None = None
    interception_ca: str | None = None
    verify_code: int | None = None
    chain_trusted: bool | None = None
    t: float = 0.0
    failure: str | None = None
    failure_raw: str | None = None
    control_sni: str | None = None
    control_failure: str | None = None  # "ok", a failure, or None (not tried)


@dataclass(frozen=True, slots=True)
class HttpEvidence(Flat):
    """One GET, redirects followed (``http_*``), and its page comparison (``http_diff_*``)."""

    PREFIX = "http"
    url: str = ""
    address: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    header_names: tuple[str, ...] = ()
    title: str | None = None
    body_length: int = 0
    body_sha256: str | None = None
    body_truncated: bool = False
    blockpage: str | None = None
    redirects: tuple[str, ...] = ()
    final_url: str | None = None
    t: float = 0.0
    t_first_byte: float | None = None
    failure: str | None = None
    failure_raw: str | None = None
    diff_reference: str | None = field(default=None, metadata=OMIT_WHEN_NONE)
    diff_differs: bool | None = field(default=None, metadata=OMIT_WHEN_NONE)
    diff_status_match: bool | None = field(default=None, metadata=OMIT_WHEN_NONE)
    diff_body_proportion: float | None = field(default=None, metadata=OMIT_WHEN_NONE)
    diff_title_match: bool | None = field(default=None, metadata=OMIT_WHEN_NONE)
    diff_headers_match: bool | None = field(default=None, metadata=OMIT_WHEN_NONE)

    @property
    def secure(self) -> bool:
        return self.url.startswith("https:")


@dataclass(frozen=True, slots=True)
class ThroughputEvidence(Flat):
    """The HTTPS GET's transfer rate against the controls' (``tput_*``)."""

    PREFIX = "tput"
    url: str = ""
    bytes: int = 0
    seconds: float = 0.0
    bps: float | None = None
    method: str = "transfer"  # "transfer" | "handshake"
    tls_t: float | None = None
    control_bps: float | None = None
    comparable: bool = False
    failure: str | None = None
    failure_raw: str | None = None
