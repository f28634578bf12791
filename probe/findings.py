"""Per-layer evidence for the verdict: what each layer's measurements show (pure logic).

Each layer gives at most one ``Finding`` (interference: a candidate for ``blocked``) or one
``Caveat`` (something is wrong that is not censorship: the site's own certificate, a resolver down
for every name; it makes an otherwise working target ``inconclusive``). A layer that worked on any
address gives nothing: a browser tries every address, so one working address means reachable.
``Note`` records what was seen but changes no verdict (an injector forging the true answer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, TypeVar

from probe.consistency import consistency_of
from probe.evidence import (
    ControlEvidence,
    ControlResult,
    ControlResultError,
    DnsEvidence,
    HttpEvidence,
    InjectionEvidence,
    TcpEvidence,
    ThroughputEvidence,
    TlsEvidence,
)
from probe.failures import OK, Failure
from probe.model import BlockMethod, Measurement, Reason, TestKind

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


# The typed evidence of one measurement (probe/evidence/stages.py), read from its details.

_Record = TypeVar(
    "_Record",
    DnsEvidence,
    InjectionEvidence,
    TcpEvidence,
    TlsEvidence,
    HttpEvidence,
    ThroughputEvidence,
    ControlEvidence,
)
# Inside ``reading_once()``: (id(measurement), class) -> (measurement, its record), and
# (id(sequence), Measurement) -> (sequence, its primary lookup). The object is kept beside
# its entry so that its id cannot be reused while the memo lives.
_MEMO: ContextVar[dict[tuple[int, type], tuple[Any, Any]] | None] = ContextVar(
    "evidence_memo", default=None
)


class _ReadingOnce:
    """The context manager ``reading_once`` returns (a class: cheaper than a generator's)."""

    __slots__ = ("seeded", "token")

    def __init__(self, seeded: dict[tuple[int, type], tuple[Any, Any]]) -> None:
        self.seeded = seeded
        self.token: Token[dict[tuple[int, type], tuple[Any, Any]] | None] | None = None

    def __enter__(self) -> None:
        memo = _MEMO.get()
        if memo is not None:  # nested: the outer block's memo, with these records added
            memo.update(self.seeded)
        else:
            self.token = _MEMO.set(self.seeded)

    def __exit__(self, *exc: object) -> None:
        if self.token is not None:
            _MEMO.reset(self.token)
            self.token = None


def reading_once(known: Iterable[tuple[Measurement, object]] = ()) -> _ReadingOnce:
    """Within the block each measurement's typed evidence is read from its details once.

    The verdict's rules read the same records many times over one judge() call (every layer,
    every control target); the records are frozen and the details are not changed while a
    verdict is made, so the memo changes no result, only the cost. Nested blocks share one memo.
    ``known``: (measurement, record) pairs whose records the caller built and flattened into
    the details itself (DnsEvidence, ..., ControlEvidence, ControlResult): the memo starts with
    them, as if read (tests/ooni/test_judge_memo.py holds them equal to the read-back ones).
    """
    return _ReadingOnce({(id(m), type(record)): (m, record) for m, record in known})


def _read(cls: type[_Record], m: Measurement) -> _Record:
    memo = _MEMO.get()
    if memo is None:
        return cls.from_dict(m.details)
    key = (id(m), cls)
    hit = memo.get(key)
    if hit is not None and hit[0] is m:
        record: _Record = hit[1]
        return record
    record = cls.from_dict(m.details)
    memo[key] = (m, record)
    return record


def dns_of(m: Measurement) -> DnsEvidence:
    return _read(DnsEvidence, m)


def inj_of(m: Measurement) -> InjectionEvidence:
    return _read(InjectionEvidence, m)


def tcp_of(m: Measurement) -> TcpEvidence:
    return _read(TcpEvidence, m)


def tls_of(m: Measurement) -> TlsEvidence:
    return _read(TlsEvidence, m)


def http_of(m: Measurement) -> HttpEvidence:
    return _read(HttpEvidence, m)


def tput_of(m: Measurement) -> ThroughputEvidence:
    return _read(ThroughputEvidence, m)


def primary_dns(measurements: Sequence[Measurement]) -> Measurement | None:
    memo = _MEMO.get()
    if memo is None:
        return _primary_dns(measurements)
    key = (id(measurements), Measurement)  # the sequence's primary lookup, once per judge()
    hit = memo.get(key)
    if hit is not None and hit[0] is measurements:
        found: Measurement | None = hit[1]
        return found
    found = _primary_dns(measurements)
    memo[key] = (measurements, found)
    return found


def _primary_dns(measurements: Sequence[Measurement]) -> Measurement | None:
    dns = [m for m in of(measurements, TestKind.DNS) if dns_of(m).primary]
    return dns[0] if dns else None


def control_view(measurements: Sequence[Measurement]) -> ControlEvidence:
    """The control endpoint's view, from the primary DNS measurement (empty when none)."""
    primary = primary_dns(measurements)
    return _read(ControlEvidence, primary) if primary else ControlEvidence()


def control_of(measurements: Sequence[Measurement]) -> ControlResult | None:
    """The control endpoint's full result (if any)."""
    primary = primary_dns(measurements)
    memo = _MEMO.get()
    if primary is None or memo is None:
        return _control_result(control_view(measurements))
    key = (id(primary), ControlResult)
    hit = memo.get(key)
    if hit is not None and hit[0] is primary:
        result: ControlResult | None = hit[1]
        return result
    result = _control_result(_read(ControlEvidence, primary))
    memo[key] = (primary, result)
    return result


def _control_result(view: ControlEvidence) -> ControlResult | None:
    if view.result is None:
        return None
    try:
        return ControlResult.from_dict(view.result)
    except ControlResultError:
        return None  # an unreadable control is no control


def resolver_identity(m: Measurement) -> tuple[str, str]:
    """A resolver is its address, port and transport, not where it was configured."""
    return dns_of(m).identity


def slow_not_missing(m: Measurement) -> bool:
    """An HTTP GET that got its status line and then ran out of time: reachable, but slow."""
    return m.outcome == Failure.GENERIC_TIMEOUT and http_of(m).status is not None


# ----- DNS injection -----


def injected_answers_genuine(measurements: Sequence[Measurement]) -> bool | None:
    """Are the answers an injector raced in the genuine addresses? None: nothing injected.

    Genuine when every injected address proved itself (a validated TLS handshake for this name
    from this vantage) or is consistent with an independent view: an encrypted resolver's answer
    (DoH/DoT/DoQ; a cleartext one can be forged on the same path), or the control endpoint's. An
    injector forging the true answer is recorded, not a block.
    """
    injected = _injected_addresses(measurements)
    if not injected:
        return None
    validated = {tls_of(m).address for m in of(measurements, TestKind.TLS) if m.outcome == OK}
    reference: set[str] = set()
    for m in of(measurements, TestKind.DNS):
        dns = dns_of(m)
        if not dns.primary and not dns.host and dns.encrypted and m.outcome == OK:
            reference.update(dns.answers)
    control = control_of(measurements)
    if control is not None:
        reference.update(control.addresses)
    frozen = frozenset(reference)
    return all(a in validated or consistency_of([a], frozen) == "consistent" for a in injected)


def _injected_addresses(measurements: Sequence[Measurement]) -> set[str]:
    found: set[str] = set()
    for m in of(measurements, TestKind.DNS_INJECTION):
        if m.outcome == Failure.DNS_INJECTED:
            answers = inj_of(m).answers
            found.update(a for answer in answers for a in answer)
            if not answers:
                found.add("")  # injected, answers unknown: never genuine
    primary = primary_dns(measurements)
    if primary is not None and primary.outcome == Failure.DNS_INJECTED:
        dns = dns_of(primary)
        found.update(dns.answers)
        found.update(a for answer in dns.extra_answers for a in answer)
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
        Failure.DNS_NO_ANSWER,
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
        f"resolver {dns_of(primary).resolver} fails for the control targets too "
        f"({', '.join(failures)}): the resolver is down for every name, not filtering this one"
    )
    return Caveat(note, (primary.id, *(p.id for p in same)))


def resolver_answers(controls: Mapping[str, Sequence[Measurement]]) -> bool:
    """A resolver answered a control target (an rcode, not a timeout): the vantage is not cut."""
    return any(
        p is not None and p.outcome in RESOLVER_FAILURES and p.outcome != Failure.DNS_TIMEOUT
        for p in (primary_dns(ms) for ms in controls.values())
    )
