"""Per-layer evidence for the verdict: what each layer's measurements show (pure logic).

Each layer gives at most one ``Finding`` (interference: a candidate for ``blocked``) or one
``Caveat`` (something is wrong that is not censorship: the site's own certificate, a resolver down
for every name; it makes an otherwise working target ``inconclusive``). A layer that worked on any
address gives nothing: a browser tries every address, so one working address means reachable.
``Note`` records what was seen but changes no verdict (an injector forging the true answer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from probe.dns import consistency_of
from probe.evidence import ControlResult, ControlResultError
from probe.failures import Failure
from probe.model import BlockMethod, Measurement, Reason, TestKind

OK = "ok"
# Outcomes that do not mean the target failed.
HARMLESS = frozenset({OK, Failure.HTTP_BODY_TOO_LARGE})


@dataclass(frozen=True, slots=True)
class Finding:
    """One layer's evidence of interference."""

    method: BlockMethod
    reason: Reason
    measurement_ids: tuple[str, ...]
    note: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Caveat:
    """A failure that is not censorship: the verdict is inconclusive, with this note."""

    note: str
    measurement_ids: tuple[str, ...]


def of(measurements: Sequence[Measurement], test: TestKind) -> list[Measurement]:
    return [m for m in measurements if m.test is test]


def primary_dns(measurements: Sequence[Measurement]) -> Measurement | None:
    dns = [m for m in of(measurements, TestKind.DNS) if m.details.get("dns_primary")]
    return dns[0] if dns else None


def control_of(measurements: Sequence[Measurement]) -> ControlResult | None:
    """The control endpoint's result, stored on the primary DNS measurement (if any)."""
    primary = primary_dns(measurements)
    data = primary.details.get("control_result") if primary is not None else None
    if data is None:
        return None
    try:
        return ControlResult.from_dict(data)
    except ControlResultError:
        return None  # an unreadable control is no control


def resolver_identity(m: Measurement) -> tuple[str, str]:
    """A resolver is its address, port and transport (the label holds all three)."""
    transport = str(m.details.get("dns_transport", "")).split(",")[0]
    label = str(m.details.get("dns_resolver", ""))
    if transport in {"udp", "tcp"} and not label.startswith("tcp://"):
        transport = "udp"  # a UDP resolver that fell back to TCP is still that resolver
    return (label, transport)


def slow_not_missing(m: Measurement) -> bool:
    """An HTTP GET that got its status line and then ran out of time: reachable, but slow."""
    return m.outcome == Failure.GENERIC_TIMEOUT and m.details.get("http_status") is not None


# ----- DNS injection -----


def injected_answers_genuine(measurements: Sequence[Measurement]) -> bool | None:
    """Are the answers an injector raced in the genuine addresses? None: nothing injected.

    Genuine when every injected address proved itself (a validated TLS handshake for this name
    from this vantage) or is consistent with an independent view: another resolver's answer, or
    the control endpoint's. An injector forging the true answer is recorded, not a block.
    """
    injected = _injected_addresses(measurements)
    if not injected:
        return None
    validated = {
        str(m.details.get("tls_address")) for m in of(measurements, TestKind.TLS) if m.outcome == OK
    }
    reference: set[str] = set()
    for m in of(measurements, TestKind.DNS):
        independent = not m.details.get("dns_primary") and not m.details.get("dns_host")
        if independent and m.outcome == OK:
            reference.update(m.details.get("dns_answers", []))
    control = control_of(measurements)
    if control is not None:
        reference.update(control.addresses)
    frozen = frozenset(reference)
    return all(a in validated or consistency_of([a], frozen) == "consistent" for a in injected)


def _injected_addresses(measurements: Sequence[Measurement]) -> set[str]:
    found: set[str] = set()
    for m in of(measurements, TestKind.DNS_INJECTION):
        if m.outcome == Failure.DNS_INJECTED:
            found.update(a for answer in m.details.get("inj_answers", []) for a in answer)
            if not m.details.get("inj_answers"):
                found.add("")  # injected, answers unknown: never genuine
    primary = primary_dns(measurements)
    if primary is not None and primary.outcome == Failure.DNS_INJECTED:
        found.update(primary.details.get("dns_answers", []))
        found.update(a for answer in primary.details.get("dns_extra_answers", []) for a in answer)
    return found


def injection_note(measurements: Sequence[Measurement]) -> str | None:
    if injected_answers_genuine(measurements) is not True:
        return None
    return "an on-path injector answers DNS queries for this name, with the genuine address"


# ----- resolver down for every name -----

RESOLVER_FAILURES = frozenset(
    {
        Failure.DNS_TIMEOUT,
        Failure.DNS_SERVFAIL,
        Failure.DNS_REFUSED,
        Failure.DNS_NXDOMAIN,
        Failure.DNS_MALFORMED,
    }
)


def resolver_down(
    measurements: Sequence[Measurement], controls: Mapping[str, Sequence[Measurement]]
) -> Caveat | None:
    """The vantage's resolver fails for the control targets too: it is down, not filtering."""
    primary = primary_dns(measurements)
    if primary is None or primary.outcome not in RESOLVER_FAILURES:
        return None
    same = [
        p
        for ms in controls.values()
        if (p := primary_dns(ms)) is not None and resolver_identity(p) == resolver_identity(primary)
    ]
    if not same or any(p.outcome not in RESOLVER_FAILURES for p in same):
        return None
    failures = sorted({p.outcome for p in same})
    note = (
        f"resolver {primary.details.get('dns_resolver')} fails for the control targets too "
        f"({', '.join(failures)}): the resolver is down for every name, not filtering this one"
    )
    return Caveat(note, (primary.id, *(p.id for p in same)))


def resolver_answers(controls: Mapping[str, Sequence[Measurement]]) -> bool:
    """A resolver answered a control target (an rcode, not a timeout): the vantage is not cut."""
    return any(
        p is not None and p.outcome in RESOLVER_FAILURES and p.outcome != Failure.DNS_TIMEOUT
        for p in (primary_dns(ms) for ms in controls.values())
    )
