"""The steps of a round for one target: each runs one test, records one Measurement per result.

``probe/round.py`` orders the steps and runs targets concurrently; each step here takes the round's
Environment (read once at the edge), the Recorder and the target's TargetRun.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from probe import dns, http, injection, tcp, tls
from probe.blockpages import Blockpages, load_blockpages
from probe.bogons import is_bogon
from probe.configfile import ConfigError
from probe.control import ControlClient, ControlObservation, read_token
from probe.failures import Failure
from probe.interception import InterceptionCAs, load_interception_cas
from probe.model import Measurement, TestKind, utcnow
from probe.recorder import Recorder
from probe.settings import ProbeSettings
from probe.targets import Target

RESOLV_CONF = Path("/etc/resolv.conf")
MAX_ADDRESSES = 2  # per target: the first IPv4 and the first IPv6 answer
INJECTION_WAIT_S = 1.0


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
        resolvers.extend(dns.system_resolvers(RESOLV_CONF))
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
        resolvers=tuple(dict.fromkeys(resolvers)),
        blockpages=load_blockpages(),
        interception=interception,
        tls_context=tls_context or tls.make_context(None),
        settings=settings,
        tests=tests,
        control=_control_client(settings),
    )


def _control_client(settings: ProbeSettings) -> ControlClient | None:
    if settings.control_endpoint is None:
        return None
    token = read_token(settings.upload.credentials_file)
    return ControlClient(settings.control_endpoint, token, settings.timeouts.http)


@dataclass
class TargetRun:
    """One target's measurements so far, and what later steps need from earlier ones."""

    target: Target
    measurements: list[Measurement] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    address_source: str = "primary"
    tput: tuple[datetime, float, http.Fetch] | None = None
    control: ControlObservation | None = None

    def add(
        self,
        recorder: Recorder,
        test: TestKind,
        started: datetime,
        mono: float,
        *,
        outcome: str,
        details: dict[str, Any],
    ) -> None:
        """Record one measurement of this target, timed from ``started`` / ``mono``."""
        self.measurements.append(
            recorder.record(
                self.target,
                test,
                started_at=started,
                started_mono=mono,
                outcome=outcome,
                details=details,
            )
        )


def stage_details(prefix: str, **values: Any) -> dict[str, Any]:
    return {f"{prefix}_{k}": v for k, v in values.items()}


async def resolve(env: Environment, recorder: Recorder, run: TargetRun) -> None:
    timeout = env.settings.timeouts.dns
    started, mono = utcnow(), time.monotonic()
    lookups, (run.control, control_error) = await asyncio.gather(
        asyncio.gather(*(dns.lookup(run.target.domain, r, timeout=timeout) for r in env.resolvers)),
        _observe(env, run.target),
    )
    allow = env.settings.allow_net
    from_control = run.control.addresses if run.control else ()
    for index, found in enumerate(lookups):
        control = frozenset(
            [a for other in lookups if other is not found for a in other.addresses]
            + list(from_control)
        )
        judged = dns.classify(
            found,
            allow=allow,
            blockpage_addresses=env.blockpages.addresses,
            control_addresses=control,
        )
        details = stage_details(
            "dns",
            query=found.name,
            resolver=found.resolver.label,
            transport=",".join(found.transports) or found.resolver.transport,
            system=found.resolver.system,
            primary=index == 0,
            rcode=found.rcode,
            answers=list(found.addresses),
            extra_answers=[list(a) for a in found.extra_answers],
            bogons=list(judged.bogons),
            blockpage=list(judged.blockpage_addresses),
            consistency=judged.consistency,
            t=round(found.t, 6),
            failure=None if judged.outcome == "ok" else judged.outcome,
            failure_raw=found.failure_raw,
        )
        if TestKind.DNS not in env.tests:
            continue  # resolved for the later tests' addresses, not recorded
        if index == 0 and env.control is not None:
            details.update(
                control_addresses=list(from_control),
                control_reachable=run.control.reachable if run.control else None,
                control_error=control_error,
            )
        run.add(recorder, TestKind.DNS, started, mono, outcome=judged.outcome, details=details)
    run.addresses, run.address_source = _usable_addresses(env, lookups)
    if env.resolvers and run.target.hosts and TestKind.DNS in env.tests:
        await _resolve_hosts(env, recorder, run)


async def _observe(
    env: Environment, target: Target
) -> tuple[ControlObservation | None, str | None]:
    if env.control is None:
        return None, None
    return await env.control.observe(target.name)


async def _resolve_hosts(env: Environment, recorder: Recorder, run: TargetRun) -> None:
    """The apps' other endpoints, at the primary resolver only: recorded, not judged (yet)."""
    started, mono = utcnow(), time.monotonic()
    primary = env.resolvers[0]
    lookups = await asyncio.gather(
        *(dns.lookup(h, primary, timeout=env.settings.timeouts.dns) for h in run.target.hosts)
    )
    for found in lookups:
        judged = dns.classify(
            found, allow=env.settings.allow_net, blockpage_addresses=env.blockpages.addresses
        )
        details = stage_details(
            "dns",
            query=found.name,
            resolver=primary.label,
            transport=",".join(found.transports) or primary.transport,
            system=primary.system,
            primary=False,
            host=True,
            rcode=found.rcode,
            answers=list(found.addresses),
            t=round(found.t, 6),
            failure=None if judged.outcome == "ok" else judged.outcome,
            failure_raw=found.failure_raw,
        )
        run.add(recorder, TestKind.DNS, started, mono, outcome=judged.outcome, details=details)


def _usable_addresses(env: Environment, lookups: Sequence[dns.Lookup]) -> tuple[list[str], str]:
    """Addresses to connect to: the primary resolver's clean ones, else the controls'."""
    bad = env.blockpages.addresses

    def clean(found: dns.Lookup) -> list[str]:
        allow = env.settings.allow_net
        return [a for a in found.addresses if a not in bad and not is_bogon(a, allow=allow)]

    if lookups and not lookups[0].extra_answers and (first := clean(lookups[0])):
        return _one_per_family(first), "primary"
    rest = [a for found in lookups[1:] for a in clean(found)]
    return _one_per_family(rest), "control_resolver"


def _one_per_family(addresses: Sequence[str]) -> list[str]:
    chosen: dict[int, str] = {}
    for address in addresses:
        chosen.setdefault(ipaddress.ip_address(address).version, address)
    return [chosen[v] for v in sorted(chosen)][:MAX_ADDRESSES]


async def injection_step(env: Environment, recorder: Recorder, run: TargetRun, silent: str) -> None:
    started, mono = utcnow(), time.monotonic()
    wait = min(env.settings.timeouts.dns, INJECTION_WAIT_S)
    probe = await injection.probe_silent_host(
        run.target.domain, silent, wait=wait, raw=env.settings.raw_tests
    )
    outcome = Failure.DNS_INJECTED if probe.injected else "ok"
    details = stage_details(
        "inj",
        query=run.target.domain,
        address=probe.silent_address,
        answers=[list(a) for a in probe.answers],
        ttls=list(probe.ttls),
        raw_error=probe.raw_error,
        t=round(probe.t, 6),
        failure=None if outcome == "ok" else outcome,
        failure_raw=probe.failure_raw,
    )
    run.add(recorder, TestKind.DNS_INJECTION, started, mono, outcome=outcome, details=details)


async def tcp_step(
    env: Environment, recorder: Recorder, run: TargetRun, address: str, port: int
) -> tcp.Connect:
    started, mono = utcnow(), time.monotonic()
    result = await tcp.connect(address, port, timeout=env.settings.timeouts.tcp)
    details = stage_details(
        "tcp",
        address=address,
        port=port,
        address_source=run.address_source,
        t=round(result.t, 6),
        failure=result.failure,
        failure_raw=result.failure_raw,
    )
    run.add(recorder, TestKind.TCP, started, mono, outcome=result.failure or "ok", details=details)
    return result


async def tls_step(
    env: Environment,
    recorder: Recorder,
    run: TargetRun,
    address: str,
    control_sni: str | None,
    ok: asyncio.Event,
) -> None:
    started, mono = utcnow(), time.monotonic()
    timeout = env.settings.timeouts.tls
    attempts = [
        tls.handshake(
            address,
            run.target.domain,
            context=env.tls_context,
            timeout=timeout,
            interception=env.interception,
        )
    ]
    if control_sni is not None:
        attempts.append(
            tls.handshake(address, control_sni, context=env.tls_context, timeout=timeout)
        )
    results = await asyncio.gather(*attempts)
    main = results[0]
    control = results[1] if len(results) > 1 else None
    if main.failure is None:
        ok.set()
    details = stage_details(
        "tls",
        address=address,
        sni=main.sni,
        stage=main.stage,
        version=main.version,
        issuer=main.issuer,
        subject=main.subject,
        leaf_sha256=main.leaf_sha256,
        interception_ca=main.interception_ca,
        t=round(main.t, 6),
        failure=main.failure,
        failure_raw=main.failure_raw,
        control_sni=control_sni,
        # a control SNI needs no validation for this address: reaching the handshake's end is
        # what tells SNI filtering from IP filtering
        control_failure=_handshake_completed(control),
    )
    run.add(recorder, TestKind.TLS, started, mono, outcome=main.failure or "ok", details=details)


def _handshake_completed(result: tls.Handshake | None) -> str | None:
    if result is None:
        return None
    cert_only = {
        Failure.SSL_INVALID_HOSTNAME,
        Failure.SSL_UNKNOWN_AUTHORITY,
        Failure.SSL_INVALID_CERTIFICATE,
    }
    return "ok" if result.failure is None or result.failure in cert_only else result.failure


async def http_step(
    env: Environment,
    recorder: Recorder,
    run: TargetRun,
    url: str,
    address: str,
    *,
    record: bool = True,
    total_timeout: float | None = None,
) -> http.Fetch:
    started, mono = utcnow(), time.monotonic()
    fetched = await http.fetch(
        url,
        address=address,
        context=env.tls_context,
        timeout=env.settings.timeouts.http,
        total_timeout=total_timeout,
    )
    if not record:
        return fetched
    blockpage = env.blockpages.match_response(fetched.head, fetched.headers)
    outcome = fetched.failure or "ok"
    if blockpage is not None:
        outcome = Failure.HTTP_BLOCKPAGE
    elif outcome == "ok" and url.startswith("https:") and _differs_from_control(run, fetched):
        outcome = Failure.HTTP_DIFF
    details = stage_details(
        "http",
        url=url,
        address=address,
        status=fetched.status,
        headers=fetched.headers,
        title=fetched.title,
        body_length=fetched.body_length,
        body_sha256=fetched.body_sha256,
        body_truncated=fetched.body_truncated,
        blockpage=blockpage.name if blockpage else None,
        redirects=list(fetched.redirects),
        t=round(fetched.t, 6),
        t_first_byte=fetched.t_first_byte,
        failure=None if outcome == "ok" else outcome,
        failure_raw=fetched.failure_raw,
    )
    run.add(recorder, TestKind.HTTP, started, mono, outcome=outcome, details=details)
    return fetched


def _differs_from_control(run: TargetRun, fetched: http.Fetch) -> bool:
    """OONI ts-017's HTTP comparison against the control endpoint's GET, when there is one."""
    control = run.control
    if control is None or not control.reachable or control.http_body_length is None:
        return False
    reference = http.Fetch(
        fetched.url, None, status=control.http_status, body_length=control.http_body_length
    )
    return http.differs_from_control(fetched, reference)
