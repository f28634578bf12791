"""Verdicts: one target's measurements, plus the controls of the same round -> what happened.

Pure logic over Measurement records. The first layer that shows interference decides the method
(DNS, then TCP, TLS, HTTP, throughput), so a DNS block is never reported as a TCP failure. As in
OONI Web Connectivity (ts-017) a failure only means "blocked" when something shows the vantage is
online: control targets from the same vantage that work. When the controls fail as well the vantage
is ``offline`` (a shutdown), not censored; without any control the verdict is ``inconclusive``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from probe import layers
from probe.failures import OK, Failure
from probe.findings import (
    Caveat,
    Finding,
    control_of,
    control_view,
    dns_of,
    injection_note,
    of,
    primary_dns,
    reading_once,
    resolver_answers,
    resolver_down,
)
from probe.model import (
    BlockMethod,
    Measurement,
    Reason,
    TargetRef,
    TestKind,
    Vantage,
    Verdict,
    VerdictKind,
)

BASE_CONFIDENCE = layers.BASE_CONFIDENCE
# Things only a censor puts on the path: they prove interference even when the site is down
# for everyone (a blockpage answer for a name that no longer exists is still a blockpage).
ARTEFACTS = frozenset(
    {Reason.DNS_BLOCKPAGE, Reason.DNS_INJECTED, Reason.TLS_MITM, Reason.HTTP_BLOCKPAGE}
)
__all__ = ["BASE_CONFIDENCE", "OK", "Assessment", "Caveat", "Finding", "findings", "judge", "works"]


@dataclass(frozen=True, slots=True)
class Assessment:
    """The verdict's content, before it is stamped with ids, probe and time."""

    kind: VerdictKind
    method: BlockMethod | None
    reason: Reason | None
    confidence: float
    measurement_ids: tuple[str, ...]
    explanation: str

    def stamped(
        self,
        *,
        id: str,
        probe_id: str,
        vantage: Vantage,
        target: TargetRef,
        round_id: str,
        at: datetime,
    ) -> Verdict:
        """The verdict record: this content with its id, probe, vantage, target, round and time
        (the probe's round and the OONI importer stamp it alike)."""
        return Verdict(
            id=id,
            probe_id=probe_id,
            vantage=vantage,
            target=target,
            round_id=round_id,
            at=at,
            verdict=self.kind,
            method=self.method,
            reason=self.reason,
            confidence=round(self.confidence, 3),
            measurement_ids=self.measurement_ids,
            explanation=self.explanation,
        )


def works(measurements: Sequence[Measurement]) -> bool:
    """True when the deepest layer measured for this target succeeded (on any address)."""
    if of(measurements, TestKind.THROUGHPUT):
        return True  # a throughput sample exists only when the HTTPS GET got an answer
    for test in (TestKind.HTTP, TestKind.TLS, TestKind.TCP, TestKind.DNS):
        layer = of(measurements, test)
        if test is TestKind.DNS:
            layer = [m for m in layer if dns_of(m).primary]
        if layer:
            return any(layers.answered(m) for m in layer)
    return False


def _evidence(measurements: Sequence[Measurement]) -> tuple[list[Finding], list[Caveat]]:
    """Every layer's evidence, in layer order (DNS first), split into findings and caveats.

    On a throttled path HTTP GETs time out as a consequence: those timeouts are not a block.
    """
    control = control_of(measurements)
    seen = (
        layers.dns_finding(measurements),
        layers.tcp_finding(measurements),
        layers.tls_finding(measurements, control),
        layers.http_finding(measurements),
        layers.throughput_finding(measurements),
    )
    found = [f for f in seen if isinstance(f, Finding)]
    caveats = [c for c in seen if isinstance(c, Caveat)]
    if any(f.reason is Reason.THROTTLED for f in found):
        found = [f for f in found if f.reason is not Reason.HTTP_TIMEOUT]
    return found, caveats


def findings(measurements: Sequence[Measurement]) -> list[Finding]:
    """Every layer's evidence of interference, in layer order (DNS first)."""
    return _evidence(measurements)[0]


def judge(
    measurements: Sequence[Measurement],
    controls: Mapping[str, Sequence[Measurement]],
    *,
    known: Iterable[tuple[Measurement, object]] = (),
) -> Assessment:
    """The verdict for one target; ``controls`` are the other control targets of the round.

    ``known``: (measurement, typed evidence) pairs its maker already holds (the OONI importer),
    taken as read from the details (probe/findings.py ``reading_once``)."""
    if not measurements:
        return Assessment(VerdictKind.INCONCLUSIVE, None, None, 0.0, (), "nothing was measured")
    with reading_once(known):  # each record's evidence is read once, however many rules look
        return _judge(measurements, controls)


def _judge(
    measurements: Sequence[Measurement], controls: Mapping[str, Sequence[Measurement]]
) -> Assessment:
    found, caveats = _evidence(measurements)
    down = resolver_down(measurements, controls)
    if down is not None:  # the resolver fails for every name: its DNS finding is no block
        found = [f for f in found if f.method is not BlockMethod.DNS]
        caveats.insert(0, down)
    working = [name for name, ms in controls.items() if works(ms)]
    note = injection_note(measurements)
    if not found:
        return _no_interference(measurements, controls, working, caveats, note)
    if found[0].reason not in ARTEFACTS and down_for_everyone(measurements, found[0].method):
        return Assessment(
            VerdictKind.INCONCLUSIVE,
            None,
            None,
            0.6,
            found[0].measurement_ids,
            f"the control endpoint cannot reach it either (platform outage?): {found[0].note}",
        )
    return _judge_interference(found, controls, working)


_STAGE = {BlockMethod.DNS: 0, BlockMethod.TCP: 1, BlockMethod.TLS: 2, BlockMethod.HTTP: 3}


def down_for_everyone(measurements: Sequence[Measurement], method: BlockMethod) -> bool:
    """The control endpoint's failure explains this vantage's failure at ``method``'s stage.

    It does when the name is gone (NXDOMAIN, no address, there too), or when the control got at
    least as far as this vantage and failed there or later (the server fails from outside too).
    A control that failed earlier than this vantage (its own resolver timed out; it could not
    connect where this vantage did) has no view of the failing stage: it explains nothing.
    A name gone explains no answer: a resolver that answers for it is the one at fault; nor a
    failure after this vantage reached the site's own server (a handshake validated for the
    name): the site is up, whatever the control's resolver says.
    """
    if control_view(measurements).reachable is not False:
        return False
    control = control_of(measurements)
    if control is None:
        return True  # only the flag (an import without the full result): take it as given
    if control.dns_failure is not None:
        if method is BlockMethod.DNS and _answered(measurements):
            return False
        return control.name_gone and not any(
            m.outcome == OK for m in of(measurements, TestKind.TLS)
        )
    if control.tcp_failure == Failure.ADDRESS_REFUSED:
        return False
    reached = 1 if control.tcp_failure else 2 if control.tls_failure else 3
    return reached >= _STAGE.get(method, 3)


_ANSWERS = frozenset({OK, Failure.DNS_INCONSISTENT, Failure.DNS_BOGON})


def _answered(measurements: Sequence[Measurement]) -> bool:
    """The primary resolver gave addresses (whatever they are worth), not a failure."""
    primary = primary_dns(measurements)
    return primary is not None and primary.outcome in _ANSWERS and bool(dns_of(primary).answers)


def _no_interference(
    measurements: Sequence[Measurement],
    controls: Mapping[str, Sequence[Measurement]],
    working: list[str],
    caveats: list[Caveat],
    note: str | None,
) -> Assessment:
    """Nothing points at a censor: accessible, or why not (the site's fault, an outage)."""
    ids = tuple(m.id for m in measurements)
    cut = controls and not working
    if caveats and not (cut and not resolver_answers(controls) and not works(measurements)):
        first = caveats[0]
        detail = "; ".join(c.note for c in caveats)
        return Assessment(VerdictKind.INCONCLUSIVE, None, None, 0.6, first.measurement_ids, detail)
    if works(measurements):
        confidence = 0.8 + 0.15 * len(working) / max(len(controls), 1)
        explanation = "works" + (f"; {note}" if note else "")
        return Assessment(VerdictKind.ACCESSIBLE, None, None, confidence, ids, explanation)
    if cut:
        return Assessment(
            VerdictKind.OFFLINE, None, None, 0.6, ids, "every control target fails too"
        )
    return Assessment(
        VerdictKind.INCONCLUSIVE, None, None, 0.3, ids, "failed in a way no rule explains"
    )


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
