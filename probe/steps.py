"""The steps of a round for one target: each runs one test, records one Measurement per result.

``probe/round.py`` orders the steps and runs targets concurrently; each step here takes the round's
Environment (read once at the edge, probe/environment.py), the Recorder and the target's TargetRun.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from probe import dns, http, injection, tcp, tls
from probe.bogons import is_bogon
from probe.cleartext import compare_cleartext
from probe.environment import Environment, hop_pin
from probe.evidence import (
    ENCRYPTED_TRANSPORTS,
    ControlEvidence,
    ControlResult,
    DnsEvidence,
    HttpEvidence,
    InjectionEvidence,
    TcpEvidence,
    TlsEvidence,
)
from probe.failures import Failure
from probe.model import Measurement, TestKind, utcnow
from probe.recorder import Recorder
from probe.targets import Target

MAX_PER_FAMILY = 4  # addresses measured per target and family (IPv4, IPv6), in answer order
INJECTION_WAIT_S = 1.0


@dataclass(frozen=True, slots=True)
class TransferSample:
    """The HTTPS transfer the throughput test judges: when it began (wall clock, monotonic)
    and what came back (an answer, or the stall of a throttled path)."""

    started: datetime
    mono: float
    fetched: http.Fetch


@dataclass
class TargetRun:
    """One target's measurements so far, and what later steps need from earlier ones."""

    target: Target
    measurements: list[Measurement] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    address_source: str = "primary"
    transfer: TransferSample | None = None  # the throughput sample, once fetched
    control: ControlResult | None = None
    https_page: http.Fetch | None = None  # this vantage's GET over validated TLS, if any

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


async def resolve(env: Environment, recorder: Recorder, run: TargetRun) -> None:
    timeout = env.settings.timeouts.dns
    started, mono = utcnow(), time.monotonic()
    lookups, (run.control, control_error) = await asyncio.gather(
        asyncio.gather(*(dns.lookup(run.target.domain, r, timeout=timeout) for r in env.resolvers)),
        _observe(env, run.target),
    )
    allow = env.settings.allow_net
    from_control = run.control.addresses if run.control else ()
    name_gone = run.control is not None and run.control.name_gone
    for index, found in enumerate(lookups):
        judged = dns.classify(
            found,
            allow=allow,
            blockpage_addresses=env.blockpages.addresses,
            control_addresses=vouching_addresses(found, lookups, from_control),
            name_gone=name_gone,
        )
        details = replace(
            dns_evidence(found, judged, primary=index == 0),
            extra_answers=found.extra_answers,
            bogons=judged.bogons,
            blockpage=judged.blockpage_addresses,
            consistency=judged.consistency,
        ).to_dict()
        if TestKind.DNS not in env.tests:
            continue  # resolved for the later tests' addresses, not recorded
        if index == 0 and env.control is not None:
            details.update(control_details(run.control, control_error))
        run.add(recorder, TestKind.DNS, started, mono, outcome=judged.outcome, details=details)
    run.addresses, run.address_source = _usable_addresses(env, lookups, from_control)
    if env.resolvers and run.target.hosts and TestKind.DNS in env.tests:
        await _resolve_hosts(env, recorder, run)


def dns_evidence(found: dns.Lookup, judged: dns.DnsFindings, *, primary: bool) -> DnsEvidence:
    """What every DNS measurement records of one lookup and its classification; a target's
    lookups add the comparison's fields (``resolve``), an app's extra host its flag."""
    return DnsEvidence(
        query=found.name,
        resolver=found.resolver.label,
        transport=",".join(found.transports) or found.resolver.transport,
        system=found.resolver.system,
        primary=primary,
        rcode=found.rcode,
        answers=found.addresses,
        t=round(found.t, 6),
        failure=None if judged.outcome == "ok" else judged.outcome,
        failure_raw=found.failure_raw,
    )


def vouching_addresses(
    found: dns.Lookup, lookups: Sequence[dns.Lookup], from_control: Sequence[str]
) -> frozenset[str]:
    """The independent views ``found`` is compared with: the control endpoint's addresses and
    the other resolvers' asked over an encrypted transport. A cleartext query to any resolver
    crosses the same censor, who may forge its answer too, so it vouches for nothing."""
    encrypted = (
        other
        for other in lookups
        if other is not found and other.resolver.transport in ENCRYPTED_TRANSPORTS
    )
    return frozenset([a for other in encrypted for a in other.addresses] + list(from_control))


def control_details(control: ControlResult | None, error: str | None) -> dict[str, Any]:
    """The control endpoint's view, on the primary DNS measurement (wire keys ``control_*``).

    ``control_reachable`` is None when the control has no view (it refused every address).
    """
    if control is None:
        return ControlEvidence(error=error).to_dict()
    refused_all = control.tcp_failure == Failure.ADDRESS_REFUSED
    return ControlEvidence(
        addresses=control.addresses,
        reachable=None if refused_all else control.reachable,
        error=error,
        result=control.to_dict(),
    ).to_dict()


async def _observe(env: Environment, target: Target) -> tuple[ControlResult | None, str | None]:
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
        details = replace(dns_evidence(found, judged, primary=False), host=True).to_dict()
        run.add(recorder, TestKind.DNS, started, mono, outcome=judged.outcome, details=details)


def _usable_addresses(
    env: Environment, lookups: Sequence[dns.Lookup], from_control: Sequence[str]
) -> tuple[list[str], str]:
    """Addresses to connect to: the primary resolver's clean ones, else the control resolvers',
    else the control endpoint's (so a resolver down or a DNS block still leaves the path
    measured)."""
    bad = env.blockpages.addresses
    allow = env.settings.allow_net

    def clean(addresses: Sequence[str]) -> list[str]:
        return [a for a in addresses if a not in bad and not is_bogon(a, allow=allow)]

    if lookups and not lookups[0].extra_answers and (first := clean(lookups[0].addresses)):
        return bounded_per_family(first), "primary"
    rest = [a for found in lookups[1:] for a in clean(found.addresses)]
    if rest or not from_control:
        return bounded_per_family(rest), "control_resolver"
    return bounded_per_family(clean(from_control)), "control_endpoint"


def bounded_per_family(addresses: Sequence[str]) -> list[str]:
    """Every address once, at most MAX_PER_FAMILY per family, IPv4 first, in answer order."""
    by_family: dict[int, list[str]] = {4: [], 6: []}
    for address in dict.fromkeys(addresses):
        family = by_family[ipaddress.ip_address(address).version]
        if len(family) < MAX_PER_FAMILY:
            family.append(address)
    return by_family[4] + by_family[6]


async def injection_step(env: Environment, recorder: Recorder, run: TargetRun, silent: str) -> None:
    started, mono = utcnow(), time.monotonic()
    wait = min(env.settings.timeouts.dns, INJECTION_WAIT_S)
    probe = await injection.probe_silent_host(
        run.target.domain, silent, wait=wait, raw=env.settings.raw_tests
    )
    outcome = Failure.DNS_INJECTED if probe.injected else "ok"
    details = InjectionEvidence(
        query=run.target.domain,
        address=probe.silent_address,
        answers=tuple(tuple(a) for a in probe.answers),
        ttls=tuple(probe.ttls),
        raw_error=probe.raw_error,
        t=round(probe.t, 6),
        failure=None if outcome == "ok" else outcome,
        failure_raw=probe.failure_raw,
    ).to_dict()
    run.add(recorder, TestKind.DNS_INJECTION, started, mono, outcome=outcome, details=details)


async def tcp_step(
    env: Environment, recorder: Recorder, run: TargetRun, address: str, port: int
) -> tcp.Connect:
    started, mono = utcnow(), time.monotonic()
    result = await tcp.connect(address, port, timeout=env.settings.timeouts.tcp)
    details = TcpEvidence(
        address=address,
        port=port,
        address_source=run.address_source,
        t=round(result.t, 6),
        failure=result.failure,
        failure_raw=result.failure_raw,
        url_port=port == url_port(run.target.url),
    ).to_dict()
    run.add(recorder, TestKind.TCP, started, mono, outcome=result.failure or "ok", details=details)
    return result


async def tls_step(
    env: Environment,
    recorder: Recorder,
    run: TargetRun,
    address: str,
    control_sni: str | None,
) -> tls.Handshake:
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
    details = TlsEvidence(
        address=address,
        sni=main.sni,
        stage=main.stage,
        version=main.version,
        issuer=main.issuer,
        subject=main.subject,
        leaf_sha256=main.leaf_sha256,
        interception_ca=main.interception_ca,
        verify_code=main.verify_code,
        chain_trusted=main.chain_trusted,
        t=round(main.t, 6),
        failure=main.failure,
        failure_raw=main.failure_raw,
        control_sni=control_sni,
        # a control SNI needs no validation for this address: reaching the handshake's end is
        # what tells SNI filtering from IP filtering
        control_failure=_handshake_completed(control),
    ).to_dict()
    run.add(recorder, TestKind.TLS, started, mono, outcome=main.failure or "ok", details=details)
    return main


def url_port(url: str) -> int:
    """The port a URL connects to (its own, else the scheme's)."""
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


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
) -> tuple[http.Fetch, str]:
    """One GET through ``address``; gives the fetch and the outcome it was recorded with."""
    started, mono = utcnow(), time.monotonic()
    fetched = await http.fetch(
        url,
        address=address,
        context=env.tls_context,
        timeout=env.settings.timeouts.http,
        total_timeout=total_timeout,
        pin=hop_pin(env),
    )
    if not record:
        return fetched, fetched.failure or "ok"
    blockpage = env.blockpages.match_response(
        fetched.head, fetched.headers
    ) or env.blockpages.match_redirects(fetched.redirects)
    outcome = fetched.failure or "ok"
    # a 3xx whose Location cannot be followed is a page too: compared like any cleartext answer
    comparable = outcome in {"ok", Failure.HTTP_INVALID_REDIRECT_LOCATION}
    diff = compare_cleartext(run.https_page, run.control, fetched) if comparable else None
    if blockpage is not None:
        outcome = Failure.HTTP_BLOCKPAGE
    elif diff is not None and diff[1]:
        outcome = Failure.HTTP_DIFF
    evidence = HttpEvidence(
        url=url,
        address=address,
        status=fetched.status,
        headers=fetched.headers,
        header_names=fetched.header_names,
        title=fetched.title,
        body_length=fetched.body_length,
        body_sha256=fetched.body_sha256,
        body_truncated=fetched.body_truncated,
        blockpage=blockpage.name if blockpage else None,
        redirects=fetched.redirects,
        final_url=fetched.final_url,
        t=round(fetched.t, 6),
        t_first_byte=fetched.t_first_byte,
        failure=None if outcome == "ok" else outcome,
        failure_raw=fetched.failure_raw,
    )
    if diff is not None:
        reference, differs, closest = diff
        evidence = replace(
            evidence,
            diff_reference=reference,
            diff_differs=differs,
            diff_status_match=closest.status_match,
            diff_body_proportion=closest.body_proportion,
            diff_title_match=closest.title_match,
            diff_headers_match=closest.headers_match,
        )
    details = evidence.to_dict()
    run.add(recorder, TestKind.HTTP, started, mono, outcome=outcome, details=details)
    if url.startswith("https:") and outcome == "ok" and run.https_page is None:
        run.https_page = fetched
    return fetched, outcome
