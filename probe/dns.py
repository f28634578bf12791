"""DNS measurement: A and AAAA lookups over UDP, TCP and DNS over HTTPS (RFC 8484).

UDP queries keep listening for a short window after the first answer: an on-path injector races
the real resolver, so two different answers to one query are evidence of injection (Duan et al.,
"Hold-On: Protecting Against On-Path DNS Poisoning", 2012). Library errors become failure strings
in ``_map_exception`` only; a failed lookup is data, never an escaping exception.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import httpx

from probe.bogons import Network, is_bogon

# Re-exported until probe/findings.py imports it from probe.consistency (issue 16).
from probe.consistency import consistency_of
from probe.errors import map_os_error, raw_text
from probe.failures import Failure
from probe.http import map_http_exception

RESOLV_CONF = Path("/etc/resolv.conf")  # the system's resolvers (read at the edge, per round)
INJECTION_WINDOW_S = 0.25  # keep reading UDP this long after the first answer
MAX_DOH_BYTES = 65_535  # a DNS message is at most 64 KiB (RFC 8484 section 6)
Transport = Literal["udp", "tcp", "doh"]


class ResolverSpecError(ValueError):
    """A resolver address that cannot be used; the message says what is accepted."""


@dataclass(frozen=True, slots=True)
class Resolver:
    """Where to send queries: ``udp`` (falls back to TCP when truncated), ``tcp`` or ``doh``."""

    transport: Transport
    address: str  # IP for udp/tcp, the URL for doh
    port: int = 53
    system: bool = False

    @property
    def identity(self) -> tuple[str, str, int]:
        """Who answers: transport, address and port (where it was configured does not count)."""
        address = self.address
        if self.transport != "doh":
            address = str(ipaddress.ip_address(address))  # one spelling per IPv6 address
        return (self.transport, address, self.port)

    @property
    def label(self) -> str:
        if self.transport == "doh":
            return self.address
        host = f"[{self.address}]" if ":" in self.address else self.address
        prefix = "tcp://" if self.transport == "tcp" else ""
        return f"{prefix}{host}:{self.port}"


def parse_resolver(text: str, *, system: bool = False) -> Resolver:
    """Parse ``IP``, ``IP:PORT``, ``[IPv6]:PORT``, ``tcp://IP[:PORT]`` or ``https://...``."""
    spec = text.strip()
    if spec.startswith("https://"):
        if not urlsplit(spec).hostname:
            raise ResolverSpecError(f"resolver {text!r}: DoH URL has no host")
        return Resolver("doh", spec, 443, system)
    transport: Transport = "udp"
    if spec.startswith("tcp://"):
        transport, spec = "tcp", spec[len("tcp://") :]
    host, port = spec, 53
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        if rest:
            port = _port(text, rest.removeprefix(":"))
    elif spec.count(":") == 1:
        host, raw_port = spec.split(":")
        port = _port(text, raw_port)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ResolverSpecError(
            f"resolver {text!r} is not an IP address; use IP, IP:PORT or https://... (DoH)"
        ) from None
    return Resolver(transport, host, port, system)


def _port(text: str, raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ResolverSpecError(f"resolver {text!r}: bad port {raw!r}; use 1-65535")
    return int(raw)


def system_resolvers(resolv_conf: Path) -> list[Resolver]:
    """The ``nameserver`` lines of a resolv.conf (read at the edge, once per round)."""
    try:
        lines = resolv_conf.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                found.append(parse_resolver(fields[1].split("%")[0], system=True))
            except ResolverSpecError:
                continue
    return found


@dataclass(frozen=True, slots=True)
class Lookup:
    """What one resolver said about one name (A and AAAA together)."""

    resolver: Resolver
    name: str
    rcode: str | None = None
    addresses: tuple[str, ...] = ()
    failure: str | None = None
    failure_raw: str | None = None
    t: float = 0.0  # seconds until both answers (or the failure)
    extra_answers: tuple[tuple[str, ...], ...] = ()  # further, different UDP answers
    transports: tuple[str, ...] = field(default=())


async def lookup(name: str, resolver: Resolver, *, timeout: float) -> Lookup:
    """Resolve ``name`` (A and AAAA concurrently) at ``resolver``; failures are recorded."""
    start = time.monotonic()
    results = await asyncio.gather(
        _query(name, dns.rdatatype.A, resolver, timeout),
        _query(name, dns.rdatatype.AAAA, resolver, timeout),
    )
    elapsed = time.monotonic() - start
    (a_resp, a_extra, a_fail, a_raw, a_tr), (aaaa_resp, aaaa_extra, _, _, aaaa_tr) = results
    if a_resp is None:
        return Lookup(resolver, name, failure=a_fail, failure_raw=a_raw, t=elapsed)
    rcode = dns.rcode.to_text(a_resp.rcode())
    addresses = _addresses(a_resp) + (_addresses(aaaa_resp) if aaaa_resp is not None else ())
    extra = tuple(dict.fromkeys(a for a in (_addresses(r) for r in (*a_extra, *aaaa_extra)) if a))
    failure = _rcode_failure(a_resp.rcode())
    if failure is None and not addresses:
        failure = Failure.DNS_NO_ANSWER
    return Lookup(
        resolver,
        name,
        rcode=rcode,
        addresses=addresses,
        failure=failure,
        t=elapsed,
        extra_answers=tuple(e for e in extra if set(e) != set(_addresses(a_resp))),
        transports=tuple(sorted({a_tr, aaaa_tr})),
    )


def _addresses(response: dns.message.Message) -> tuple[str, ...]:
    found: list[str] = []
    for rrset in response.answer:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            found.extend(rdata.address for rdata in rrset)
    return tuple(found)


_RCODE_FAILURES: dict[int, str | None] = {
    dns.rcode.NOERROR: None,
    dns.rcode.NXDOMAIN: Failure.DNS_NXDOMAIN,
    dns.rcode.SERVFAIL: Failure.DNS_SERVFAIL,
    dns.rcode.REFUSED: Failure.DNS_REFUSED,
}


def _rcode_failure(rcode: int) -> str | None:
    return _RCODE_FAILURES.get(int(rcode), Failure.DNS_MALFORMED)


QueryResult = tuple[
    dns.message.Message | None, list[dns.message.Message], str | None, str | None, str
]


async def _query(
    name: str, rdtype: dns.rdatatype.RdataType, resolver: Resolver, timeout: float
) -> QueryResult:
    query = dns.message.make_query(name, rdtype)
    transport = resolver.transport
    try:
        async with asyncio.timeout(timeout):
            if transport == "udp":
                responses = await _udp_exchange(query, resolver)
                if responses[0].flags & dns.flags.TC:
                    transport = "tcp"
                    return (await _tcp_exchange(query, resolver), [], None, None, transport)
                return responses[0], responses[1:], None, None, transport
            if transport == "tcp":
                return await _tcp_exchange(query, resolver), [], None, None, transport
            return await _doh_exchange(query, resolver, timeout), [], None, None, transport
    except Exception as exc:  # every failure becomes data through the one mapping
        return None, [], _map_exception(exc), raw_text(exc), transport


_DNS_ERRORS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((TimeoutError, dns.exception.Timeout, httpx.TimeoutException), Failure.DNS_TIMEOUT),
    (asyncio.IncompleteReadError, Failure.EOF),
    ((dns.exception.DNSException, ValueError), Failure.DNS_MALFORMED),
)


def _map_exception(exc: BaseException) -> str:
    """The one place DNS-layer exceptions become failure strings, most specific first."""
    for kinds, failure in _DNS_ERRORS:
        if isinstance(exc, kinds):
            return failure
    if isinstance(exc, httpx.HTTPError):
        return map_http_exception(exc)  # DoH: the HTTP layer's own mapping
    return map_os_error(exc) or Failure.UNKNOWN


class _Collector(asyncio.DatagramProtocol):
    """Collects every response to one query: the first, and any that race in after it."""

    def __init__(self, query: dns.message.Message) -> None:
        self.query = query
        self.responses: list[dns.message.Message] = []
        self.first = asyncio.get_running_loop().create_future()
        self.error: Exception | None = None

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            response = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return  # garbage on our port is not an answer to our query
        if not self.query.is_response(response):
            return
        self.responses.append(response)
        if not self.first.done():
            self.first.set_result(None)

    def error_received(self, exc: Exception) -> None:
        if not self.first.done():
            self.first.set_exception(exc)


async def _udp_exchange(
    query: dns.message.Message, resolver: Resolver
) -> list[dns.message.Message]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Collector(query), remote_addr=(resolver.address, resolver.port)
    )
    try:
        transport.sendto(query.to_wire())
        await protocol.first
        await asyncio.sleep(INJECTION_WINDOW_S)
        return list(protocol.responses)
    finally:
        transport.close()


async def _tcp_exchange(query: dns.message.Message, resolver: Resolver) -> dns.message.Message:
    reader, writer = await asyncio.open_connection(resolver.address, resolver.port)
    try:
        wire = query.to_wire()
        writer.write(len(wire).to_bytes(2, "big") + wire)
        await writer.drain()
        size = int.from_bytes(await reader.readexactly(2), "big")
        response = dns.message.from_wire(await reader.readexactly(size))
        if not query.is_response(response):
            raise ValueError("TCP answer does not match the query")
        return response
    finally:
        writer.close()


async def _doh_exchange(
    query: dns.message.Message, resolver: Resolver, timeout: float
) -> dns.message.Message:
    query.id = 0  # RFC 8484 section 4.1: id 0 for cache friendliness
    headers = {"content-type": "application/dns-message", "accept": "application/dns-message"}
    async with (
        httpx.AsyncClient(timeout=timeout, trust_env=False) as client,
        client.stream("POST", resolver.address, content=query.to_wire(), headers=headers) as reply,
    ):
        if reply.status_code != 200:
            raise ValueError(f"DoH server answered HTTP {reply.status_code}")
        body = b""
        async for chunk in reply.aiter_bytes():
            body += chunk
            if len(body) > MAX_DOH_BYTES:
                raise ValueError("DoH answer larger than a DNS message can be")
    response = dns.message.from_wire(body)
    if not query.is_response(response):
        raise ValueError("DoH answer does not match the query")
    return response


# ----- classification (pure) -----


@dataclass(frozen=True, slots=True)
class DnsFindings:
    """What an answer means: the outcome string and the evidence behind it."""

    outcome: str
    bogons: tuple[str, ...] = ()
    blockpage_addresses: tuple[str, ...] = ()
    consistency: str = "unknown"  # consistent | inconsistent | unknown (no control answer)


def classify(
    found: Lookup,
    *,
    allow: Iterable[Network] = (),
    blockpage_addresses: frozenset[str] = frozenset(),
    control_addresses: frozenset[str] = frozenset(),
    name_gone: bool = False,
) -> DnsFindings:
    """Judge one lookup: injected, bogon, known blockpage address, or inconsistent with control.

    ``control_addresses``: what independent views answered (the control endpoint's, encrypted
    resolvers'); ``name_gone``: the control endpoint finds no address for the name at all."""
    if found.failure is not None:
        return DnsFindings(found.failure)
    allowed = tuple(allow)
    bogons = tuple(a for a in found.addresses if is_bogon(a, allow=allowed))
    blockpages = tuple(a for a in found.addresses if a in blockpage_addresses)
    consistency = consistency_of(found.addresses, control_addresses, name_gone=name_gone)
    if found.extra_answers:
        outcome: str = Failure.DNS_INJECTED
    elif bogons:
        outcome = Failure.DNS_BOGON
    elif blockpages:
        outcome = Failure.DNS_BLOCKPAGE
    elif consistency == "inconsistent":
        outcome = Failure.DNS_INCONSISTENT
    else:
        outcome = "ok"
    return DnsFindings(outcome, bogons, blockpages, consistency)
