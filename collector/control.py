"""The control measurement: the collector tests a listed target from its own side.

Like OONI's web connectivity test helper (https://github.com/ooni/spec/blob/master/backends/
th-001-ooni-test-helper.md; ooni/probe-cli ``internal/oohelperd`` dials with the probe's own
``netxlite``), it runs the probe's own measurement functions (probe.dns, probe.tcp, probe.tls,
probe.http), so the probe and its control map failures the same way, and answers with the one
control result type, probe.evidence.ControlResult. Only domains in the configured target list are
measured, every stage is pinned to a resolved address (no second lookup), no response body is
returned, and no special-purpose address (RFC 6890, probe/bogons.py) is ever dialled, for the
target or for any redirect hop, unless the operator allows its network (``allow_net``): the
endpoint is never an open proxy into the collector's own network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from probe import dns, http, tcp, tls
from probe.bogons import Network, is_bogon, parse_address
from probe.evidence import ControlResult, RefusedAddress
from probe.failures import Failure
from probe.model import format_time, utcnow
from probe.targets import Target

MAX_PER_FAMILY = 2  # addresses tried per family until one works end to end
SPECIAL_PURPOSE = "special-purpose address (RFC 6890): the control endpoint does not dial it"


@dataclass(frozen=True, slots=True)
class ControlConfig:
    timeout_s: float = 5.0
    resolver: str | None = None  # "IP" or "IP:PORT"; None: the host's resolver (resolv.conf)
    ca_bundle: str | None = None
    http_max_bytes: int = 65_536
    allow_net: tuple[Network, ...] = ()  # special-purpose networks the operator allows (labs)
    resolv_conf: Path = field(default=dns.RESOLV_CONF)


def split_host_port(text: str, *, default_port: int) -> tuple[str, int]:
    """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address; ValueError when malformed."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, default_port


def control_resolver(config: ControlConfig) -> dns.Resolver | None:
    """The configured resolver, else the host's first resolv.conf nameserver."""
    if config.resolver is not None:
        host, port = split_host_port(config.resolver, default_port=53)
        return dns.Resolver("udp", host, port)
    found = dns.system_resolvers(config.resolv_conf)
    return found[0] if found else None


class _Guard:
    """Decides which addresses may be dialled, and remembers what it refused."""

    def __init__(self, config: ControlConfig, resolver: dns.Resolver) -> None:
        self.config = config
        self.resolver = resolver
        self.refused: list[RefusedAddress] = []

    def allowed(self, address: str) -> bool:
        if is_bogon(address, allow=self.config.allow_net):
            if all(r.address != address for r in self.refused):
                self.refused.append(RefusedAddress(address, SPECIAL_PURPOSE))
            return False
        return True

    async def pin(self, host: str) -> str:
        """The address for a redirect hop to ``host``: resolved here, refused when special."""
        candidates: tuple[str, ...] = (host,)
        if parse_address(host) is None:  # a name: resolved here, never by getaddrinfo
            found = await dns.lookup(host, self.resolver, timeout=self.config.timeout_s)
            if found.failure is not None:
                raise http.PinError(found.failure, f"redirect to {host}: {found.failure}")
            candidates = found.addresses
        usable = [a for a in candidates if self.allowed(a)]
        if not usable:
            raise http.AddressRefusedError(f"redirect to {host}: {SPECIAL_PURPOSE}")
        return usable[0]


async def measure(target: Target, config: ControlConfig) -> ControlResult:
    """Measure one listed target; failures are data in the result, never exceptions."""
    base = ControlResult(target.name, target.domain, target.url, format_time(utcnow()))
    resolver = control_resolver(config)
    if resolver is None:
        return replace(base, dns_failure=Failure.DNS_SERVFAIL.value)
    found = await dns.lookup(target.domain, resolver, timeout=config.timeout_s)
    base = replace(base, addresses=found.addresses, dns_failure=found.failure)
    if found.failure is not None:
        return base
    guard = _Guard(config, resolver)
    dialable = _bounded([a for a in found.addresses if guard.allowed(a)])
    if not dialable:
        return replace(base, refused=tuple(guard.refused), tcp_failure=Failure.ADDRESS_REFUSED)
    context = tls.make_context(Path(config.ca_bundle) if config.ca_bundle else None)
    tried: list[ControlResult] = []
    for address in dialable:
        tried.append(await _measure_address(base, target, address, context, config, guard))
        if tried[-1].reachable:
            break
    best = tried[-1] if tried[-1].reachable else tried[0]  # the working one, else the first
    return replace(best, refused=tuple(guard.refused))


async def _measure_address(
    base: ControlResult,
    target: Target,
    address: str,
    context: ssl.SSLContext,
    config: ControlConfig,
    guard: _Guard,
) -> ControlResult:
    """TCP, then TLS (https), then the GET, all through ``address``; stops at the first failure."""
    url = urlsplit(target.url)
    port = url.port or (443 if url.scheme == "https" else 80)
    connected = await tcp.connect(address, port, timeout=config.timeout_s)
    result = replace(base, tcp_address=address, tcp_failure=connected.failure)
    if connected.failure is not None:
        return result
    if url.scheme == "https":
        shake = await tls.handshake(
            address, target.domain, context=context, timeout=config.timeout_s, port=port
        )
        result = replace(
            result,
            tls_failure=shake.failure,
            tls_leaf_sha256=shake.leaf_sha256,
            tls_issuer=shake.issuer,
            tls_chain_trusted=True if shake.failure is None else shake.chain_trusted,
        )
        if shake.failure is not None:
            return result
    urls = [target.url]
    if url.scheme == "https" and url.port is None:
        urls.append(urlunsplit(url._replace(scheme="http")))  # the cleartext page's reference
    fetched, *plain = await asyncio.gather(
        *(
            http.fetch(
                u,
                address=address,
                context=context,
                timeout=config.timeout_s,
                max_bytes=config.http_max_bytes,
                pin=guard.pin,
            )
            for u in urls
        )
    )
    result = replace(result, **_page("http", fetched))
    for page in plain:
        result = replace(result, **_page("plain", page))
    return result


def _page(prefix: str, fetched: http.Fetch) -> dict[str, Any]:
    """One fetched page as the result's ``http_*`` (the target) or ``plain_*`` (its cleartext
    reference) fields; no body length without a status."""
    fields = {
        "failure": fetched.failure,
        "status": fetched.status,
        "title": fetched.title,
        "body_length": fetched.body_length if fetched.status is not None else None,
        "body_truncated": fetched.body_truncated,
        "header_names": fetched.header_names,
        "final_url": fetched.final_url,
    }
    return {f"{prefix}_{name}": value for name, value in fields.items()}


def _bounded(addresses: list[str]) -> list[str]:
    """At most MAX_PER_FAMILY addresses of each family, IPv4 first, in answer order."""
    by_family: dict[int, list[str]] = {4: [], 6: []}
    for address in addresses:
        family = by_family[ipaddress.ip_address(address).version]
        if len(family) < MAX_PER_FAMILY:
            family.append(address)
    return by_family[4] + by_family[6]
