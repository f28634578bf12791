"""Verdicts: one target's measurements, plus the controls of the same round -> what happened.

Pure logic over Measurement records. The first layer that shows interference decides the method
(DNS, then TCP, TLS, HTTP, throughput), so a DNS block is never reported as a TCP failure. As in
OONI Web Connectivity (ts-017) a failure only means "blocked" when something shows the vantage is
online: control targets from the same vantage that work. When the controls fail as well the vantage
is ``offline`` (a shutdown), not censored; without any control the verdict is ``inconclusive``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from probe.failures import Failure
from probe.model import BlockMethod, Measurement, Reason, TestKind, VerdictKind

OK = "ok"
# Outcomes that do not mean the target failed.
_HARMLESS = frozenset({OK, Failure.HTTP_BODY_TOO_LARGE})

_DNS_REASONS: dict[str, Reason] = {
    Failure.DNS_NXDOMAIN: Reason.DNS_NXDOMAIN,
    Failure.DNS_REFUSED: Reason.DNS_REFUSED,
    Failure.DNS_SERVFAIL: Reason.DNS_SERVFAIL,
    Failure.DNS_TIMEOUT: Reason.DNS_TIMEOUT,
    Failure.DNS_BOGON: Reason.DNS_BOGON,
    Failure.DNS_BLOCKPAGE: Reason.DNS_BLOCKPAGE,
    Failure.DNS_INJECTED: Reason.DNS_INJECTED,
    Failure.DNS_INCONSISTENT: Reason.DNS_INCONSISTENT,
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
_HTTP_REASONS: dict[str, Reason] = {
    Failure.HTTP_BLOCKPAGE: Reason.HTTP_BLOCKPAGE,
    Failure.CONNECTION_RESET: Reason.HTTP_RESET,
    Failure.EOF: Reason.HTTP_RESET,
    Failure.HTTP_INVALID_RESPONSE: Reason.HTTP_RESET,
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


@dataclass(frozen=True, slots=True)
class Finding:
    """One layer's evidence of interference."""

    method: BlockMethod
    reason: Reason
    measurement_ids: tuple[str, ...]
    note: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Assessment:
    """The verdict's content, before it is stamped with ids, probe and time."""

    kind: VerdictKind
    method: BlockMethod | None
    reason: Reason | None
    confidence: float
    measurement_ids: tuple[str, ...]
    explanation: str


def _of(measurements: Sequence[Measurement], test: TestKind) -> list[Measurement]:
    return [m for m in measurements if m.test is test]


def _primary_dns(measurements: Sequence[Measurement]) -> Measurement | None:
    dns = [m for m in _of(measurements, TestKind.DNS) if m.details.get("dns_primary")]
    return dns[0] if dns else None


def _slow_not_missing(m: Measurement) -> bool:
    """An HTTP GET that got its status line and then ran out of time: reachable, but slow."""
    return m.outcome == Failure.GENERIC_TIMEOUT and m.details.get("http_status") is not None


def works(measurements: Sequence[Measurement]) -> bool:
    """True when the deepest layer measured for this target succeeded."""
    if _of(measurements, TestKind.THROUGHPUT):
        return True  # a throughput sample exists only when the HTTPS GET got an answer
    for test in (TestKind.HTTP, TestKind.TLS, TestKind.TCP, TestKind.DNS):
        layer = _of(measurements, test)
        if test is TestKind.DNS:
            layer = [m for m in layer if m.details.get("dns_primary")]
        if layer:
            return any(m.outcome in _HARMLESS or _slow_not_missing(m) for m in layer)
    return False


def _dns_finding(measurements: Sequence[Measurement]) -> Finding | None:
    for m in _of(measurements, TestKind.DNS_INJECTION):
        if m.outcome == Failure.DNS_INJECTED:
            note = f"an answer came from {m.details.get('inj_address')}, which runs no resolver"
            return Finding(BlockMethod.DNS, Reason.DNS_INJECTED, (m.id,), note, 0.95)
    primary = _primary_dns(measurements)
    if primary is None or primary.outcome not in _DNS_REASONS:
        return None
    reason = _DNS_REASONS[primary.outcome]
    query = primary.details.get("dns_query")
    others = [
        m
        for m in _of(measurements, TestKind.DNS)
        if m is not primary
        and m.details.get("dns_query") == query
        and not m.details.get("dns_host")
    ]
    agree = [m for m in others if m.outcome == primary.outcome]
    resolver = primary.details.get("dns_resolver")
    if reason is Reason.DNS_INCONSISTENT and _validated(measurements, primary):
        return None  # a CDN answer: the address proves itself by TLS (OONI ts-017 does the same)
    if agree and reason in {Reason.DNS_NXDOMAIN, Reason.DNS_SERVFAIL, Reason.DNS_REFUSED}:
        note = f"{primary.outcome} from {resolver} and from {len(agree)} control resolver(s) too"
        return Finding(BlockMethod.DNS, reason, (primary.id, *(m.id for m in agree)), note, 0.2)
    confidence = BASE_CONFIDENCE[reason]
    healthy = [m for m in others if m.outcome == OK]
    if healthy:
        confidence = min(1.0, confidence + 0.1)
    note = f"{primary.outcome} from {resolver}" + (
        f"; {len(healthy)} control resolver(s) answered normally" if healthy else ""
    )
    return Finding(
        BlockMethod.DNS, reason, (primary.id, *(m.id for m in healthy)), note, confidence
    )


def _validated(measurements: Sequence[Measurement], primary: Measurement) -> bool:
    answers = set(primary.details.get("dns_answers", []))
    return any(
        m.outcome == OK and m.details.get("tls_address") in answers
        for m in _of(measurements, TestKind.TLS)
    )


def _tcp_finding(measurements: Sequence[Measurement]) -> Finding | None:
    tcp = _of(measurements, TestKind.TCP)
    https = [m for m in tcp if m.details.get("tcp_port") == 443] or tcp
    if not https or any(m.outcome == OK for m in https):
        return None
    first = https[0]
    reason = _TCP_REASONS.get(first.outcome)
    if reason is None:
        return None
    ports = sorted({int(m.details.get("tcp_port", 0)) for m in tcp if m.outcome != OK})
    note = f"{first.outcome} connecting to {first.details.get('tcp_address')} (ports {ports})"
    return Finding(
        BlockMethod.TCP, reason, tuple(m.id for m in https), note, BASE_CONFIDENCE[reason]
    )


def _tls_finding(measurements: Sequence[Measurement]) -> Finding | None:
    for m in _of(measurements, TestKind.TLS):
        if m.details.get("tls_stage") == "connect":
            continue  # a TCP-level failure; the TCP test speaks for it
        reason = _TLS_REASONS.get(m.outcome)
        if reason is None:
            continue
        confidence = BASE_CONFIDENCE[reason]
        note = f"{m.outcome} in the handshake with SNI {m.details.get('tls_sni')}"
        control = m.details.get("tls_control_failure")
        if reason in {Reason.TLS_RESET, Reason.TLS_TIMEOUT} and control is not None:
            sni = m.details.get("tls_control_sni")
            if control == OK:
                confidence = min(1.0, confidence + SNI_CONTROL_BONUS)
                note += f"; SNI {sni} to the same address works: SNI filtering"
            else:
                note += f"; SNI {sni} to the same address fails too ({control}): IP filtering"
        if reason is Reason.TLS_MITM:
            note += f"; certificate issued by {m.details.get('tls_issuer')}"
        return Finding(BlockMethod.TLS, reason, (m.id,), note, confidence)
    return None


def _http_finding(measurements: Sequence[Measurement]) -> Finding | None:
    for m in _of(measurements, TestKind.HTTP):
        reason = _HTTP_REASONS.get(m.outcome)
        if reason is None or _slow_not_missing(m):
            continue  # a slow body is for the throughput test to judge
        if reason is not Reason.HTTP_BLOCKPAGE and _tls_failed_for(measurements, m):
            continue  # the TLS layer already explains this HTTPS failure
        note = f"{m.outcome} fetching {m.details.get('http_url')}"
        if m.details.get("http_blockpage"):
            note += f" (fingerprint {m.details['http_blockpage']})"
        return Finding(BlockMethod.HTTP, reason, (m.id,), note, BASE_CONFIDENCE[reason])
    return None


def _tls_failed_for(measurements: Sequence[Measurement], http: Measurement) -> bool:
    if not str(http.details.get("http_url", "")).startswith("https:"):
        return False
    return any(m.outcome != OK for m in _of(measurements, TestKind.TLS))


def _throughput_finding(measurements: Sequence[Measurement]) -> Finding | None:
    for m in _of(measurements, TestKind.THROUGHPUT):
        if m.outcome == Failure.THROTTLED:
            note = (
                f"{m.details.get('tput_bps', 0):.0f} B/s against the controls' "
                f"{m.details.get('tput_control_bps', 0):.0f} B/s"
            )
            return Finding(BlockMethod.THROTTLED, Reason.THROTTLED, (m.id,), note, 0.7)
    return None


def findings(measurements: Sequence[Measurement]) -> list[Finding]:
    """Every layer's evidence, in layer order (DNS first).

    On a throttled path HTTP GETs time out as a consequence: those timeouts are not a block.
    """
    steps = (_dns_finding, _tcp_finding, _tls_finding, _http_finding, _throughput_finding)
    found = [f for f in (step(measurements) for step in steps) if f is not None]
    if any(f.reason is Reason.THROTTLED for f in found):
        found = [f for f in found if f.reason is not Reason.HTTP_TIMEOUT]
    return found


def judge(
    measurements: Sequence[Measurement], controls: Mapping[str, Sequence[Measurement]]
) -> Assessment:
    """The verdict for one target; ``controls`` are the other control targets of the round."""
    ids = tuple(m.id for m in measurements)
    if not measurements:
        return Assessment(VerdictKind.INCONCLUSIVE, None, None, 0.0, ids, "nothing was measured")
    found = findings(measurements)
    working = [name for name, ms in controls.items() if works(ms)]
    if not found:
        if works(measurements):
            confidence = 0.8 + 0.15 * len(working) / max(len(controls), 1)
            return Assessment(VerdictKind.ACCESSIBLE, None, None, confidence, ids, "works")
        if controls and not working:
            return Assessment(
                VerdictKind.OFFLINE, None, None, 0.6, ids, "every control target fails too"
            )
        return Assessment(
            VerdictKind.INCONCLUSIVE, None, None, 0.3, ids, "failed in a way no rule explains"
        )
    primary = _primary_dns(measurements)
    if primary is not None and primary.details.get("control_reachable") is False:
        return Assessment(
            VerdictKind.INCONCLUSIVE,
            None,
            None,
            0.6,
            found[0].measurement_ids,
            f"the control endpoint cannot reach it either (platform outage?): {found[0].note}",
        )
    return _judge_interference(found, controls, working)


def _judge_interference(
    found: list[Finding], controls: Mapping[str, Sequence[Measurement]], working: list[str]
) -> Assessment:
    """Interference was seen: blocked, offline (controls fail too) or inconclusive."""
    first = found[0]
    others = "; ".join(f"{f.reason.value}: {f.note}" for f in found[1:])
    detail = first.note + (f" (also {others})" if others else "")
    kind = VerdictKind.BLOCKED
    method: BlockMethod | None = first.method
    reason: Reason | None = first.reason
    confidence = round(first.confidence * (0.5 + 0.5 * len(working) / max(len(controls), 1)), 3)
    if first.confidence <= 0.2:
        kind, method, reason, confidence = VerdictKind.INCONCLUSIVE, None, None, 0.5
    elif not controls:
        kind, confidence = VerdictKind.INCONCLUSIVE, 0.3
        detail = f"no control target to tell censorship from an outage: {detail}"
    elif not working:
        kind, method, reason = VerdictKind.OFFLINE, None, None
        confidence = min(0.95, 0.6 + 0.1 * len(controls))
        detail = f"all {len(controls)} control target(s) fail too: {detail}"
    return Assessment(kind, method, reason, confidence, first.measurement_ids, detail)
