"""df-002 DNS queries as our DNS records (``probe.evidence.DnsEvidence``).

OONI splits a lookup into per-type queries (the ``system`` engine: one A and one AAAA; modern
``getaddrinfo``: one ANY); they are folded into one :class:`Lookup` per (name, engine, resolver),
as our probe asks A and AAAA together. Each lookup is then classified the way
``probe.dns.classify`` does on the probe: a failure, racing answers, bogons, a known blockpage
address, or answers inconsistent with an independent view.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dns.rcode

from collector.ooni.evidence import Context
from collector.ooni.failures import failure_of
from collector.ooni.stages import (
    PRIMARY_TAG,
    entries_of,
    has_tag,
    raw_failure,
    seconds,
)
from probe.bogons import Network, is_bogon
from probe.consistency import consistency_of
from probe.evidence import ENCRYPTED_TRANSPORTS, DnsEvidence
from probe.failures import OK, Failure

SYSTEM_ENGINES = frozenset({"system", "getaddrinfo", "golang_net_resolver", "go", "unknown", ""})
# df-002 engines whose answers a censor on the path cannot forge unseen (DoH, DoT, DoQ): the
# probe's own rule for which resolvers may vouch (probe.evidence.ENCRYPTED_TRANSPORTS)
ENCRYPTED_ENGINES = ENCRYPTED_TRANSPORTS
# Our probe's classifications of an answer, carried by our export (x_tyndau_outcome).
DNS_JUDGEMENTS = frozenset(
    {OK, Failure.DNS_BOGON, Failure.DNS_BLOCKPAGE, Failure.DNS_INJECTED, Failure.DNS_INCONSISTENT}
)


@dataclass(frozen=True, slots=True)
class Lookup:
    """One resolver's answer for one name: OONI's A/AAAA/ANY queries of it folded together."""

    hostname: str
    engine: str
    resolver: str
    addresses: tuple[str, ...]
    asns: frozenset[int]
    failure: str | None
    failure_raw: str | None
    rcode: str | None
    t0: float
    t: float
    classic: bool
    extra_answers: tuple[tuple[str, ...], ...] = ()
    marked_primary: bool = False  # tagged x_tyndau_primary by our export
    stated: str | None = None  # our export's outcome for it (x_tyndau_outcome)


@dataclass(frozen=True, slots=True)
class DnsControl:
    """What an independent view (OONI's test helper, other resolvers) resolved for the name.

    ``name_gone``: the test helper's resolver says the name has no address (NXDOMAIN, no
    answer); ts-017 then reads any address the probe got as inconsistent."""

    addresses: frozenset[str] = frozenset()
    asns: frozenset[int] = frozenset()
    name_gone: bool = False


def lookups(queries: object) -> list[Lookup]:
    """Queries grouped by (hostname, engine, resolver), in first-seen order."""
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for query in entries_of(queries):
        key = (
            str(query.get("hostname") or "").lower().rstrip("."),
            str(query.get("engine") or ""),
            str(query.get("resolver_address") or ""),
        )
        groups.setdefault(key, []).append(query)
    return [
        _fold(hostname, engine, resolver, group)
        for (hostname, engine, resolver), group in groups.items()
    ]


def _fold(hostname: str, engine: str, resolver: str, group: list[Mapping[str, Any]]) -> Lookup:
    addresses: list[str] = []
    asns: set[int] = set()
    for query in group:
        for answer in entries_of(query.get("answers")):
            address = answer.get("ipv4") or answer.get("ipv6")
            if isinstance(address, str) and address and address not in addresses:
                addresses.append(address)
                asn = answer.get("asn")
                if isinstance(asn, int) and asn > 0:
                    asns.add(asn)
    raw = next((q.get("failure") for q in group if q.get("failure")), None)
    failure = None if addresses else (failure_of(raw, dns=True) or Failure.DNS_NO_ANSWER.value)
    first = group[0]
    extra = first.get("x_tyndau_extra_answers")  # our probe's racing answers (our export)
    stated = first.get("x_tyndau_outcome")
    return Lookup(
        hostname=hostname,
        engine=engine or "unknown",
        resolver=resolver or engine or "system",
        addresses=tuple(addresses),
        asns=frozenset(asns),
        failure=failure,
        failure_raw=None if addresses else raw_failure(raw, failure),
        rcode=_rcode(first.get("rcode")),
        t0=min(seconds(q.get("t0")) for q in group),
        t=max(seconds(q.get("t")) for q in group),
        classic=any(has_tag(q, "classic") for q in group),
        extra_answers=tuple(tuple(map(str, e)) for e in extra if isinstance(e, list))
        if isinstance(extra, list)
        else (),
        marked_primary=any(has_tag(q, PRIMARY_TAG) for q in group),
        stated=stated if isinstance(stated, str) and stated in DNS_JUDGEMENTS else None,
    )


def _rcode(value: object) -> str | None:
    """df-002's integer rcode as our text form (``NXDOMAIN``), like the probe records it."""
    if isinstance(value, str) and value:
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return dns.rcode.to_text(dns.rcode.Rcode.make(value))
    except ValueError:
        return str(value)


def classify(
    found: Lookup, control: DnsControl | None, context: Context, *, validated: bool
) -> tuple[str, str, tuple[str, ...]]:
    """(outcome, consistency, bogons), as ``probe.dns.classify`` judges a probe's lookup.

    ts-017's consistency: the same addresses, or the same ASNs where OONI recorded them, or an
    address that proved itself for the name (``validated``: a TLS handshake or a page matching
    the control's was fetched from it). An answer for a name the test helper finds no address
    for is inconsistent (OONI's classic analysis: "successful lookups, and the control resolved
    nothing"), unless it proved itself.
    """
    if found.failure is not None:
        return found.failure, "unknown", ()
    bogons = tuple(a for a in found.addresses if _bogon(a, context.allow_net))
    consistency = "unknown"
    if control is not None:  # the probe's rule (probe.consistency), then ts-017's rescues
        gone = control.name_gone
        shared = not gone and not control.addresses.isdisjoint(found.addresses)  # common, fast
        consistency = (
            "consistent"
            if shared
            else consistency_of(found.addresses, control.addresses, name_gone=gone)
        )
        if consistency == "inconsistent" and (
            validated or (not gone and found.asns & control.asns)
        ):
            consistency = "consistent"
    return _judged(found, context, consistency, bogons), consistency, bogons


@functools.lru_cache(maxsize=65536)
def _bogon(address: str, allow: tuple[Network, ...]) -> bool:
    """``probe.bogons.is_bogon``, cached: archives repeat the same CDN addresses endlessly."""
    return is_bogon(address, allow=allow)


def _judged(found: Lookup, context: Context, consistency: str, bogons: tuple[str, ...]) -> str:
    """The first artefact seen, in ``probe.dns.classify``'s order."""
    if found.stated is not None:
        # our probe's classification, made with evidence the format has no key for (an ASN
        # check, racing answers, the probe's control resolvers): kept as it was
        return found.stated
    if found.extra_answers:
        return Failure.DNS_INJECTED
    if bogons:
        return Failure.DNS_BOGON
    if blockpage_addresses(found, context):
        return Failure.DNS_BLOCKPAGE
    if consistency == "inconsistent":
        return Failure.DNS_INCONSISTENT
    return OK


def blockpage_addresses(found: Lookup, context: Context) -> tuple[str, ...]:
    known = context.blockpage_addresses
    return tuple(a for a in found.addresses if a in known)


def evidence(
    found: Lookup,
    context: Context,
    *,
    primary: bool,
    host: bool,
    consistency: str,
    bogons: tuple[str, ...],
    outcome: str,
) -> DnsEvidence:
    """The lookup's typed ``dns_*`` evidence (its details are ``flatten(evidence(...))``)."""
    return DnsEvidence(
        query=found.hostname,
        resolver=found.resolver,
        transport="udp" if found.engine in SYSTEM_ENGINES else found.engine,
        system=found.engine in SYSTEM_ENGINES,
        primary=primary,
        rcode=found.rcode,
        answers=found.addresses,
        extra_answers=found.extra_answers,
        bogons=bogons,
        blockpage=blockpage_addresses(found, context),
        consistency=consistency,
        t=round(found.t - found.t0, 6),
        failure=None if outcome == OK else outcome,
        failure_raw=found.failure_raw,
        host=True if host else None,
    )
