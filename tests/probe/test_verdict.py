"""Verdict tables: every layer's failures, with and without working controls."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from probe.evidence import ControlResult
from probe.failures import Failure
from probe.model import (
    BlockMethod,
    Category,
    Measurement,
    Reason,
    TargetRef,
    TestKind,
    Vantage,
    VerdictKind,
)
from probe.verdict import judge, works
from tests.support.records import measurement

_ids = count()
AT = datetime(2022, 1, 5, tzinfo=UTC)


def m(test: TestKind, outcome: str = "ok", **details: Any) -> Measurement:
    return measurement(
        f"m{next(_ids)}",
        "p",
        Vantage("KZ", 9198, "fixed"),
        TargetRef("facebook", "facebook.com", Category.PLATFORM),
        AT,
        test=test,
        outcome=outcome,
        details=details,
        version="0",
    )


ISP_RESOLVER = "198.18.0.53:53"
OTHER_RESOLVER = "198.19.0.9:53"


def dns(
    outcome: str = "ok",
    *,
    primary: bool = True,
    answers: list[str] | None = None,
    resolver: str | None = None,
    transport: str = "udp",
    **details: Any,
) -> Measurement:
    return m(
        TestKind.DNS,
        outcome,
        dns_primary=primary,
        dns_resolver=resolver or (ISP_RESOLVER if primary else OTHER_RESOLVER),
        dns_transport=transport,
        dns_answers=answers if answers is not None else ["198.19.1.5"],
        **details,
    )


def tcp(outcome: str = "ok", port: int = 443) -> Measurement:
    return m(TestKind.TCP, outcome, tcp_port=port, tcp_address="198.19.1.5")


def tls(
    outcome: str = "ok", *, control: str | None = "ok", stage: str = "handshake"
) -> Measurement:
    return m(
        TestKind.TLS,
        outcome,
        tls_address="198.19.1.5",
        tls_sni="facebook.com",
        tls_stage=stage if outcome != "ok" else "done",
        tls_control_sni="example.com",
        tls_control_failure=control,
        tls_issuer="CN=Qaznet Trust Network (tyndau lab)",
    )


def http(
    outcome: str = "ok", *, scheme: str = "https", blockpage: str | None = None
) -> Measurement:
    return m(
        TestKind.HTTP,
        outcome,
        http_url=f"{scheme}://facebook.com/",
        http_blockpage=blockpage,
    )


CONTROL_SEES_VALID = ControlResult(
    target="facebook",
    domain="facebook.com",
    url="https://facebook.com/",
    at="2022-01-05T00:00:00.000000Z",
    addresses=("198.19.1.5",),
    tcp_address="198.19.1.5",
    tls_leaf_sha256="cc" * 32,
    http_status=200,
)


def healthy() -> list[Measurement]:
    return [dns(), tcp(), tcp(port=80), tls(), http(scheme="http"), http()]


WORKING_CONTROLS = {"example": healthy(), "wikipedia": healthy()}
DEAD = [
    dns(Failure.DNS_TIMEOUT),
]
DEAD_CONTROLS = {"example": list(DEAD), "wikipedia": list(DEAD)}


# (case, target measurements, expected verdict, method, reason)
BLOCKED_TABLE: list[tuple[str, list[Measurement], BlockMethod, Reason]] = [
    (
        "nxdomain where another resolver answers",
        [dns(Failure.DNS_NXDOMAIN), dns(primary=False)],
        BlockMethod.DNS,
        Reason.DNS_NXDOMAIN,
    ),
    ("refused", [dns(Failure.DNS_REFUSED)], BlockMethod.DNS, Reason.DNS_REFUSED),
    ("servfail", [dns(Failure.DNS_SERVFAIL)], BlockMethod.DNS, Reason.DNS_SERVFAIL),
    ("dns timeout", [dns(Failure.DNS_TIMEOUT)], BlockMethod.DNS, Reason.DNS_TIMEOUT),
    ("bogon", [dns(Failure.DNS_BOGON, answers=["10.10.34.35"])], BlockMethod.DNS, Reason.DNS_BOGON),
    (
        "dns blockpage beats the blockpage served over HTTP",
        [dns(Failure.DNS_BLOCKPAGE), tcp(), http(Failure.HTTP_BLOCKPAGE, scheme="http")],
        BlockMethod.DNS,
        Reason.DNS_BLOCKPAGE,
    ),
    ("second answer", [dns(Failure.DNS_INJECTED)], BlockMethod.DNS, Reason.DNS_INJECTED),
    (
        "answer from a silent host",
        [*healthy(), m(TestKind.DNS_INJECTION, Failure.DNS_INJECTED, inj_address="198.19.0.99")],
        BlockMethod.DNS,
        Reason.DNS_INJECTED,
    ),
    (
        "inconsistent and TLS does not validate there",
        [dns(Failure.DNS_INCONSISTENT), tcp(), tls(Failure.SSL_UNKNOWN_AUTHORITY)],
        BlockMethod.DNS,
        Reason.DNS_INCONSISTENT,
    ),
    ("tcp reset", [dns(), tcp(Failure.CONNECTION_RESET)], BlockMethod.TCP, Reason.TCP_RESET),
    ("tcp timeout", [dns(), tcp(Failure.GENERIC_TIMEOUT)], BlockMethod.TCP, Reason.TCP_TIMEOUT),
    (
        "rst to syn is a reset",
        [dns(), tcp(Failure.CONNECTION_REFUSED)],
        BlockMethod.TCP,
        Reason.TCP_RESET,
    ),
    (
        "icmp unreachable is refused",
        [dns(), tcp(Failure.HOST_UNREACHABLE), tcp(Failure.HOST_UNREACHABLE, port=80)],
        BlockMethod.TCP,
        Reason.TCP_REFUSED,
    ),
    (
        "port 443 blocked, 80 open",
        [dns(), tcp(Failure.GENERIC_TIMEOUT), tcp(port=80), http(scheme="http")],
        BlockMethod.TCP,
        Reason.TCP_TIMEOUT,
    ),
    (
        "tls reset with a working control SNI",
        [dns(), tcp(), tls(Failure.CONNECTION_RESET)],
        BlockMethod.TLS,
        Reason.TLS_RESET,
    ),
    (
        "tls eof counts as reset",
        [dns(), tcp(), tls(Failure.EOF)],
        BlockMethod.TLS,
        Reason.TLS_RESET,
    ),
    (
        "tls timeout, control SNI fails too",
        [dns(), tcp(), tls(Failure.GENERIC_TIMEOUT, control=Failure.GENERIC_TIMEOUT)],
        BlockMethod.TLS,
        Reason.TLS_TIMEOUT,
    ),
    ("mitm", [dns(), tcp(), tls(Failure.SSL_INTERCEPTED)], BlockMethod.TLS, Reason.TLS_MITM),
    (
        "unknown authority, the control endpoint validates another certificate",
        [
            dns(control_result=CONTROL_SEES_VALID.to_dict(), control_reachable=True),
            tcp(),
            tls(Failure.SSL_UNKNOWN_AUTHORITY),
        ],
        BlockMethod.TLS,
        Reason.TLS_CERT,
    ),
    (
        "https failure explained by tls is reported as tls",
        [dns(), tcp(), tls(Failure.CONNECTION_RESET), http(Failure.CONNECTION_RESET)],
        BlockMethod.TLS,
        Reason.TLS_RESET,
    ),
    (
        "plain http blockpage",
        [dns(), tcp(), tls(), http(), http(Failure.HTTP_BLOCKPAGE, scheme="http", blockpage="lab")],
        BlockMethod.HTTP,
        Reason.HTTP_BLOCKPAGE,
    ),
    (
        "plain http reset",
        [dns(), tcp(), tls(), http(), http(Failure.CONNECTION_RESET, scheme="http")],
        BlockMethod.HTTP,
        Reason.HTTP_RESET,
    ),
    (
        "http eof counts as reset",
        [dns(), tcp(), tls(), http(Failure.EOF, scheme="http")],
        BlockMethod.HTTP,
        Reason.HTTP_RESET,
    ),
    (
        "http timeout",
        [dns(), tcp(), http(Failure.GENERIC_TIMEOUT, scheme="http")],
        BlockMethod.HTTP,
        Reason.HTTP_TIMEOUT,
    ),
    (
        "differs from control",
        [dns(), tcp(), tls(), http(Failure.HTTP_DIFF)],
        BlockMethod.HTTP,
        Reason.HTTP_DIFF,
    ),
    (
        "throttled, the GET timed out mid-body",
        [
            dns(),
            tcp(),
            tls(),
            m(TestKind.HTTP, Failure.GENERIC_TIMEOUT, http_url="https://f/", http_status=200),
            m(TestKind.HTTP, Failure.GENERIC_TIMEOUT, http_url="http://f/"),  # starved
            m(TestKind.THROUGHPUT, Failure.THROTTLED, tput_bps=4e3, tput_control_bps=1e7),
        ],
        BlockMethod.THROTTLED,
        Reason.THROTTLED,
    ),
    (
        "throttled",
        [*healthy(), m(TestKind.THROUGHPUT, Failure.THROTTLED, tput_bps=1e3, tput_control_bps=1e6)],
        BlockMethod.THROTTLED,
        Reason.THROTTLED,
    ),
]


@pytest.mark.parametrize(
    ("target", "method", "reason"),
    [row[1:] for row in BLOCKED_TABLE],
    ids=[row[0] for row in BLOCKED_TABLE],
)
def test_blocked_when_controls_work(
    target: list[Measurement], method: BlockMethod, reason: Reason
) -> None:
    result = judge(target, WORKING_CONTROLS)
    assert (result.kind, result.method, result.reason) == (VerdictKind.BLOCKED, method, reason)
    assert 0.3 < result.confidence <= 1.0
    assert result.measurement_ids
    assert set(result.measurement_ids) <= {x.id for x in target}
    assert result.explanation


@pytest.mark.parametrize(
    "target", [row[1] for row in BLOCKED_TABLE], ids=[row[0] for row in BLOCKED_TABLE]
)
def test_offline_when_every_control_fails(target: list[Measurement]) -> None:
    result = judge(target, DEAD_CONTROLS)
    assert (result.kind, result.method, result.reason) == (VerdictKind.OFFLINE, None, None)
    assert "control" in result.explanation


@pytest.mark.parametrize(
    "target", [row[1] for row in BLOCKED_TABLE], ids=[row[0] for row in BLOCKED_TABLE]
)
def test_inconclusive_without_controls(target: list[Measurement]) -> None:
    result = judge(target, {})
    assert result.kind is VerdictKind.INCONCLUSIVE
    assert result.confidence <= 0.3


@pytest.mark.parametrize(
    ("controls", "confidence_at_least"),
    [(WORKING_CONTROLS, 0.9), (DEAD_CONTROLS, 0.8), ({}, 0.8)],
    ids=["controls work", "controls fail", "no controls"],
)
def test_a_working_target_is_accessible_whatever_the_controls(
    controls: dict[str, list[Measurement]], confidence_at_least: float
) -> None:
    result = judge(healthy(), controls)
    assert (result.kind, result.method, result.reason) == (VerdictKind.ACCESSIBLE, None, None)
    assert result.confidence >= confidence_at_least


@pytest.mark.parametrize(
    ("case", "target"),
    [
        ("body capped is not a failure", [dns(), tcp(), tls(), http(Failure.HTTP_BODY_TOO_LARGE)]),
        (
            "inconsistent answer that validates by TLS is a CDN",
            [dns(Failure.DNS_INCONSISTENT), tcp(), tls(), http()],
        ),
        ("tls connect-stage failure is left to tcp", [dns(), tcp(), tls(stage="connect"), http()]),
        ("throughput fine", [*healthy(), m(TestKind.THROUGHPUT, "ok", tput_bps=1e6)]),
        (
            "a slow body is not an http block",
            [dns(), tcp(), tls(), m(TestKind.HTTP, Failure.GENERIC_TIMEOUT, http_status=200)],
        ),
    ],
)
def test_accessible_edge_cases(case: str, target: list[Measurement]) -> None:
    assert judge(target, WORKING_CONTROLS).kind is VerdictKind.ACCESSIBLE, case


def test_nxdomain_everywhere_is_the_domain_only_by_an_independent_view() -> None:
    """Censors inject NXDOMAIN, into every cleartext query on the path: a second cleartext
    resolver agreeing is no view of the name; an encrypted one agreeing is."""
    cleartext = judge(
        [dns(Failure.DNS_NXDOMAIN), dns(Failure.DNS_NXDOMAIN, primary=False)], WORKING_CONTROLS
    )
    assert cleartext.kind is VerdictKind.INCONCLUSIVE
    assert "no independent view" in cleartext.explanation
    doh = dns(Failure.DNS_NXDOMAIN, primary=False, resolver="https://doh.lab/", transport="doh")
    encrypted = judge([dns(Failure.DNS_NXDOMAIN), doh], WORKING_CONTROLS)
    assert encrypted.kind is VerdictKind.INCONCLUSIVE
    assert "encrypted resolver" in encrypted.explanation
    alone = judge([dns(Failure.DNS_NXDOMAIN)], WORKING_CONTROLS)
    assert alone.kind is VerdictKind.INCONCLUSIVE  # a name gone and a forgery look the same


def test_healthy_control_resolver_raises_confidence() -> None:
    alone = judge([dns(Failure.DNS_REFUSED)], WORKING_CONTROLS)
    confirmed = judge([dns(Failure.DNS_REFUSED), dns(primary=False)], WORKING_CONTROLS)
    assert confirmed.confidence > alone.confidence
    assert len(confirmed.measurement_ids) == 2


def test_sni_control_raises_tls_confidence() -> None:
    sni = judge([dns(), tcp(), tls(Failure.CONNECTION_RESET)], WORKING_CONTROLS)
    ip = judge(
        [dns(), tcp(), tls(Failure.CONNECTION_RESET, control=Failure.CONNECTION_RESET)],
        WORKING_CONTROLS,
    )
    assert sni.confidence > ip.confidence
    assert "SNI filtering" in sni.explanation
    assert "IP filtering" in ip.explanation


def test_half_the_controls_working_lowers_confidence() -> None:
    target = [dns(), tcp(Failure.CONNECTION_RESET)]
    full = judge(target, WORKING_CONTROLS)
    half = judge(target, {"example": healthy(), "wikipedia": list(DEAD)})
    assert full.kind is half.kind is VerdictKind.BLOCKED
    assert half.confidence < full.confidence


def test_nothing_measured_is_inconclusive() -> None:
    assert judge([], WORKING_CONTROLS).kind is VerdictKind.INCONCLUSIVE


def test_unexplained_failure_is_inconclusive() -> None:
    target = [dns(), tcp(), tls(), http(Failure.UNKNOWN)]
    assert judge(target, WORKING_CONTROLS).kind is VerdictKind.INCONCLUSIVE


def test_unexplained_failure_with_dead_controls_is_offline() -> None:
    """A local drop gives EPERM (unknown_failure), not a timeout: still a shutdown."""
    dead = {"example": [dns(Failure.UNKNOWN)], "wikipedia": [dns(Failure.UNKNOWN)]}
    assert judge([dns(Failure.UNKNOWN)], dead).kind is VerdictKind.OFFLINE


@pytest.mark.parametrize(
    ("measurements", "expected"),
    [
        (healthy(), True),
        ([dns(), tcp(), tls(), http(Failure.CONNECTION_RESET)], False),
        ([dns(), tcp()], True),
        ([dns(), tcp(Failure.GENERIC_TIMEOUT)], False),
        ([dns(Failure.DNS_TIMEOUT)], False),
        ([dns(Failure.DNS_TIMEOUT, primary=False)], False),
        ([], False),
        ([m(TestKind.THROUGHPUT, Failure.THROTTLED)], True),
    ],
)
def test_works_looks_at_the_deepest_layer(measurements: list[Measurement], expected: bool) -> None:
    assert works(measurements) is expected


def test_control_endpoint_down_too_is_an_outage_not_censorship() -> None:
    primary = m(TestKind.DNS, "ok", dns_primary=True, control_reachable=False)
    result = judge([primary, tcp(Failure.GENERIC_TIMEOUT)], WORKING_CONTROLS)
    assert result.kind is VerdictKind.INCONCLUSIVE
    assert "control endpoint" in result.explanation


def test_control_endpoint_up_keeps_the_block() -> None:
    primary = m(TestKind.DNS, "ok", dns_primary=True, control_reachable=True)
    result = judge([primary, tcp(Failure.GENERIC_TIMEOUT)], WORKING_CONTROLS)
    assert (result.kind, result.reason) == (VerdictKind.BLOCKED, Reason.TCP_TIMEOUT)
