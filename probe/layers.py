"""One function per layer (DNS, TCP, TLS, HTTP, throughput): its Finding or Caveat, if any.

Pure logic over Measurement records (probe/findings.py holds the types and shared helpers).
"""

from __future__ import annotations

from collections.abc import Sequence

from probe.evidence import ControlResult, DnsEvidence
from probe.failures import OK, Failure
from probe.findings import (
    HARMLESS,
    Caveat,
    Finding,
    control_of,
    control_view,
    dns_of,
    http_of,
    inj_of,
    injected_answers_genuine,
    of,
    primary_dns,
    resolver_identity,
    slow_not_missing,
    tcp_of,
    tls_of,
    tput_of,
)
from probe.model import BlockMethod, Measurement, Reason, TestKind

_DNS_REASONS: dict[str, Reason] = {
    Failure.DNS_NXDOMAIN: Reason.DNS_NXDOMAIN,
    Failure.DNS_REFUSED: Reason.DNS_REFUSED,
    Failure.DNS_SERVFAIL: Reason.DNS_SERVFAIL,
    Failure.DNS_TIMEOUT: Reason.DNS_TIMEOUT,
    Failure.DNS_BOGON: Reason.DNS_BOGON,
    Failure.DNS_BLOCKPAGE: Reason.DNS_BLOCKPAGE,
    Failure.DNS_INJECTED: Reason.DNS_INJECTED,
    Failure.DNS_INCONSISTENT: Reason.DNS_INCONSISTENT,
    Failure.DNS_NO_ANSWER: Reason.DNS_NO_ANSWER,
}
# A RST in answer to a SYN surfaces as ECONNREFUSED (connection_refused): on a path where the
# controls connect, that RST is the censor's (tcp.reset). ICMP rejects are tcp.refused.
_TCP_REASONS: dict[str, Reason] = {
    Failure.CONNECTION_RESET: Reason.TCP_RESET,
    Failure.GENERIC_TIMEOUT: Reason.TCP_TIMEOUT,
    Failure.CONNECTION_REFUSED: Reason.TCP_RESET,
    Failure.HOST_UNREACHABLE: Reason.TCP_REFUSED,
    Failure.NETWORK_UNREACHABLE: Reason.TCP_REFUSED,
}
_TLS_REASONS: dict[str, Reason] = {
    Failure.CONNECTION_RESET: Reason.TLS_RESET,
    Failure.EOF: Reason.TLS_RESET,
    Failure.SSL_FAILED_HANDSHAKE: Reason.TLS_RESET,
    Failure.GENERIC_TIMEOUT: Reason.TLS_TIMEOUT,
    Failure.SSL_INTERCEPTED: Reason.TLS_MITM,
    Failure.SSL_UNKNOWN_AUTHORITY: Reason.TLS_CERT,
    Failure.SSL_INVALID_HOSTNAME: Reason.TLS_CERT,
    Failure.SSL_INVALID_CERTIFICATE: Reason.TLS_CERT,
}
# A GET that failed on a redirect hop to another host: the hop's own DNS or connect failure
# (the probe resolves and dials hops itself, probe/steps.py hop_pin).
_HOP_REASONS: dict[str, Reason] = {
    **{f: r for f, r in _DNS_REASONS.items() if r is not Reason.DNS_INCONSISTENT},
    Failure.CONNECTION_REFUSED: Reason.TCP_RESET,
    Failure.HOST_UNREACHABLE: Reason.TCP_REFUSED,
    Failure.NETWORK_UNREACHABLE: Reason.TCP_REFUSED,
}
_HTTP_REASONS: dict[str, Reason] = {
    Failure.HTTP_BLOCKPAGE: Reason.HTTP_BLOCKPAGE,
    Failure.CONNECTION_RESET: Reason.HTTP_RESET,
    Failure.EOF: Reason.HTTP_RESET,
    Failure.GENERIC_TIMEOUT: Reason.HTTP_TIMEOUT,
    Failure.HTTP_DIFF: Reason.HTTP_DIFF,
}
# How strongly each signal alone points at deliberate interference (before the control factor).
# Explicit artefacts (bogons, blockpages, injection, a known interception CA) are near-certain;
# timeouts are also what a congested path looks like, so they weigh less.
BASE_CONFIDENCE: dict[Reason, float] = {
    Reason.DNS_NXDOMAIN: 0.8,
    Reason.DNS_REFUSED: 0.8,
    Reason.DNS_SERVFAIL: 0.7,
    Reason.DNS_TIMEOUT: 0.6,
    Reason.DNS_BOGON: 0.95,
    Reason.DNS_BLOCKPAGE: 0.98,
    Reason.DNS_INJECTED: 0.95,
    Reason.DNS_INCONSISTENT: 0.6,
    Reason.DNS_NO_ANSWER: 0.7,
    Reason.TCP_RESET: 0.85,
    Reason.TCP_TIMEOUT: 0.7,
    Reason.TCP_REFUSED: 0.7,
    Reason.TLS_RESET: 0.8,
    Reason.TLS_TIMEOUT: 0.7,
    Reason.TLS_MITM: 0.95,
    Reason.TLS_CERT: 0.6,
    Reason.HTTP_BLOCKPAGE: 0.98,
    Reason.HTTP_RESET: 0.8,
    Reason.HTTP_TIMEOUT: 0.6,
    Reason.HTTP_DIFF: 0.5,
    Reason.THROTTLED: 0.7,
}
SNI_CONTROL_BONUS = 0.15  # the same address completes a handshake for a control SNI
CONTROL_CERT_CONFIDENCE = 0.9  # the control endpoint validates a different certificate
# Answers that claim the name has no address: only an independent view can confirm them.
_NAME_GONE = frozenset({Reason.DNS_NXDOMAIN, Reason.DNS_NO_ANSWER})
_NO_ADDRESS = frozenset({Failure.DNS_NXDOMAIN, Failure.DNS_NO_ANSWER})
_RESOLVED = frozenset({OK, Failure.DNS_INCONSISTENT})  # a resolver found the name's address
# A resolver failure other resolvers report too is the name's (its servers), not the path's.
_RCODE_AGREEMENT = frozenset({Reason.DNS_SERVFAIL, Reason.DNS_REFUSED})


def dns_finding(measurements: Sequence[Measurement]) -> Finding | Caveat | None:
    genuine = injected_answers_genuine(measurements)
    for m in of(measurements, TestKind.DNS_INJECTION):
        if m.outcome == Failure.DNS_INJECTED and genuine is not True:
            note = f"an answer came from {inj_of(m).address}, which runs no resolver"
            return Finding(BlockMethod.DNS, Reason.DNS_INJECTED, (m.id,), note, 0.95)
    primary = primary_dns(measurements)
    if primary is None or primary.outcome not in _DNS_REASONS:
        return None
    reason = _DNS_REASONS[primary.outcome]
    if reason is Reason.DNS_INJECTED and genuine is True:
        return None  # raced by the genuine answer: recorded (a note), not a block
    if reason is Reason.DNS_INCONSISTENT and _validated(measurements, primary):
        return None  # a CDN answer: the address proves itself by TLS (OONI ts-017 does the same)
    return _primary_finding(measurements, primary, reason)


def _primary_finding(
    measurements: Sequence[Measurement], primary: Measurement, reason: Reason
) -> Finding | Caveat:
    """The primary resolver's failure, against the other (distinct) resolvers' answers."""
    seen = dns_of(primary)
    others = [
        m
        for m in of(measurements, TestKind.DNS)
        if m is not primary
        and dns_of(m).query == seen.query
        and not dns_of(m).host
        and resolver_identity(m) != seen.identity  # a resolver is never its own control
    ]
    if reason in _NAME_GONE:
        gone = _no_address_claim(measurements, primary, others)
        if gone is not None:
            return gone
    agree = [m for m in others if m.outcome == primary.outcome]
    if agree and reason in _RCODE_AGREEMENT:
        note = (
            f"{primary.outcome} from {seen.resolver} and from {len(agree)} control resolver(s) "
            "too: the name, not the path"
        )
        return Caveat(note, (primary.id, *(m.id for m in agree)))
    if reason is Reason.DNS_BOGON and (shared := _bogon_seen_elsewhere(measurements, seen, others)):
        return Caveat(
            f"the site's own DNS answers the special-purpose address(es) {', '.join(shared)}: "
            "the control resolvers or the control endpoint get them too",
            (primary.id, *(m.id for m in others)),
        )
    confidence = BASE_CONFIDENCE[reason]
    healthy = [m for m in others if m.outcome == OK]
    if healthy:
        confidence = min(1.0, confidence + 0.1)
    note = f"{primary.outcome} from {seen.resolver}" + (
        f"; {len(healthy)} control resolver(s) answered normally" if healthy else ""
    )
    return Finding(
        BlockMethod.DNS, reason, (primary.id, *(m.id for m in healthy)), note, confidence
    )


def _no_address_claim(
    measurements: Sequence[Measurement], primary: Measurement, others: Sequence[Measurement]
) -> Caveat | None:
    """A cleartext "no address for this name" (NXDOMAIN, NOERROR empty) is the site's own fact
    only when an independent view agrees: the control endpoint, or an encrypted resolver, finds
    no address either (censors inject NXDOMAIN, and a cleartext resolver abroad crosses the
    same injector). Another resolver (of any transport) or the control endpoint that finds an
    address shows the name exists: no caveat, the finding stands (blocked). With neither, the
    claim cannot be told from a censor's forgery: inconclusive."""
    seen = dns_of(primary)
    control = control_of(measurements)
    view = control_view(measurements)
    encrypted = [m for m in others if dns_of(m).encrypted]
    gone = [m for m in encrypted if m.outcome in _NO_ADDRESS]
    control_gone = control is not None and control.name_gone
    if control_gone or gone:
        witnesses = ["the control endpoint"] if control_gone else []
        witnesses += [f"{len(gone)} encrypted resolver(s)"] if gone else []
        who = " and ".join(witnesses)
        note = f"{primary.outcome} from {seen.resolver}, and {who} too: the name, not the path"
        return Caveat(note, (primary.id, *(m.id for m in gone)))
    if seen.encrypted:
        return None  # the primary itself is encrypted: no one on the path wrote its answer
    resolved = [m for m in others if m.outcome in _RESOLVED and dns_of(m).answers]
    if resolved or view.addresses or (control is not None and control.addresses):
        return None
    note = (
        f"{primary.outcome} from {seen.resolver} in cleartext, and no independent view of the "
        "name (no control endpoint answer, no encrypted resolver, no other resolver with an "
        "address): a name gone and a censor's forged answer look the same"
    )
    return Caveat(note, (primary.id, *(m.id for m in others)))


def _bogon_seen_elsewhere(
    measurements: Sequence[Measurement], seen: DnsEvidence, others: Sequence[Measurement]
) -> list[str]:
    """The primary's bogons that every independent view returns too (none when there is no
    independent view): then the name itself points there, for everyone. Independent: the
    control endpoint and encrypted resolvers (a cleartext one may carry the same forgery)."""
    views = [set(dns_of(m).answers) for m in others if dns_of(m).encrypted]
    control = control_of(measurements)
    if control is not None and control.dns_failure is None:
        views.append(set(control.addresses) | {r.address for r in control.refused})
    if not views:
        return []
    return [a for a in seen.bogons if all(a in view for view in views)]


def _validated(measurements: Sequence[Measurement], primary: Measurement) -> bool:
    answers = set(dns_of(primary).answers)
    return any(
        m.outcome == OK and tls_of(m).address in answers for m in of(measurements, TestKind.TLS)
    )


def tcp_finding(measurements: Sequence[Measurement]) -> Finding | None:
    """Blocked at TCP only when no address connected to the URL's port (else 443, else any)."""
    tcp = of(measurements, TestKind.TCP)
    https = (
        [m for m in tcp if tcp_of(m).url_port] or [m for m in tcp if tcp_of(m).port == 443] or tcp
    )
    if not https or any(m.outcome == OK for m in https):
        return None
    first = min(https, key=_strongest)  # the same choice whatever the answer order
    reason = _TCP_REASONS.get(first.outcome)
    if reason is None:
        return None
    ports = sorted({tcp_of(m).port for m in tcp if m.outcome != OK})
    addresses = sorted({tcp_of(m).address for m in https})
    note = f"{first.outcome} connecting to {', '.join(addresses)} (ports {ports})"
    return Finding(
        BlockMethod.TCP, reason, tuple(m.id for m in https), note, BASE_CONFIDENCE[reason]
    )


def _strongest(m: Measurement) -> tuple[float, str]:
    """Order failures by what they prove (an explicit reset before a timeout), then address."""
    reason = (_TCP_REASONS if m.test is TestKind.TCP else _TLS_REASONS).get(m.outcome)
    strength = BASE_CONFIDENCE.get(reason, 0.0) if reason is not None else 0.0
    address = tcp_of(m).address if m.test is TestKind.TCP else tls_of(m).address
    return (-strength, address)


def tls_finding(
    measurements: Sequence[Measurement], control: ControlResult | None
) -> Finding | Caveat | None:
    """Blocked at TLS only when no address completed a validated handshake."""
    shakes = [m for m in of(measurements, TestKind.TLS) if tls_of(m).stage != "connect"]
    if any(m.outcome == OK for m in shakes):
        return None
    for m in sorted(shakes, key=_strongest):
        reason = _TLS_REASONS.get(m.outcome)
        if reason is None:
            continue
        if reason is Reason.TLS_CERT:
            return certificate_judgement(m, control)
        confidence = BASE_CONFIDENCE[reason]
        shake = tls_of(m)
        note = f"{m.outcome} in the handshake with SNI {shake.sni}"
        sni_control = shake.control_failure
        if reason in {Reason.TLS_RESET, Reason.TLS_TIMEOUT} and sni_control is not None:
            sni = shake.control_sni
            if sni_control == OK:
                confidence = min(1.0, confidence + SNI_CONTROL_BONUS)
                note += f"; SNI {sni} to the same address works: SNI filtering"
            else:
                note += f"; SNI {sni} to the same address fails too ({sni_control}): IP filtering"
        if reason is Reason.TLS_MITM:
            note += f"; certificate issued by {shake.issuer}"
        return Finding(BlockMethod.TLS, reason, (m.id,), note, confidence)
    return None


_CERT_PROBLEM: dict[str, str] = {
    Failure.SSL_INVALID_HOSTNAME: "names another host",
    Failure.SSL_INVALID_CERTIFICATE: "is expired or not valid",
    Failure.SSL_UNKNOWN_AUTHORITY: "is issued by an unknown CA",
}


def certificate_judgement(m: Measurement, control: ControlResult | None) -> Finding | Caveat:
    """Interception or the site's own misconfiguration?

    A certificate that chains to a trusted root but is expired or names another host is the
    site's fault, unless the control endpoint validates a different certificate for the same
    name (the failure is this vantage's only). A certificate from an unknown CA is interception
    when the control validates a different one, the site's own when the control sees the same,
    and undecided (inconclusive) without a control view. Known interception CAs are tls.mitm.
    """
    shake = tls_of(m)
    leaf, issuer = shake.leaf_sha256, shake.issuer
    whose = f"the certificate ({issuer})" if issuer else "the certificate"
    problem = f"{whose} {_CERT_PROBLEM.get(m.outcome, m.outcome)}"
    if control is not None and control.tcp_address is not None and control.tcp_failure is None:
        if control.tls_failure is None and control.tls_leaf_sha256 not in {None, leaf}:
            note = (
                f"interception: {problem}, while the control endpoint validates a different "
                "certificate for the same name"
            )
            return Finding(BlockMethod.TLS, Reason.TLS_CERT, (m.id,), note, CONTROL_CERT_CONFIDENCE)
        seen = control.tls_failure or "the same certificate"
        if control.tls_failure is not None or control.tls_leaf_sha256 == leaf:
            return Caveat(
                f"site misconfiguration: {problem}; the control endpoint sees {seen} too",
                (m.id,),
            )
    trusted = shake.chain_trusted
    if trusted is None:
        trusted = m.outcome in {Failure.SSL_INVALID_HOSTNAME, Failure.SSL_INVALID_CERTIFICATE}
    if trusted:
        return Caveat(
            f"site misconfiguration: {problem}, but it chains to a trusted root; nothing shows "
            "interception (no control endpoint view of a different certificate)",
            (m.id,),
        )
    return Caveat(
        f"{problem}: interception by an unknown CA or a self-signed site; no control endpoint "
        "view of the certificate to tell them apart",
        (m.id,),
    )


def answered(m: Measurement) -> bool:
    """The test worked, or a GET got its status line and then ran out of time (slow, not
    missing: for the throughput test to judge)."""
    return m.outcome in HARMLESS or slow_not_missing(m)


def unfollowable_own_redirect(m: Measurement) -> bool:
    """A 3xx whose Location names no host (``http_invalid_redirect_location_host``), answered by
    the site itself: over https (the GET validated the certificate for the name, so no one on
    the path wrote it), or in cleartext matching an independent view of the page (ts-017's HTTP
    diff; a cleartext 3xx unlike the control's is ``http_diff_from_control`` instead). A
    cleartext one with nothing to compare it with proves nothing: a censor can answer a 302.
    Like a redirect loop (OONI's redirectWithMoreThanTenRedirects: accessible and blocking both
    false) it is the site's answer leading nowhere: neither a block nor the page."""
    if m.outcome != Failure.HTTP_INVALID_REDIRECT_LOCATION:
        return False
    page = http_of(m)
    if page.status is None or not 300 <= page.status < 400:
        return False
    return page.secure or page.diff_differs is False


def http_finding(measurements: Sequence[Measurement]) -> Finding | Caveat | None:
    """Per scheme: a finding only when no GET of that scheme got an answer through any address.

    An https GET whose answer could not be used (``http_invalid_response``: a malformed reply;
    ``http_too_many_redirects``: a redirect loop) from an address that completed a handshake
    validated for the name, or the site's own redirect to nowhere (``unfollowable_own_redirect``)
    is the site's own fault: a Caveat, unless another GET shows interference.
    """
    gets = of(measurements, TestKind.HTTP)
    caveat: Caveat | None = None
    for secure in (True, False):
        group = [m for m in gets if http_of(m).secure is secure]
        if any(answered(m) for m in group):
            continue
        for m in group:
            page = http_of(m)
            reason = _HTTP_REASONS.get(m.outcome)
            if reason is None and page.redirects:
                reason = _HOP_REASONS.get(m.outcome)
            if reason is None and caveat is None:
                caveat = _site_answer_unusable(measurements, m)
            if reason is None or slow_not_missing(m):
                continue  # a slow body is for the throughput test to judge
            note = f"{m.outcome} fetching {page.url}"
            if page.redirects:
                note += f" (redirected to {page.redirects[-1]})"
            if page.blockpage:
                note += f" (fingerprint {page.blockpage})"
            if reason is Reason.HTTP_DIFF:
                note += _diff_note(m)
            method = BlockMethod(reason.value.split(".")[0])
            return Finding(method, reason, (m.id,), note, BASE_CONFIDENCE[reason])
    return caveat or _unvouched_cleartext(gets)


def _unvouched_cleartext(gets: Sequence[Measurement]) -> Caveat | None:
    """The page loads only in cleartext, and nothing independent shows it is the site's: no GET
    ended over validated TLS, and no reference to compare it with (the control endpoint had no
    page, this vantage no https one). A censor's server answers pages too (an unknown notice
    page looks like any other): not ``accessible``, as OONI leaves accessible null without its
    test helper (controlFailureWithSuccessfulHTTPWebsite)."""
    ended = [m for m in gets if answered(m)]
    plain = [m for m in ended if (http_of(m).final_url or http_of(m).url).startswith("http:")]
    if not plain or len(plain) < len(ended) or any(http_of(m).diff_reference for m in plain):
        return None
    note = (
        f"the cleartext page of {http_of(plain[0]).url} loads, but there is no independent view "
        "of it (no control endpoint page, no https page) to tell the site's page from a censor's"
    )
    return Caveat(note, tuple(m.id for m in plain))


# What an https GET from an address validated for the name can end in by the site's own doing
_UNUSABLE = frozenset(
    {
        Failure.HTTP_INVALID_RESPONSE,
        Failure.HTTP_INVALID_REDIRECT_LOCATION,
        Failure.HTTP_TOO_MANY_REDIRECTS,
    }
)


def _site_answer_unusable(measurements: Sequence[Measurement], m: Measurement) -> Caveat | None:
    page = http_of(m)
    if unfollowable_own_redirect(m):
        where = (
            "received over a TLS session validated for the name"
            if page.secure
            else f"the {page.diff_reference} view gets the same answer"
        )
        note = (
            f"the site's own answer leads nowhere: {page.status} fetching {page.url} with "
            f"Location {page.headers.get('location', '')!r} ({m.outcome}), {where}"
        )
        return Caveat(note, (m.id,))
    if m.outcome not in _UNUSABLE or not page.secure:
        return None
    address = page.address
    validated = {tls_of(t).address for t in of(measurements, TestKind.TLS) if t.outcome == OK}
    if not validated or (address is not None and address not in validated):
        return None
    note = (
        f"the site's own answer cannot be used ({m.outcome} fetching {page.url}), "
        "received over a TLS session validated for the name: the site's fault, not a censor's"
    )
    return Caveat(note, (m.id,))


def _diff_note(m: Measurement) -> str:
    d = http_of(m)
    return (
        f": the cleartext page differs from the {d.diff_reference} view "
        f"(status match {d.diff_status_match}, body proportion {d.diff_body_proportion}, "
        f"title match {d.diff_title_match}, headers match {d.diff_headers_match})"
    )


def throughput_finding(measurements: Sequence[Measurement]) -> Finding | None:
    for m in of(measurements, TestKind.THROUGHPUT):
        if m.outcome == Failure.THROTTLED:
            rate = tput_of(m)
            note = f"{rate.bps or 0:.0f} B/s against the controls' {rate.control_bps or 0:.0f} B/s"
            return Finding(BlockMethod.THROTTLED, Reason.THROTTLED, (m.id,), note, 0.7)
    return None
