"""The control measurement: the collector tests a listed target from its own side.

Like OONI's web connectivity test helper (https://github.com/ooni/spec/blob/master/backends/
th-001-ooni-test-helper.md), it reports DNS answers, TCP connect, TLS handshake and an HTTP GET
summary, so a probe can tell local interference from the platform's own outage. Only domains in
the configured target list are measured, every stage is pinned to the resolved address (no second
lookup), and no response body is returned: the endpoint is never an open proxy.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import dns.exception
import dns.resolver
import httpx

from probe.failures import Failure
from probe.model import format_time, utcnow
from probe.targets import Target


@dataclass(frozen=True, slots=True)
class Stage:
    """One step's result: ``failure`` is None on success, else a probe.failures string."""

    failure: str | None = None
    t_ms: float = 0.0
    raw: str = ""  # the library's error text, kept apart from the failure string


@dataclass(frozen=True, slots=True)
class ControlResult:
    target: str
    domain: str
    at: str
    addresses: list[str] = field(default_factory=list)
    dns: Stage = field(default_factory=Stage)
    tcp: Stage | None = None
    tls: Stage | None = None
    http: Stage | None = None
    http_status: int | None = None
    http_body_length: int | None = None
    http_body_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ControlConfig:
    timeout_s: float = 5.0
    resolver: str | None = None  # "IP" or "IP:PORT"; None: the host's resolver
    ca_bundle: str | None = None
    http_max_bytes: int = 65_536


def measure(target: Target, config: ControlConfig) -> ControlResult:
    """Measure one listed target; failures are data in the result, never exceptions."""
    at = format_time(utcnow())
    url = urlsplit(target.url)
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses, dns_stage = resolve(target.domain, config)
    result = ControlResult(target.name, target.domain, at, addresses, dns_stage)
    if not addresses:
        return result
    address = addresses[0]
    tcp = _timed(lambda: socket.create_connection((address, port), config.timeout_s).close())
    if tcp.failure is not None:
        return _with(result, tcp=tcp)
    context = tls_context(config)
    tls = None
    if url.scheme == "https":
        tls = _timed(lambda: _handshake(address, port, target.domain, context, config.timeout_s))
        if tls.failure is not None:
            return _with(result, tcp=tcp, tls=tls)
    status, length, digest, http = _http_get(target, address, port, context, config)
    return _with(
        result,
        tcp=tcp,
        tls=tls,
        http=http,
        http_status=status,
        http_body_length=length,
        http_body_sha256=digest,
    )


def resolve(domain: str, config: ControlConfig) -> tuple[list[str], Stage]:
    """A and AAAA answers from the configured resolver (RFC 1035 lookups via dnspython)."""
    resolver = dns.resolver.Resolver(configure=config.resolver is None)
    if config.resolver is not None:
        host, port = split_host_port(config.resolver, default_port=53)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = config.timeout_s
    started = time.perf_counter()
    addresses: list[str] = []
    failure: str | None = None
    raw = ""
    for rdtype in ("A", "AAAA"):
        try:
            addresses += [r.to_text() for r in resolver.resolve(domain, rdtype)]
        except dns.resolver.NoAnswer:
            continue
        except dns.exception.DNSException as exc:
            failure, raw = _dns_failure(exc), str(exc)
            break
    if not addresses and failure is None:
        failure = Failure.DNS_NO_ANSWER.value
    return addresses, Stage(failure, _ms(started), raw)


def tls_context(config: ControlConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.ca_bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def split_host_port(text: str, *, default_port: int) -> tuple[str, int]:
    """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address; ValueError when malformed."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, default_port


def _handshake(
    address: str, port: int, domain: str, context: ssl.SSLContext, timeout_s: float
) -> None:
    with (
        socket.create_connection((address, port), timeout_s) as sock,
        context.wrap_socket(sock, server_hostname=domain),
    ):
        pass


def _http_get(
    target: Target, address: str, port: int, context: ssl.SSLContext, config: ControlConfig
) -> tuple[int | None, int | None, str | None, Stage]:
    url = urlsplit(target.url)
    host = f"[{address}]" if ":" in address else address
    pinned = f"{url.scheme}://{host}:{port}{url.path or '/'}"
    if url.query:
        pinned += f"?{url.query}"
    started = time.perf_counter()
    try:
        with httpx.Client(verify=context, timeout=config.timeout_s, trust_env=False) as client:
            request = client.build_request(
                "GET",
                pinned,
                headers={"Host": target.domain, "User-Agent": "tyndau-control"},
                extensions={"sni_hostname": target.domain},
            )
            response = client.send(request, stream=True)
            try:
                digest = hashlib.sha256()
                length = 0
                for chunk in response.iter_bytes():
                    length += len(chunk)
                    digest.update(chunk)
                    if length >= config.http_max_bytes:
                        break
            finally:
                response.close()
            return response.status_code, length, digest.hexdigest(), Stage(None, _ms(started))
    except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
        return None, None, None, Stage(_transport_failure(exc), _ms(started), str(exc))


def _timed(action: Any) -> Stage:
    started = time.perf_counter()
    try:
        action()
    except (OSError, ssl.SSLError) as exc:
        return Stage(_transport_failure(exc), _ms(started), str(exc))
    return Stage(None, _ms(started))


def _dns_failure(exc: dns.exception.DNSException) -> str:
    """Map dnspython's exceptions to the failure vocabulary, most specific first."""
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return Failure.DNS_NXDOMAIN.value
    if isinstance(exc, dns.resolver.LifetimeTimeout | dns.exception.Timeout):
        return Failure.DNS_TIMEOUT.value
    if isinstance(exc, dns.resolver.NoNameservers):
        return Failure.DNS_SERVFAIL.value
    return Failure.UNKNOWN.value


_TRANSPORT_FAILURES: tuple[tuple[tuple[type[BaseException], ...], Failure], ...] = (
    ((httpx.TimeoutException, TimeoutError), Failure.GENERIC_TIMEOUT),
    ((ConnectionRefusedError,), Failure.CONNECTION_REFUSED),
    ((ConnectionResetError,), Failure.CONNECTION_RESET),
    ((ssl.SSLError,), Failure.SSL_FAILED_HANDSHAKE),
    ((httpx.RemoteProtocolError,), Failure.EOF),
    ((httpx.HTTPError,), Failure.HTTP_INVALID_RESPONSE),
)


def _transport_failure(exc: BaseException) -> str:
    """Map socket, ssl and httpx errors to the failure vocabulary, most specific first."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        text = str(exc).lower()
        if "hostname" in text or "ip address mismatch" in text:
            return Failure.SSL_INVALID_HOSTNAME.value
        if "local issuer" in text or "self-signed" in text or "self signed" in text:
            return Failure.SSL_UNKNOWN_AUTHORITY.value
        return Failure.SSL_INVALID_CERTIFICATE.value
    cause = exc.__context__ if isinstance(exc, httpx.HTTPError) else None
    if cause is not None and not isinstance(exc, httpx.TimeoutException):
        return _transport_failure(cause)
    for kinds, failure in _TRANSPORT_FAILURES:
        if isinstance(exc, kinds):
            return failure.value
    return Failure.UNKNOWN.value


def _with(result: ControlResult, **changes: Any) -> ControlResult:
    return replace(result, **changes)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
