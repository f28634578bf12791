"""What a round reads once at the edge: resolvers, blockpage fingerprints, interception CAs,
the trust store and the control endpoint client (``probe/steps.py`` runs the tests with it)."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from probe import bogons, dns, http, tls
from probe.blockpages import Blockpages, load_blockpages
from probe.bogons import is_bogon
from probe.configfile import ConfigError
from probe.control import ControlClient, read_token
from probe.failures import Failure
from probe.interception import InterceptionCAs, load_interception_cas
from probe.model import TestKind
from probe.settings import ProbeSettings

CONTROL_WAIT_FACTOR = 1.5


@dataclass(frozen=True)
class Environment:
    """What a round reads once at the edge: resolvers, fingerprints, trust store."""

    resolvers: tuple[dns.Resolver, ...]
    blockpages: Blockpages
    interception: InterceptionCAs
    tls_context: ssl.SSLContext
    settings: ProbeSettings
    tests: frozenset[TestKind]
    control: ControlClient | None = None


def load_environment(settings: ProbeSettings, tests: frozenset[TestKind]) -> Environment:
    """Resolvers (system first: it is the vantage's own), blockpages, interception CAs, CA store."""
    resolvers: list[dns.Resolver] = []
    if settings.use_system_resolver:
        resolvers.extend(dns.system_resolvers(dns.RESOLV_CONF))
    try:
        resolvers.extend(dns.parse_resolver(spec) for spec in settings.resolvers)
    except dns.ResolverSpecError as exc:
        raise ConfigError(
            "probe settings", "resolvers", str(exc), "IP, IP:PORT, tcp://IP or https://URL"
        ) from None
    interception = load_interception_cas()
    tls_context = None
    if settings.ca_bundle is not None:
        try:
            interception = interception.with_bundle(settings.ca_bundle.read_text(encoding="utf-8"))
            tls_context = tls.make_context(settings.ca_bundle)
        except (OSError, ValueError, ssl.SSLError) as exc:
            raise ConfigError(
                "probe settings",
                "ca_bundle",
                f"cannot use {settings.ca_bundle}: {exc}",
                "a PEM file",
            ) from None
    return Environment(
        resolvers=distinct_resolvers(resolvers),
        blockpages=load_blockpages(),
        interception=interception,
        tls_context=tls_context or tls.make_context(None),
        settings=settings,
        tests=tests,
        control=_control_client(settings),
    )


def distinct_resolvers(resolvers: Sequence[dns.Resolver]) -> tuple[dns.Resolver, ...]:
    """Each resolver once, by identity (transport, address, port), the first mention kept: a
    resolver named in the config that is also the system's is one resolver, not its own control.
    """
    seen: dict[tuple[str, str, int], dns.Resolver] = {}
    for resolver in resolvers:
        seen.setdefault(resolver.identity, resolver)
    return tuple(seen.values())


def _control_client(settings: ProbeSettings) -> ControlClient | None:
    if settings.control_endpoint is None:
        return None
    token = read_token(settings.upload.credentials_file)
    t = settings.timeouts
    # the control measures DNS, TCP, TLS and HTTP one after the other (redirect hops inside the
    # GET): wait for all of them, with room for a collector as busy as this probe
    chain = t.dns + t.tcp + t.tls + t.http
    return ControlClient(
        settings.control_endpoint, token, CONTROL_WAIT_FACTOR * chain, connect_timeout=t.tcp
    )


def hop_pin(env: Environment) -> http.Pin | None:
    """Redirect hops to another host are resolved at the primary resolver, like the target:
    never by the system's getaddrinfo, never to a bogon, and a failure there is the hop's
    outcome (``dns_nxdomain_error`` on a hop whose name is blocked)."""
    if not env.resolvers:
        return None
    resolver = env.resolvers[0]
    allow = env.settings.allow_net
    bad = env.blockpages.addresses

    async def pin(host: str) -> str:
        literal = bogons.parse_address(host)
        if literal is not None:
            if is_bogon(host, allow=allow):
                raise http.AddressRefusedError(f"redirect to the special-purpose address {host}")
            return host
        found = await dns.lookup(host, resolver, timeout=env.settings.timeouts.dns)
        if found.failure is not None:
            raise http.PinError(found.failure, f"redirect to {host}: {found.failure}")
        clean = [a for a in found.addresses if a not in bad and not is_bogon(a, allow=allow)]
        if not clean:
            raise http.PinError(Failure.DNS_BOGON, f"redirect to {host}: {found.addresses}")
        return clean[0]

    return pin
