"""OONI's per-stage records (df-002 queries, df-005 tcp_connect, df-006 tls_handshakes, df-001
requests) as tyndau Measurement records with our stage-prefixed details keys.

A :class:`Stamper` makes the records of one OONI measurement: deterministic ids, the vantage,
the target, and ``started_at`` = ``measurement_start_time`` + the operation's ``t0``. Per-stage
judgement that the probe makes in ``probe/steps.py`` (bogon answers, consistency with the
control's addresses, blockpage fingerprints, the HTTP comparison with the control) is made here
with the same functions, so the verdict engine sees the keys it sees from our probes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from collector.ooni.evidence import Context
from collector.ooni.failures import failure_of
from collector.ooni.ids import stable_uuid7
from probe import http, pagediff
from probe.blockpages import Blockpages
from probe.bogons import is_bogon
from probe.dns import consistency_of
from probe.evidence import ControlResult
from probe.failures import Failure
from probe.interception import InterceptionCAs
from probe.model import Measurement, TargetRef, TestKind, Vantage
from probe.x509 import CertificateParseError, CertNames, read_names

OK = "ok"
PRIMARY_TAG = "x_tyndau_primary"
EXTENSION_TAG = "x_tyndau_extension"  # exported: stored, but not evidence when it was imported
SYSTEM_ENGINES = frozenset({"system", "getaddrinfo", "golang_net_resolver", "go", "unknown", ""})


@dataclass
class Stamper:
    """Makes the Measurement records of one OONI measurement, numbered in order."""

    key: str  # the measurement's identity (measurement_uid or the hashed tuple)
    start: datetime
    probe_id: str
    probe_version: str
    vantage: Vantage
    target: TargetRef
    round_id: str
    made: list[Measurement] = field(default_factory=list)

    def make(
        self, test: TestKind, t0: object, t: object, outcome: str, details: dict[str, Any]
    ) -> Measurement:
        begin = _seconds(t0)
        end = max(_seconds(t), begin)
        at = self.start + timedelta(seconds=begin)
        record = Measurement(
            id=stable_uuid7(at, f"{self.key}/{len(self.made)}"),
            probe_id=self.probe_id,
            probe_version=self.probe_version,
            vantage=self.vantage,
            target=self.target,
            test=test,
            started_at=at,
            duration_ms=round((end - begin) * 1000, 3),
            outcome=outcome,
            round_id=self.round_id,
            details=details,
        )
        self.made.append(record)
        return record


def _seconds(value: object) -> float:
    return float(value) if isinstance(value, int | float) and value >= 0 else 0.0


def mapping_of(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def entries_of(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def classic_only(entries: Sequence[Mapping[str, Any]], *, tagged: bool) -> list[Mapping[str, Any]]:
    """ts-017: results come from the "classic" algorithm only. In a measurement that tags its
    results (0.5) that is the ``classic``-tagged ones; untagged measurements (0.4) are classic."""
    if not tagged:
        return list(entries)
    return [e for e in entries if "classic" in (e.get("tags") or ())]


def uses_tags(*lists: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a measurement marks its classic results with the ``classic`` tag (0.5)."""
    return any("classic" in (e.get("tags") or ()) for entries in lists for e in entries)


@dataclass(frozen=True, slots=True)
class Lookup:
    """One resolver's answer for one name: OONI's A/AAAA/ANY queries of it folded together."""

    hostname: str
    engine: str
    resolver: str
    addresses: tuple[str, ...]
    asns: frozenset[int]
    failure: str | None
    rcode: int | None
    t0: float
    t: float
    classic: bool
    extra_answers: tuple[tuple[str, ...], ...] = ()
    marked_primary: bool = False  # tagged x_tyndau_primary by our export
    stated: str | None = None  # our export's outcome for it (x_tyndau_outcome)


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
    found: list[Lookup] = []
    for (hostname, engine, resolver), group in groups.items():
        addresses: list[str] = []
        asns: set[int] = set()
        for query in group:
            for answer in entries_of(query.get("answers")):
                address = answer.get("ipv4") or answer.get("ipv6")
                if isinstance(address, str) and address and address not in addresses:
                    addresses.append(address)
                    if isinstance(answer.get("asn"), int) and answer["asn"] > 0:
                        asns.add(answer["asn"])
        failures = [failure_of(q.get("failure"), dns=True) for q in group]
        failure = None if addresses else next((f for f in failures if f), Failure.DNS_NO_ANSWER)
        rcode = group[0].get("rcode")
        extra = group[0].get("x_tyndau_extra_answers")  # our probe's racing answers (export)
        found.append(
            Lookup(
                hostname=hostname,
                engine=engine or "unknown",
                resolver=resolver or engine or "system",
                addresses=tuple(addresses),
                asns=frozenset(asns),
                failure=failure,
                rcode=rcode if isinstance(rcode, int) else None,
                t0=min(_seconds(q.get("t0")) for q in group),
                t=max(_seconds(q.get("t")) for q in group),
                classic=any("classic" in (q.get("tags") or ()) for q in group),
                marked_primary=any(PRIMARY_TAG in (q.get("tags") or ()) for q in group),
                stated=_stated(group[0].get("x_tyndau_outcome")),
                extra_answers=tuple(tuple(map(str, e)) for e in extra if isinstance(e, list))
                if isinstance(extra, list)
                else (),
            )
        )
    return found


def _stated(value: object) -> str | None:
    return value if isinstance(value, str) and (value == OK or value in DNS_JUDGEMENTS) else None


DNS_JUDGEMENTS = frozenset(
    {
        Failure.DNS_BOGON,
        Failure.DNS_BLOCKPAGE,
        Failure.DNS_INJECTED,
        Failure.DNS_INCONSISTENT,
    }
)


@dataclass(frozen=True, slots=True)
class DnsControl:
    """What the other side (OONI's test helper) resolved for the same name."""

    addresses: frozenset[str] = frozenset()
    asns: frozenset[int] = frozenset()


def dns_outcome(
    found: Lookup, control: DnsControl | None, context: Context, *, validated: bool
) -> tuple[str, str, list[str]]:
    """(outcome, consistency, bogons), as ``probe.dns.classify`` judges a probe's lookup.

    ts-017's consistency: the same addresses, or the same ASNs where OONI recorded them, or an
    address that proved itself for the name (``validated``: a TLS handshake or a page matching
    the control's was fetched from it).
    """
    if found.failure is not None:
        return found.failure, "unknown", []
    bogons = [a for a in found.addresses if is_bogon(a, allow=context.allow_net)]
    consistency = "unknown"
    if control is not None and control.addresses:
        consistency = consistency_of(found.addresses, control.addresses)
        if consistency == "inconsistent" and (validated or found.asns & control.asns):
            consistency = "consistent"
    return _judged(found, context, consistency, bogons), consistency, bogons


def _judged(found: Lookup, context: Context, consistency: str, bogons: list[str]) -> str:
    """The first artefact seen, in ``probe.dns.classify``'s order."""
    if found.stated is not None:
        # our probe's classification, made with evidence the format has no key for (an ASN
        # check, racing answers, the probe's control resolvers): kept as it was
        return found.stated
    if found.extra_answers:
        return Failure.DNS_INJECTED
    if bogons:
        return Failure.DNS_BOGON
    if any(a in context.blockpages.addresses for a in found.addresses):
        return Failure.DNS_BLOCKPAGE
    if consistency == "inconsistent":
        return Failure.DNS_INCONSISTENT
    return OK


def dns_details(
    found: Lookup, *, primary: bool, host: bool, consistency: str, bogons: list[str], outcome: str
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "dns_query": found.hostname,
        "dns_resolver": found.resolver,
        "dns_transport": "udp" if found.engine in SYSTEM_ENGINES else found.engine,
        "dns_system": found.engine in SYSTEM_ENGINES,
        "dns_primary": primary,
        "dns_rcode": found.rcode,
        "dns_answers": list(found.addresses),
        "dns_extra_answers": [list(a) for a in found.extra_answers],
        "dns_bogons": bogons,
        "dns_consistency": consistency,
        "dns_t": round(found.t - found.t0, 6),
        "dns_failure": None if outcome == OK else outcome,
    }
    if host:
        details["dns_host"] = True
    return details


def split_endpoint(address: object) -> tuple[str, int | None]:
    """``"1.2.3.4:443"`` / ``"[::1]:443"`` -> (address, port)."""
    text = str(address or "")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            return text, None
    return host, int(port) if port.isdigit() else None


def tcp_records(stamper: Stamper, entries: Iterable[Mapping[str, Any]]) -> list[Measurement]:
    made = []
    for entry in entries:
        status = mapping_of(entry.get("status"))
        failure = failure_of(status.get("failure"))
        if failure is None and status.get("success") is False:
            failure = Failure.UNKNOWN.value
        port = entry.get("port")
        details = {
            "tcp_address": str(entry.get("ip") or ""),
            "tcp_port": port if isinstance(port, int) else 0,
            "tcp_address_source": "primary",
            "tcp_t": round(_seconds(entry.get("t")) - _seconds(entry.get("t0")), 6),
            "tcp_failure": failure,
        }
        made.append(
            stamper.make(TestKind.TCP, entry.get("t0"), entry.get("t"), failure or OK, details)
        )
    return made


def tls_records(
    stamper: Stamper, entries: Iterable[Mapping[str, Any]], interception: InterceptionCAs
) -> list[Measurement]:
    made = []
    for entry in entries:
        failure = failure_of(entry.get("failure"))
        address, _ = split_endpoint(entry.get("address"))
        issuer, ca = entry.get("x_tyndau_issuer"), entry.get("x_tyndau_interception_ca")
        leaf, subject = entry.get("x_tyndau_leaf_sha256"), None
        der = _leaf_der(entry.get("peer_certificates"))
        if der is not None:
            leaf = hashlib.sha256(der).hexdigest()
        if der is not None and failure is not None:  # a refused certificate: whose was it?
            names = _names(der)
            if names is not None:
                issuer, subject = names.issuer_text, names.subject_text
                ca = interception.match(names)
                if ca is not None:
                    failure = Failure.SSL_INTERCEPTED.value
        details = {
            "tls_address": address,
            "tls_sni": entry.get("server_name"),
            "tls_stage": "handshake",
            "tls_version": entry.get("tls_version") or None,
            "tls_issuer": issuer,
            "tls_subject": subject,
            "tls_interception_ca": ca,
            "tls_leaf_sha256": leaf,
            "tls_t": round(_seconds(entry.get("t")) - _seconds(entry.get("t0")), 6),
            "tls_failure": failure,
            "tls_chain_trusted": _chain_trusted(failure),
            "tls_control_sni": entry.get("x_tyndau_control_sni"),
            "tls_control_failure": entry.get("x_tyndau_control_failure"),
        }
        made.append(
            stamper.make(TestKind.TLS, entry.get("t0"), entry.get("t"), failure or OK, details)
        )
    return made


def _chain_trusted(failure: str | None) -> bool | None:
    """A refused certificate from a trusted root (wrong name, expired) vs an unknown CA."""
    if failure in {Failure.SSL_INVALID_HOSTNAME, Failure.SSL_INVALID_CERTIFICATE}:
        return True
    if failure in {Failure.SSL_UNKNOWN_AUTHORITY, Failure.SSL_INTERCEPTED}:
        return False
    return None


def _leaf_der(certificates: object) -> bytes | None:
    """The first (leaf) of df-006 ``peer_certificates`` (BinaryData, base64 DER)."""
    first = entries_of(certificates)[:1]
    if not first or not isinstance(first[0].get("data"), str):
        return None
    try:
        return base64.b64decode(first[0]["data"], validate=True)
    except (binascii.Error, ValueError):
        return None


def _names(der: bytes) -> CertNames | None:
    try:
        return read_names(der)
    except CertificateParseError:
        return None


def maybe_binary(value: object) -> bytes:
    """df-001 MaybeBinaryData: a UTF-8 string or ``{"format": "base64", "data": ...}``."""
    if isinstance(value, str):
        return value.encode("utf-8", errors="replace")
    if isinstance(value, Mapping) and value.get("format") == "base64":
        try:
            return base64.b64decode(str(value.get("data") or ""))
        except (binascii.Error, ValueError):
            return b""
    return b""


def http_record(
    stamper: Stamper,
    request: Mapping[str, Any],
    *,
    redirects: Sequence[str],
    blockpages: Blockpages,
    control: ControlResult | None,
    fallback_url: str,
) -> Measurement:
    """One df-001 transaction (the final one of a redirect chain) as our HTTP measurement."""
    req = mapping_of(request.get("request"))
    resp = mapping_of(request.get("response"))
    url = str(req.get("url") or fallback_url)
    failure = failure_of(request.get("failure"))
    headers = {str(k): v for k, v in mapping_of(resp.get("headers")).items() if isinstance(v, str)}
    body = maybe_binary(resp.get("body"))
    code = resp.get("code")
    status = code if isinstance(code, int) and code > 0 and failure is None else None
    length = resp.get("x_tyndau_body_length")  # exported by us: no body, its length
    title = resp.get("x_tyndau_title")
    names = request.get("x_tyndau_header_names")  # ours: every header name, not just a few
    page = pagediff.Page(
        status=status,
        body_length=length if isinstance(length, int) else len(body),
        title=title if isinstance(title, str) else http.title_of(body[:65536]),
        header_names=tuple(sorted(str(n).lower() for n in names))
        if isinstance(names, list)
        else tuple(sorted(k.lower() for k in headers)),
        truncated=bool(resp.get("body_is_truncated")),
    )
    outcome = failure or OK
    diff = _compare_cleartext(url, page, control) if outcome == OK else {}
    named = request.get("x_tyndau_blockpage")
    blockpage_name = named if isinstance(named, str) and named else None
    if blockpage_name is None and failure is None:
        found = blockpages.match_response(body, headers)
        blockpage_name = found.name if found is not None else None
    if blockpage_name is not None:
        outcome = Failure.HTTP_BLOCKPAGE
    elif outcome == OK and (
        request.get("x_tyndau_http_diff") is True or diff.get("http_diff_differs")
    ):
        outcome = Failure.HTTP_DIFF
    details = {
        "http_url": url,
        "http_address": split_endpoint(request.get("address"))[0] or None,
        "http_status": status,
        "http_headers": headers,
        "http_header_names": list(page.header_names),
        "http_final_url": url,
        "http_title": page.title,
        "http_body_length": page.body_length,
        "http_body_truncated": bool(resp.get("body_is_truncated")),
        "http_blockpage": blockpage_name,
        "http_redirects": list(redirects),
        "http_t": round(_seconds(request.get("t")) - _seconds(request.get("t0")), 6),
        "http_failure": None if outcome == OK else outcome,
        **diff,
    }
    return stamper.make(TestKind.HTTP, request.get("t0"), request.get("t"), outcome, details)


def _compare_cleartext(
    url: str, page: pagediff.Page, control: ControlResult | None
) -> dict[str, Any]:
    """ts-017's HTTP diff against the test helper's GET, for a page that came in cleartext (a
    page over validated TLS is the site's own), with probe/steps.py's ``http_diff_*`` keys."""
    if not url.startswith("http:") or control is None or not control.reachable:
        return {}
    reference = pagediff.Page(
        status=control.http_status,
        body_length=control.http_body_length,
        title=control.http_title,
        header_names=control.http_header_names,
        truncated=control.http_body_truncated,
    )
    diff = pagediff.compare(page, reference)
    return {
        "http_diff_reference": "control",
        "http_diff_differs": diff.differs,
        "http_diff_status_match": diff.status_match,
        "http_diff_body_proportion": diff.body_proportion,
        "http_diff_title_match": diff.title_match,
        "http_diff_headers_match": diff.headers_match,
    }


def nested(entry: Mapping[str, Any], outer: str, inner: str) -> object:
    value = entry.get(outer)
    return value.get(inner) if isinstance(value, Mapping) else None


def is_redirect(entry: Mapping[str, Any]) -> bool:
    code = nested(entry, "response", "code")
    return isinstance(code, int) and 300 <= code < 400 and not entry.get("failure")
