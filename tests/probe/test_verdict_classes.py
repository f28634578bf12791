"""Verdict tables for the six classes a researcher must get right (issue 11): one resolver counted
twice, a site's own certificate problem, a replaced plain-HTTP page, an injector forging the true
answer, several addresses, and a site down for everyone. Pure logic: Measurement records in,
Assessment out; the I/O side of these classes is tested for real in test_round.py."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from probe import dns as probe_dns
from probe import layers
from probe.environment import distinct_resolvers
from probe.evidence import ControlResult, RefusedAddress
from probe.failures import Failure
from probe.model import Category, Measurement, Reason, TargetRef, TestKind, Vantage, VerdictKind
from probe.verdict import judge
from tests.support.records import measurement

_ids = count()
AT = datetime(2022, 1, 5, tzinfo=UTC)
ISP, OTHER = "198.18.0.53:53", "198.19.0.9:53"
DOH = "https://198.19.0.10/dns-query"
A, B = "198.19.1.5", "198.19.1.6"
LEAF, OTHER_LEAF = "aa" * 32, "bb" * 32


def m(test: TestKind, outcome: str = "ok", **details: Any) -> Measurement:
    return measurement(
        f"c{next(_ids)}",
        "p",
        Vantage("KZ", 9198, "fixed"),
        TargetRef("site", "site.example", Category.PLATFORM),
        AT,
        test=test,
        outcome=outcome,
        details=details,
        version="0",
    )


def dns(
    outcome: str = "ok",
    *,
    primary: bool = True,
    resolver: str = ISP,
    answers: tuple[str, ...] = (A,),
    transport: str = "udp",
    **details: Any,
) -> Measurement:
    return m(
        TestKind.DNS,
        outcome,
        dns_primary=primary,
        dns_query="site.example",
        dns_resolver=resolver,
        dns_transport=transport,
        dns_answers=list(answers),
        **details,
    )


def tcp(outcome: str = "ok", address: str = A, port: int = 443) -> Measurement:
    return m(TestKind.TCP, outcome, tcp_address=address, tcp_port=port)


def tls(outcome: str = "ok", address: str = A, **details: Any) -> Measurement:
    base = {
        "tls_address": address,
        "tls_sni": "site.example",
        "tls_stage": "done" if outcome == "ok" else "handshake",
        "tls_leaf_sha256": LEAF,
        "tls_issuer": "CN=Some Public CA",
    }
    return m(TestKind.TLS, outcome, **{**base, **details})


def get(
    outcome: str = "ok", *, scheme: str = "https", address: str = A, **details: Any
) -> Measurement:
    return m(
        TestKind.HTTP,
        outcome,
        http_url=f"{scheme}://site.example/",
        http_address=address,
        http_status=details.pop("status", 200),
        **details,
    )


def control_dns(control: ControlResult, outcome: str = "ok", **details: Any) -> Measurement:
    return dns(
        outcome,
        control_result=control.to_dict(),
        control_reachable=control.reachable,
        control_addresses=list(control.addresses),
        **details,
    )


def control(**changes: Any) -> ControlResult:
    base: dict[str, Any] = {
        "target": "site",
        "domain": "site.example",
        "url": "https://site.example/",
        "at": "2022-01-05T00:00:00.000000Z",
        "addresses": (A,),
        "tcp_address": A,
        "tls_leaf_sha256": LEAF,
        "tls_chain_trusted": True,
        "http_status": 200,
        "http_title": "Site",
        "http_body_length": 5000,
    }
    return ControlResult(**{**base, **changes})


def healthy(*, resolver: str = ISP) -> list[Measurement]:
    return [dns(resolver=resolver), tcp(), tcp(port=80), tls(), get(), get(scheme="http")]


CONTROLS = {"ctl": healthy(), "ctl2": healthy()}


def verdict(measurements: list[Measurement], controls: Any = None) -> tuple[Any, ...]:
    result = judge(measurements, CONTROLS if controls is None else controls)
    return (result.kind, result.reason)


# ----- 1. a resolver is (address, port, transport), not where it was configured -----


def test_the_same_resolver_twice_is_not_its_own_control() -> None:
    """resolv.conf and --resolver name one resolver: its NXDOMAIN twice is one cleartext claim,
    blocked when the control endpoint resolves the name, inconclusive with no independent view
    (a name gone and a censor's NXDOMAIN look the same); another cleartext resolver agreeing
    vouches for nothing either (the censor on the path can forge its answer too)."""
    twice = [dns(Failure.DNS_NXDOMAIN), dns(Failure.DNS_NXDOMAIN, primary=False, resolver=ISP)]
    assert verdict(twice)[0] is VerdictKind.INCONCLUSIVE
    resolves = control_dns(control(), Failure.DNS_NXDOMAIN)
    seen = [resolves, dns(Failure.DNS_NXDOMAIN, primary=False, resolver=ISP)]
    assert verdict(seen) == (VerdictKind.BLOCKED, Reason.DNS_NXDOMAIN)
    other = [resolves, dns(Failure.DNS_NXDOMAIN, primary=False, resolver=OTHER)]
    assert verdict(other) == (VerdictKind.BLOCKED, Reason.DNS_NXDOMAIN)  # cleartext agreement


@pytest.mark.parametrize("failure", [Failure.DNS_REFUSED, Failure.DNS_SERVFAIL])
def test_rcode_blocks_with_a_duplicated_resolver(failure: Failure) -> None:
    target = [dns(failure), dns(failure, primary=False, resolver=ISP), *healthy()[1:]]
    assert verdict(target)[0] is VerdictKind.BLOCKED


def test_resolvers_are_deduplicated_by_identity() -> None:
    system = probe_dns.parse_resolver("198.18.0.53", system=True)
    same = probe_dns.parse_resolver("198.18.0.53:53")
    over_tcp = probe_dns.parse_resolver("tcp://198.18.0.53")
    v6 = probe_dns.parse_resolver("[2001:db8:0::1]:53")
    v6_again = probe_dns.parse_resolver("[2001:db8::1]")
    assert distinct_resolvers([system, same, over_tcp, v6, v6_again]) == (system, over_tcp, v6)


# ----- 2. certificates: the site's own problem, or interception -----

CERT_CASES: list[tuple[str, list[Measurement], VerdictKind, Reason | None, str]] = [
    (
        "expired, chains to a trusted root, no control",
        [dns(), tcp(), tls(Failure.SSL_INVALID_CERTIFICATE, tls_chain_trusted=True)],
        VerdictKind.INCONCLUSIVE,
        None,
        "site misconfiguration",
    ),
    (
        "another host's valid certificate, no control",
        [dns(), tcp(), tls(Failure.SSL_INVALID_HOSTNAME, tls_chain_trusted=True)],
        VerdictKind.INCONCLUSIVE,
        None,
        "site misconfiguration",
    ),
    (
        "wrong name and the plain-HTTP page works: still not accessible",
        [
            dns(),
            tcp(),
            tcp(port=80),
            tls(Failure.SSL_INVALID_HOSTNAME, tls_chain_trusted=True),
            get(scheme="http"),
        ],
        VerdictKind.INCONCLUSIVE,
        None,
        "site misconfiguration",
    ),
    (
        "control sees the same expired certificate",
        [
            control_dns(control(tls_failure="ssl_invalid_certificate")),
            tcp(),
            tls(Failure.SSL_INVALID_CERTIFICATE, tls_chain_trusted=True),
        ],
        VerdictKind.INCONCLUSIVE,
        None,
        "control endpoint sees ssl_invalid_certificate",
    ),
    (
        "unknown CA, and the control sees the same leaf: a self-signed site",
        [
            control_dns(control(tls_failure="ssl_unknown_authority", tls_chain_trusted=False)),
            tcp(),
            tls(Failure.SSL_UNKNOWN_AUTHORITY, tls_chain_trusted=False),
        ],
        VerdictKind.INCONCLUSIVE,
        None,
        "site misconfiguration",
    ),
    (
        "wrong name here, the control validates a different certificate",
        [
            control_dns(control(tls_leaf_sha256=OTHER_LEAF)),
            tcp(),
            tls(Failure.SSL_INVALID_HOSTNAME, tls_chain_trusted=True),
        ],
        VerdictKind.BLOCKED,
        Reason.TLS_CERT,
        "interception",
    ),
    (
        "unknown CA, no control: interception or a self-signed site, undecided",
        [dns(), tcp(), tls(Failure.SSL_UNKNOWN_AUTHORITY, tls_chain_trusted=False)],
        VerdictKind.INCONCLUSIVE,
        None,
        "unknown CA",
    ),
    (
        "unknown CA, the control validates a different certificate: interception",
        [
            control_dns(control(tls_leaf_sha256=OTHER_LEAF)),
            tcp(),
            tls(Failure.SSL_UNKNOWN_AUTHORITY, tls_chain_trusted=False),
        ],
        VerdictKind.BLOCKED,
        Reason.TLS_CERT,
        "interception",
    ),
    (
        "a known interception CA, whatever the control",
        [
            control_dns(control(tls_failure="ssl_unknown_authority")),
            tcp(),
            tls(Failure.SSL_INTERCEPTED, tls_interception_ca="Qaznet"),
        ],
        VerdictKind.BLOCKED,
        Reason.TLS_MITM,
        "issued by",
    ),
]


@pytest.mark.parametrize(
    ("target", "kind", "reason", "words"),
    [row[1:] for row in CERT_CASES],
    ids=[row[0] for row in CERT_CASES],
)
def test_certificate_problems(
    target: list[Measurement], kind: VerdictKind, reason: Reason | None, words: str
) -> None:
    result = judge(target, CONTROLS)
    assert (result.kind, result.reason) == (kind, reason)
    assert words in result.explanation


# ----- 3. a plain-HTTP page replaced by a notice page -----


def test_a_replaced_cleartext_page_is_an_http_block() -> None:
    diff = get(
        Failure.HTTP_DIFF,
        scheme="http",
        http_diff_reference="https",
        http_diff_status_match=True,
        http_diff_title_match=False,
        http_diff_body_proportion=0.01,
        http_diff_headers_match=None,
    )
    target = [dns(), tcp(), tcp(port=80), tls(), get(), diff]
    result = judge(target, CONTROLS)
    assert (result.kind, result.reason) == (VerdictKind.BLOCKED, Reason.HTTP_DIFF)
    assert "title match False" in result.explanation and "https view" in result.explanation


def test_a_challenge_page_over_validated_tls_is_accessible() -> None:
    target = [dns(), tcp(), tcp(port=80), tls(), get(status=403), get(scheme="http", status=403)]
    assert verdict(target) == (VerdictKind.ACCESSIBLE, None)


# ----- 4. an injector forging the true answer -----


def test_an_injector_forging_the_genuine_address_is_recorded_not_blocked() -> None:
    injected = m(
        TestKind.DNS_INJECTION,
        Failure.DNS_INJECTED,
        inj_address="198.19.1.10",
        inj_answers=[[A]],
    )
    result = judge([*healthy(), injected], CONTROLS)
    assert result.kind is VerdictKind.ACCESSIBLE
    assert "injector" in result.explanation and "genuine" in result.explanation


def test_an_injector_forging_another_address_is_a_block() -> None:
    injected = m(
        TestKind.DNS_INJECTION,
        Failure.DNS_INJECTED,
        inj_address="198.19.1.10",
        inj_answers=[["198.19.66.6"]],
    )
    assert verdict([*healthy(), injected]) == (VerdictKind.BLOCKED, Reason.DNS_INJECTED)


def test_a_raced_resolver_answer_that_is_genuine_is_not_a_block() -> None:
    primary = dns(Failure.DNS_INJECTED, answers=(A,), dns_extra_answers=[[A, B]])
    other = dns(primary=False, resolver=OTHER, answers=(A, B), transport="doh")
    target = [primary, other, *healthy()[1:]]
    assert verdict(target) == (VerdictKind.ACCESSIBLE, None)
    forged = dns(Failure.DNS_INJECTED, answers=("198.19.66.6",), dns_extra_answers=[[A]])
    assert verdict([forged, *healthy()[1:]]) == (VerdictKind.BLOCKED, Reason.DNS_INJECTED)


# ----- 5. every address; any one working end to end is enough -----


def _two_addresses(first_ok: bool) -> list[Measurement]:
    good = [tcp(address=B), tls(address=B), get(address=B)]
    bad = [tcp(Failure.GENERIC_TIMEOUT, address=A)]
    layers = good + bad if first_ok else bad + good
    return [dns(answers=(A, B) if first_ok else (B, A)), *layers]


@pytest.mark.parametrize("first_ok", [True, False])
def test_one_working_address_is_enough_in_any_order(first_ok: bool) -> None:
    assert verdict(_two_addresses(first_ok)) == (VerdictKind.ACCESSIBLE, None)


def test_tls_blocked_on_one_address_and_working_on_another_is_accessible() -> None:
    target = [dns(answers=(A, B)), tcp(), tcp(address=B), tls(Failure.CONNECTION_RESET)]
    target += [tls(address=B), get(address=B)]
    assert verdict(target) == (VerdictKind.ACCESSIBLE, None)


@pytest.mark.parametrize("order", [1, -1])
def test_every_address_failing_names_the_same_reason_in_any_order(order: int) -> None:
    failing = [tcp(Failure.GENERIC_TIMEOUT, address=A), tcp(Failure.CONNECTION_RESET, address=B)]
    target = [dns(answers=(A, B)), *failing[::order]]
    assert verdict(target) == (VerdictKind.BLOCKED, Reason.TCP_RESET)


# ----- 6. down or gone for everyone -----


def test_site_down_from_the_control_too_is_inconclusive() -> None:
    down = control(tcp_failure="connection_refused", http_status=None, tls_leaf_sha256=None)
    target = [control_dns(down), tcp(Failure.CONNECTION_REFUSED)]
    result = judge(target, CONTROLS)
    assert result.kind is VerdictKind.INCONCLUSIVE and "control endpoint" in result.explanation


def test_nxdomain_at_every_resolver_and_the_control_is_inconclusive() -> None:
    gone = control(
        dns_failure="dns_nxdomain_error", addresses=(), tcp_address=None, http_status=None
    )
    target = [
        control_dns(gone, Failure.DNS_NXDOMAIN),
        dns(Failure.DNS_NXDOMAIN, primary=False, resolver=OTHER),
    ]
    assert verdict(target)[0] is VerdictKind.INCONCLUSIVE
    alone = judge([control_dns(gone, Failure.DNS_NXDOMAIN)], CONTROLS)  # the control's word only
    assert alone.kind is VerdictKind.INCONCLUSIVE and "control endpoint" in alone.explanation


@pytest.mark.parametrize("failure", [Failure.DNS_SERVFAIL, Failure.DNS_TIMEOUT])
def test_isp_resolver_down_for_every_name_is_inconclusive(failure: Failure) -> None:
    """The controls resolve through another resolver and work; at the ISP's they fail too."""

    def via_other() -> list[Measurement]:
        return [dns(failure), dns(primary=False, resolver=OTHER), *healthy()[1:]]

    result = judge(via_other(), {"ctl": via_other(), "ctl2": via_other()})
    assert result.kind is VerdictKind.INCONCLUSIVE
    assert "down for every name" in result.explanation


def test_resolver_answering_servfail_for_everything_is_not_a_shutdown() -> None:
    """Nothing else to try, but the resolver answers: the vantage is online."""
    controls = {"ctl": [dns(Failure.DNS_SERVFAIL)], "ctl2": [dns(Failure.DNS_SERVFAIL)]}
    assert verdict([dns(Failure.DNS_SERVFAIL)], controls)[0] is VerdictKind.INCONCLUSIVE
    silent = {"ctl": [dns(Failure.DNS_TIMEOUT)], "ctl2": [dns(Failure.DNS_TIMEOUT)]}
    assert verdict([dns(Failure.DNS_TIMEOUT)], silent)[0] is VerdictKind.OFFLINE


def test_a_control_endpoint_that_refused_to_dial_gives_no_view() -> None:
    """A lab address the collector does not allow is no evidence of an outage."""
    refused = control(tcp_failure="address_refused", tcp_address=None, http_status=None)
    primary = control_dns(refused)
    primary.details["control_reachable"] = None  # what steps.control_details records
    assert verdict([primary, tcp(Failure.GENERIC_TIMEOUT)]) == (
        VerdictKind.BLOCKED,
        Reason.TCP_TIMEOUT,
    )


# ----- artefacts, redirect hops, the URL's own port, the site's own DNS -----


def test_a_blockpage_answer_is_censorship_even_when_the_site_is_gone() -> None:
    """OONI's ghost-DNS case: NXDOMAIN everywhere, yet the ISP answers the blockpage address."""
    gone = control(
        dns_failure="dns_nxdomain_error", addresses=(), tcp_address=None, http_status=None
    )
    assert not gone.reachable
    target = [control_dns(gone, Failure.DNS_BLOCKPAGE)]
    assert verdict(target) == (VerdictKind.BLOCKED, Reason.DNS_BLOCKPAGE)


def test_interception_of_a_broken_site_is_still_interception() -> None:
    expired = control(tls_failure="ssl_invalid_certificate", http_status=None)
    target = [control_dns(expired), tcp(), tls(Failure.SSL_INTERCEPTED, tls_issuer="CN=Qaznet")]
    assert verdict(target) == (VerdictKind.BLOCKED, Reason.TLS_MITM)


def test_the_urls_own_port_decides_tcp() -> None:
    """An http:// URL whose port 80 is reset is blocked, though HTTPS on 443 works."""
    reset_80 = m(
        TestKind.TCP,
        Failure.CONNECTION_REFUSED,
        tcp_address=A,
        tcp_port=80,
        tcp_url_port=True,
    )
    ok_443 = m(TestKind.TCP, "ok", tcp_address=A, tcp_port=443, tcp_url_port=False)
    target = [dns(), ok_443, reset_80, tls(), get()]
    assert verdict(target) == (VerdictKind.BLOCKED, Reason.TCP_RESET)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(Failure.DNS_NXDOMAIN, Reason.DNS_NXDOMAIN), (Failure.CONNECTION_REFUSED, Reason.TCP_RESET)],
)
def test_a_failure_on_a_redirect_hop_is_judged(failure: Failure, reason: Reason) -> None:
    hops = {"http_redirects": ["https://beta.example/"]}
    target = [dns(), tcp(), tcp(port=80), tls(), get(failure, status=None, **hops)]
    target.append(get(failure, scheme="http", status=None, **hops))
    assert verdict(target) == (VerdictKind.BLOCKED, reason)
    down = control(http_failure=str(failure), http_status=None)
    assert verdict([control_dns(down), *target[1:]])[0] is VerdictKind.INCONCLUSIVE


def test_a_malformed_response_is_not_a_reset() -> None:
    broken = {"http_redirects": ["https:"], "status": None}
    target = [dns(), tcp(), tls(), get(Failure.HTTP_INVALID_RESPONSE, **broken)]
    assert verdict(target)[0] is VerdictKind.INCONCLUSIVE


def test_a_bogon_everyone_gets_is_the_sites_own_dns() -> None:
    """OONI's localhost cases: the name itself points at 127.0.0.1, for every resolver (one
    asked over an encrypted transport: test_verdict_trust.py for a cleartext one)."""
    here = dns(Failure.DNS_BOGON, answers=("127.0.0.1",), dns_bogons=["127.0.0.1"])
    elsewhere = dns(primary=False, resolver=DOH, transport="doh", answers=("127.0.0.1",))
    result = judge([here, elsewhere], CONTROLS)
    assert result.kind is VerdictKind.INCONCLUSIVE and "site's own DNS" in result.explanation
    honest = dns(primary=False, resolver=OTHER, answers=(A,))
    assert verdict([here, honest]) == (VerdictKind.BLOCKED, Reason.DNS_BOGON)
    assert verdict([here]) == (VerdictKind.BLOCKED, Reason.DNS_BOGON)  # no independent view
    refused = control(
        addresses=("127.0.0.1",),
        refused=(RefusedAddress("127.0.0.1", "special-purpose"),),
        tcp_address=None,
        tcp_failure="address_refused",
        http_status=None,
    )
    seen = control_dns(refused, Failure.DNS_BOGON, answers=("127.0.0.1",), dns_bogons=["127.0.0.1"])
    assert verdict([seen])[0] is VerdictKind.INCONCLUSIVE


def test_no_answer_where_other_resolvers_answer_is_a_dns_block() -> None:
    empty = dns(Failure.DNS_NO_ANSWER, answers=())
    honest = dns(primary=False, resolver=OTHER)
    assert verdict([empty, honest, *healthy()[1:]]) == (VerdictKind.BLOCKED, Reason.DNS_NO_ANSWER)
    nowhere = dns(Failure.DNS_NO_ANSWER, primary=False, resolver=OTHER, answers=())
    assert verdict([empty, nowhere])[0] is VerdictKind.INCONCLUSIVE


def test_every_reason_has_a_weight_and_every_table_key_is_a_failure() -> None:
    """Completeness, as httpx's test_httpcore_all_exceptions_mapped: no reason without a
    confidence, no table keyed by a string that is not a failure."""
    assert set(layers.BASE_CONFIDENCE) == set(Reason)
    tables = (
        layers._DNS_REASONS,
        layers._TCP_REASONS,
        layers._TLS_REASONS,
        layers._HTTP_REASONS,
        layers._HOP_REASONS,
    )
    failures = {f.value for f in Failure}
    for table in tables:
        assert set(table) <= failures
        assert all(isinstance(r, Reason) for r in table.values())


@pytest.mark.parametrize(
    ("dns_failure", "kind"),
    [
        ("dns_timeout_error", VerdictKind.BLOCKED),  # the control's own resolver had trouble
        ("dns_server_failure", VerdictKind.BLOCKED),
        ("dns_nxdomain_error", VerdictKind.INCONCLUSIVE),  # the name is gone for everyone
    ],
)
def test_only_a_site_failure_at_the_control_means_down_for_everyone(
    dns_failure: str, kind: VerdictKind
) -> None:
    lost = control(dns_failure=dns_failure, addresses=(), tcp_address=None, http_status=None)
    target = [control_dns(lost), tcp(), tls(Failure.CONNECTION_RESET)]
    assert verdict(target)[0] is kind


def test_a_control_that_failed_earlier_than_this_vantage_explains_nothing() -> None:
    """The vantage connects and its handshake with this SNI is reset (another SNI works); the
    control could not even connect: SNI filtering here, whatever broke at the control."""
    no_connect = control(tcp_failure="generic_timeout_error", http_status=None)
    sni_reset = tls(Failure.CONNECTION_RESET, tls_control_failure="ok", tls_control_sni="ctl")
    assert verdict([control_dns(no_connect), tcp(), sni_reset]) == (
        VerdictKind.BLOCKED,
        Reason.TLS_RESET,
    )
    handshake_fails_there_too = control(tls_failure="connection_reset", http_status=None)
    target = [control_dns(handshake_fails_there_too), tcp(), sni_reset]
    assert verdict(target)[0] is VerdictKind.INCONCLUSIVE


def test_the_round_records_whether_injected_answers_were_genuine() -> None:
    from probe.round import _mark_genuine_injection

    true_answer = m(TestKind.DNS_INJECTION, Failure.DNS_INJECTED, inj_answers=[[A]])
    forged = m(TestKind.DNS_INJECTION, Failure.DNS_INJECTED, inj_answers=[["198.19.66.6"]])
    _mark_genuine_injection([*healthy(), true_answer])
    _mark_genuine_injection([*healthy(), forged])
    assert (true_answer.details["inj_genuine"], forged.details["inj_genuine"]) == (True, False)
    untouched = healthy()
    _mark_genuine_injection(untouched)
    assert all("inj_genuine" not in x.details for x in untouched)
