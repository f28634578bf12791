"""Verdict rules about whose word counts: a site's own broken redirect, a control that finds no
address for the name, and which resolvers may vouch for an answer (only encrypted ones).
Pure logic: Measurement records in, Assessment out (helpers of test_verdict_classes.py)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from probe import dns as probe_dns
from probe.consistency import consistency_of
from probe.evidence import DnsEvidence
from probe.failures import Failure
from probe.model import Reason, VerdictKind
from probe.steps import vouching_addresses
from probe.verdict import judge
from tests.probe.test_verdict_classes import (
    CONTROLS,
    DOH,
    ISP,
    OTHER,
    A,
    B,
    control,
    control_dns,
    dns,
    get,
    tcp,
    tls,
    verdict,
)

LAB = (ipaddress.ip_network("198.18.0.0/15"),)

UNFOLLOWED = Failure.HTTP_INVALID_REDIRECT_LOCATION
BROKEN = {"status": 302, "http_headers": {"location": "https://"}}


# ----- a 302 whose Location names no host (OONI's redirectWithBrokenLocation) -----


def test_an_https_redirect_to_nowhere_is_the_sites_own_answer() -> None:
    """Over https the GET validated the certificate for the name: no one on the path wrote the
    302. The site answered, leading nowhere: not a block, not the page (OONI's accessible =
    false), like its own redirect loop."""
    target = [dns(), tcp(), tls(), get(UNFOLLOWED, **BROKEN)]
    result = judge(target, CONTROLS)
    assert (result.kind, result.reason) == (VerdictKind.INCONCLUSIVE, None)
    assert "site's own answer leads nowhere" in result.explanation
    assert "'https://'" in result.explanation


def test_a_cleartext_redirect_to_nowhere_is_judged_by_the_page_comparison() -> None:
    base = [dns(), tcp(port=80)]
    same = get(
        UNFOLLOWED, scheme="http", http_diff_differs=False, http_diff_reference="control", **BROKEN
    )
    seen_too = judge([*base, same], CONTROLS)  # the control sees it too: the site's own
    assert seen_too.kind is VerdictKind.INCONCLUSIVE and "control view" in seen_too.explanation
    unlike = get(Failure.HTTP_DIFF, scheme="http", http_diff_differs=True, **BROKEN)
    assert verdict([*base, unlike]) == (VerdictKind.BLOCKED, Reason.HTTP_DIFF)
    alone = judge([*base, get(UNFOLLOWED, scheme="http", **BROKEN)], CONTROLS)
    assert alone.kind is VerdictKind.INCONCLUSIVE and "no rule explains" in alone.explanation


def test_a_redirect_to_nowhere_without_its_status_proves_nothing() -> None:
    lost = get(UNFOLLOWED, status=None)
    assert verdict([dns(), tcp(), tls(), lost])[0] is VerdictKind.INCONCLUSIVE


# ----- the control finds no address for the name; the vantage's resolver answers one -----


def test_an_answer_for_a_name_the_control_finds_gone_is_inconsistent() -> None:
    """One rule for the probe and the importer (probe/consistency.py): any address is
    inconsistent when the control endpoint finds none (OONI's classic analysis)."""
    assert consistency_of([A], frozenset(), name_gone=True) == "inconsistent"
    assert consistency_of([A], frozenset({A}), name_gone=True) == "inconsistent"
    assert consistency_of([], frozenset(), name_gone=True) == "unknown"  # no answer: no claim
    resolver = probe_dns.parse_resolver(ISP)
    found = probe_dns.Lookup(resolver, "site.example", "NOERROR", (A,))
    judged = probe_dns.classify(found, allow=LAB, name_gone=True)
    assert (judged.outcome, judged.consistency) == (Failure.DNS_INCONSISTENT, "inconsistent")


def test_a_gone_name_answered_here_is_a_dns_block_unless_the_address_validates() -> None:
    gone = control(addresses=(), dns_failure=Failure.DNS_NXDOMAIN, tcp_address=None)
    gone = replace(gone, http_status=None)
    seen = control_dns(gone, Failure.DNS_INCONSISTENT, dns_consistency="inconsistent")
    cleartext = [seen, tcp(port=80), get(scheme="http")]
    assert verdict(cleartext) == (VerdictKind.BLOCKED, Reason.DNS_INCONSISTENT)
    validated = [seen, tcp(), tls(), get()]  # the address proves itself for the name
    assert verdict(validated)[0] is VerdictKind.ACCESSIBLE


def test_a_gone_name_explains_no_failure_after_the_sites_own_handshake() -> None:
    """The control's NXDOMAIN says "down for everyone" only while nothing here shows the site
    up: a handshake validated for the name does, so a replaced cleartext page is a block."""
    gone = replace(
        control(addresses=(), dns_failure=Failure.DNS_NXDOMAIN, tcp_address=None), http_status=None
    )
    seen = control_dns(gone, Failure.DNS_INCONSISTENT, dns_consistency="inconsistent")
    notice = get(Failure.HTTP_DIFF, scheme="http", http_diff_differs=True)
    assert verdict([seen, tcp(), tls(), get(), notice]) == (VerdictKind.BLOCKED, Reason.HTTP_DIFF)
    here_too = control_dns(gone, Failure.DNS_NXDOMAIN, answers=())  # gone here as there
    assert verdict([here_too])[0] is VerdictKind.INCONCLUSIVE
    unproven = [seen, tcp(), tls(Failure.CONNECTION_RESET)]  # nothing here shows the site up
    assert verdict(unproven) == (VerdictKind.BLOCKED, Reason.DNS_INCONSISTENT)


# ----- only encrypted resolvers vouch for an answer -----


def test_only_encrypted_resolvers_vouch_for_an_answer() -> None:
    """A cleartext query to any resolver crosses the censor, who may forge it the same way."""
    resolvers = [
        probe_dns.parse_resolver(ISP, system=True),
        probe_dns.parse_resolver(OTHER),
        probe_dns.parse_resolver("tcp://198.19.0.11"),
        probe_dns.parse_resolver(DOH),
    ]
    primary, udp, tcp_, doh = (
        probe_dns.Lookup(r, "site.example", "NOERROR", (address,))
        for r, address in zip(
            resolvers, ("198.19.1.1", "198.19.2.2", "198.19.3.3", B), strict=False
        )
    )
    lookups = [primary, udp, tcp_, doh]
    assert vouching_addresses(primary, lookups, ()) == {B}
    assert vouching_addresses(primary, lookups, (A,)) == {A, B}  # and the control endpoint's
    assert vouching_addresses(doh, lookups, ()) == frozenset()


def test_a_bogon_a_cleartext_resolver_gets_too_is_still_a_block() -> None:
    here = dns(Failure.DNS_BOGON, answers=("127.0.0.1",), dns_bogons=["127.0.0.1"])
    cleartext = dns(primary=False, resolver=OTHER, answers=("127.0.0.1",))
    assert verdict([here, cleartext]) == (VerdictKind.BLOCKED, Reason.DNS_BOGON)
    encrypted = dns(primary=False, resolver=DOH, transport="doh", answers=("127.0.0.1",))
    assert verdict([here, encrypted])[0] is VerdictKind.INCONCLUSIVE


def test_encrypted_transports_are_the_importers_too() -> None:
    doh = DnsEvidence(transport="doh")
    assert doh.encrypted and DnsEvidence(transport="dot").encrypted
    assert not DnsEvidence(transport="udp").encrypted
    assert not DnsEvidence(transport="tcp,udp").encrypted


def test_a_redirect_loop_over_validated_tls_is_the_sites_own() -> None:
    """OONI's redirectWithMoreThanTenRedirects: accessible = false, blocking = false."""
    loop = get(Failure.HTTP_TOO_MANY_REDIRECTS, status=302)
    result = judge([dns(), tcp(), tls(), loop], CONTROLS)
    assert result.kind is VerdictKind.INCONCLUSIVE and "site's fault" in result.explanation


# ----- a cleartext page with nothing independent to vouch for it -----


def test_a_cleartext_page_without_any_independent_view_is_not_accessible() -> None:
    """OONI's controlFailureWithSuccessfulHTTPWebsite (accessible null): an unknown notice page
    and the site's own page look alike when nothing else saw the site."""
    base = [dns(), tcp(port=80)]
    alone = judge([*base, get(scheme="http")], CONTROLS)
    assert alone.kind is VerdictKind.INCONCLUSIVE and "no independent view" in alone.explanation
    compared = get(scheme="http", http_diff_reference="control", http_diff_differs=False)
    assert verdict([*base, compared])[0] is VerdictKind.ACCESSIBLE
    over_tls = [*base, tcp(), tls(), get(), get(scheme="http")]  # the https page is the site's
    assert verdict(over_tls)[0] is VerdictKind.ACCESSIBLE
    upgraded = get(scheme="http", http_final_url="https://site.example/")  # ended over TLS
    assert verdict([*base, upgraded])[0] is VerdictKind.ACCESSIBLE
