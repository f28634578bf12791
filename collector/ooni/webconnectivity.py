"""Web Connectivity (ooni/spec nettests/ts-017, test versions 0.4 and 0.5) onto our records.

The probe's lookups (``queries``), connects (``tcp_connect``), handshakes (``tls_handshakes``) and
final HTTP transaction (``requests[0]``: df-001 lists them newest first) become our DNS, TCP, TLS
and HTTP measurements. Only the "classic" results are evidence (ts-017: "MUST only use the
measurements collected by the classical algorithm"); 0.5's extension lookups (E003/E004) and
connects are stored but not judged. ``test_keys.control`` (the test helper's view of the URL)
becomes our typed ControlResult (collector/ooni/thcontrol.py): the control addresses, whether
the target works from elsewhere, and, when the probe reached the helper, that the vantage was
online.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from collector.ooni import chain, connects, dnst, httpt, stages
from collector.ooni.envelope import OoniFormatError
from collector.ooni.evidence import TEST_HELPER, Context, control_record, tyndau_controls
from collector.ooni.failures import failure_of
from collector.ooni.thcontrol import (
    control_evidence,
    control_keys,
    control_result,
    helper_validated,
    own_asns,
)
from probe.evidence import ControlResult, ControlResultError
from probe.failures import OK, Failure
from probe.model import Measurement, TestKind

# the test helper's lookup failures that say the name has no address (not a resolver in trouble)
NAME_GONE = frozenset({Failure.DNS_NXDOMAIN.value, Failure.DNS_NO_ANSWER.value})

OONI_KEYS = (
    "blocking",
    "accessible",
    "dns_consistency",
    "dns_experiment_failure",
    "control_failure",
    "http_experiment_failure",
    "body_length_match",
    "body_proportion",
    "status_code_match",
    "headers_match",
    "title_match",
    "x_blocking_flags",
    "x_dns_flags",
    "x_null_null_flags",
    "client_resolver",
)


@functools.lru_cache(maxsize=4096)  # inputs repeat (OONI's test lists): parsed once each
def url_host(url: str | None) -> tuple[str, int]:
    """The input URL's host and port; OoniFormatError when there is no usable URL."""
    parts = urlsplit(url or "")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise OoniFormatError("input", f"got {url!r}", "an http:// or https:// URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OoniFormatError("input", f"bad port in {url!r}", "a URL with a valid port") from None
    return parts.hostname, port


def _mapping(value: object) -> Mapping[str, Any]:
    return stages.mapping_of(value)


def _dns_control(result: ControlResult | None, control: Mapping[str, Any]) -> dnst.DnsControl:
    if result is None:
        return dnst.DnsControl()
    if result.dns_failure is not None:
        return dnst.DnsControl(name_gone=result.dns_failure in NAME_GONE)
    addresses = frozenset(result.addresses)
    return dnst.DnsControl(addresses, own_asns(control, addresses))


@dataclass(frozen=True)
class _View:
    """What the stages of one measurement need to know about the others and the control."""

    host: str
    control: ControlResult | None
    control_error: str | None
    dns_control: dnst.DnsControl
    validated: frozenset[str]  # addresses a handshake (the probe's, the helper's) validated
    final_ok: bool  # the final GET got the site's page (no failure, no blockpage, no diff)
    final_addresses: frozenset[str]  # where that page came from, where the format says it
    tagged: bool  # 0.5: classic results carry the "classic" tag


def _control_of(
    test_keys: Mapping[str, Any], stamper: stages.Stamper, host: str, url: str
) -> ControlResult | None:
    ours = test_keys.get("x_tyndau_control_result")  # our export: the control endpoint's own
    if isinstance(ours, dict):
        try:
            return ControlResult.from_dict(ours)
        except ControlResultError as exc:
            raise OoniFormatError("test_keys.x_tyndau_control_result", str(exc), "ours") from None
    control = _mapping(test_keys.get("control"))
    return control_result(control, target=stamper.target, host=host, url=url, at=stamper.start)


def map_web_connectivity(
    stamper: stages.Stamper, test_keys: Mapping[str, Any], url: str | None, context: Context
) -> tuple[list[Measurement], list[Measurement], dict[str, list[Measurement]]]:
    """(stored records, evidence for the verdict, controls) of one Web Connectivity measurement."""
    host, port = url_host(url)
    requests = stages.entries_of(test_keys.get("requests"))
    tls_entries = stages.entries_of(test_keys.get("tls_handshakes"))
    tcp_entries = stages.entries_of(test_keys.get("tcp_connect"))
    queries = stages.entries_of(test_keys.get("queries"))
    tagged = stages.uses_tags(queries, tcp_entries, tls_entries, requests)
    classic_tls = stages.classic_only(tls_entries, tagged=tagged)
    result = _control_of(test_keys, stamper, host, url or "")
    # the page first: a final page that matches the control's proves the addresses it came from
    http_stored, http = _http_records(
        stamper, test_keys, requests, url or "", result, context, tagged=tagged
    )
    view = _View(
        host=host,
        control=result,
        control_error=failure_of(test_keys.get("control_failure")),
        dns_control=_dns_control(result, _mapping(test_keys.get("control"))),
        validated=frozenset(
            stages.split_endpoint(e.get("address"))[0] for e in classic_tls if not e.get("failure")
        )
        | helper_validated(_mapping(test_keys.get("control")), host),
        final_ok=any(_proves_itself(m) for m in http),
        final_addresses=frozenset(
            str(m.details["http_address"])
            for m in http
            if _proves_itself(m) and m.details.get("http_address")
        ),
        tagged=tagged,
    )
    evidence: list[Measurement] = []
    dns_records = _dns_records(stamper, test_keys, view, context, evidence)
    classic_tcp = stages.classic_only(tcp_entries, tagged=tagged)
    tcp = connects.tcp_records(stamper, tcp_entries, url_port=port)
    evidence += _classic(tcp, tcp_entries, classic_tcp)
    tls = connects.tls_records(stamper, tls_entries, context.interception)
    evidence += _classic(tls, tls_entries, classic_tls)
    evidence += http
    extra = _tyndau_extra(stamper, test_keys)
    evidence += extra
    stored = [*dns_records, *tcp, *tls, *http_stored, *extra]
    if not stored:
        raise OoniFormatError(
            "test_keys.queries",
            "no DNS, TCP, TLS or HTTP result at all",
            "at least one of queries, tcp_connect, requests",
        )
    controls = tyndau_controls(test_keys, stored[0])
    if controls is None:
        controls = {}
        if result is not None and view.control_error is None:
            note = "the probe reached OONI's test helper"
            controls[TEST_HELPER] = [control_record(stored[0], TEST_HELPER, works=True, note=note)]
    return stored, evidence, controls


def _proves_itself(m: Measurement) -> bool:
    """The final GET got the site's own page: over validated TLS, or a cleartext page that the
    test helper's matches (ts-017's HTTP diff). A cleartext page with nothing to compare it with
    proves nothing: a censor's server answers pages too."""
    if m.outcome != OK:
        return False
    details = m.details
    return str(details.get("http_url") or "").startswith("https:") or (
        details.get("http_diff_differs") is False
    )


def _classic(
    made: list[Measurement], entries: list[Mapping[str, Any]], classic: list[Mapping[str, Any]]
) -> list[Measurement]:
    keep = {id(c) for c in classic}
    return [m for m, e in zip(made, entries, strict=True) if id(e) in keep]


def _dns_records(
    stamper: stages.Stamper,
    test_keys: Mapping[str, Any],
    view: _View,
    context: Context,
    evidence: list[Measurement],
) -> list[Measurement]:
    """Every lookup is stored; the classic lookups of the URL's host are evidence, the first of
    them the primary. As the probe does, each is compared with the others' and the control's
    addresses; the primary carries the control's view (probe/steps.py ``control_details``)."""
    found = dnst.lookups(test_keys.get("queries"))
    marked = next((f.hostname for f in found if f.marked_primary), None)
    host = view.host if marked is None else marked  # an app's primary name (our export)
    same = [f for f in found if f.hostname == host]
    judged = [f for f in same if f.classic or not view.tagged]
    if not judged:  # a 0.5 measurement that tags its connects but not its lookups
        judged = [f for f in same if f.engine in dnst.SYSTEM_ENGINES][:1] or same[:1]
    if not judged and test_keys.get("dns_experiment_failure"):
        failure = failure_of(test_keys["dns_experiment_failure"], dns=True)
        judged = [
            dnst.Lookup(
                host, "system", "system", (), frozenset(), failure, None, None, 0.0, 0.0, True
            )
        ]
        found = [*judged, *found]
    # the system resolver's lookup is the primary, as in OONI's analysis (dns_experiment_failure
    # is getaddrinfo's): 0.5 also asks DoH and UDP resolvers of its own choosing, in any order
    judged.sort(key=lambda f: f.engine not in dnst.SYSTEM_ENGINES)
    primary = judged[0] if judged else None
    made: list[Measurement] = []
    for lookup in found:
        # another resolver of the probe vouches for an address only over an encrypted
        # transport: a cleartext query to any resolver crosses the same censor, who may
        # forge its answer too (0.5 asks a UDP resolver beside getaddrinfo)
        others = frozenset(
            a
            for f in judged
            if f is not lookup and f.engine in dnst.ENCRYPTED_ENGINES
            for a in f.addresses
        )
        theirs = view.dns_control
        reference = dnst.DnsControl(theirs.addresses | others, theirs.asns, theirs.name_gone)
        # the page proves the addresses it was fetched from, not those of another resolver
        # (0.5 also connects to the addresses its DoH lookup got)
        own = set(lookup.addresses)
        fetched = bool(view.final_addresses & own) if view.final_addresses else view.final_ok
        proven = fetched or bool(view.validated & own)
        outcome, consistency, bogons = dnst.classify(lookup, reference, context, validated=proven)
        dns = dnst.evidence(
            lookup,
            context,
            primary=lookup is primary,
            host=lookup.hostname != host,
            consistency=consistency,
            bogons=bogons,
            outcome=outcome,
        )
        typed: list[object] = [dns]
        details = stages.flatten(dns)
        if lookup is primary and (view.control is not None or view.control_error is not None):
            keys = control_keys(view.control, view.control_error)
            details.update(keys)
            typed += control_evidence(keys, view.control)
        record = stamper.make(TestKind.DNS, lookup.t0, lookup.t, outcome, details, *typed)
        made.append(record)
        if any(lookup is j for j in judged):
            evidence.append(record)
    return made


def _http_records(
    stamper: stages.Stamper,
    test_keys: Mapping[str, Any],
    requests: list[Mapping[str, Any]],
    url: str,
    http_control: ControlResult | None,
    context: Context,
    *,
    tagged: bool,
) -> tuple[list[Measurement], list[Measurement]]:
    """(stored, evidence): the chain's final GET first (collector/ooni/chain.py), then any
    other classic transaction that is not a redirect hop; non-classic ones are stored only."""
    if not requests:
        failure = test_keys.get("http_experiment_failure")
        if not failure:
            return [], []
        requests = [{"failure": failure, "request": {"url": url}}]
    classic = stages.classic_only(requests, tagged=tagged)
    if not classic and not any(r.get("tags") for r in requests):
        classic = list(requests)  # a producer that tags other stages but not its requests
    classic = [r for r in classic if not stages.has_tag(r, stages.EXTENSION_TAG)] or classic
    chain_order = chain.newest_first(classic) if classic else []
    # df-001: newest first; the later entries are the redirects that led to the newest
    hops = [r for r in chain_order[1:] if httpt.is_redirect(r)]
    finals = [*chain_order[:1], *(r for r in chain_order[1:] if not httpt.is_redirect(r))]
    failed_hop = None
    if chain_order:
        failed_hop = chain.unfinished_hop(chain_order[0], test_keys, classic=tagged)
    if failed_hop is not None:  # the chain went on from its newest request and failed there
        hops.insert(0, chain_order[0])
        finals[0] = failed_hop
    redirects = [str(stages.nested(r, "request", "url")) for r in reversed(hops)]
    # the URLs the chain was redirected to (not the input's), matched as the probe matches
    # its redirects (probe.blockpages.match_redirects)
    followed = [*redirects[1:], str(stages.nested(finals[0], "request", "url"))] if hops else []
    found = context.blockpages.match_redirects(followed)
    via = found.name if found is not None else None
    evidence = [
        httpt.http_record(
            stamper,
            r,
            redirects=redirects,
            blockpages=context.blockpages,
            control=http_control,
            fallback_url=url,
            hop_blockpage=via if r is finals[0] else None,
        )
        for r in finals
    ]
    judged = {id(r) for r in (*finals, *hops)}  # the hops are the finals' http_redirects
    others = [  # 0.5's extension fetches: stored, not evidence
        httpt.http_record(
            stamper,
            r,
            redirects=(),
            blockpages=context.blockpages,
            control=http_control,
            fallback_url=url,
        )
        for r in requests
        if id(r) not in judged
    ]
    return [*evidence, *others], evidence


def _tyndau_extra(stamper: stages.Stamper, test_keys: Mapping[str, Any]) -> list[Measurement]:
    """``x_tyndau_measurements`` (our export): the tests OONI's format has no key for."""
    made = []
    for entry in stages.entries_of(test_keys.get("x_tyndau_measurements")):
        test = entry.get("test")
        if test not in {TestKind.DNS_INJECTION.value, TestKind.THROUGHPUT.value}:
            raise OoniFormatError(
                "test_keys.x_tyndau_measurements.test",
                f"got {test!r}",
                "dns_injection or throughput",
            )
        details = entry.get("details")
        made.append(
            stamper.make(
                TestKind(test),
                entry.get("t0"),
                entry.get("t"),
                str(entry.get("outcome") or "ok"),
                dict(details) if isinstance(details, Mapping) else {},
            )
        )
    return made


def ooni_conclusions(test_keys: Mapping[str, Any]) -> dict[str, Any]:
    return {key: test_keys.get(key) for key in OONI_KEYS if key in test_keys}
