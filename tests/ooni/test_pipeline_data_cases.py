"""bench/ooni_data_cases.py: how ooni/data's WC05_QA_CASES assertions read as one expectation
per case (docs/ooni.md "Agreement with OONI's new pipeline"), and that a table entry the
upstream assertions no longer support is caught as stale."""

from __future__ import annotations

import pytest

from bench.ooni_data_cases import (
    DATA_CASES,
    cite,
    data_agrees,
    data_same_layer,
    stale,
)


def test_every_expectation_is_one_of_four_and_cites_something() -> None:
    for expected, layer, fields in DATA_CASES.values():
        assert expected in {"blocked", "down", "not blocked", "unknown"}
        assert fields
        assert (layer is not None) if expected in {"blocked", "down"} else True


@pytest.mark.parametrize(
    ("case", "spec"),
    [
        ("tcpBlockingConnectTimeout", {"tcp_blocked_max": (0.5, 1.0)}),
        ("websiteDownTCPConnect", {"tcp_down_max": (0.5, 1.0)}),
        ("successWithHTTPS", {"tls_ok_max": (0.9, 1.0), "top_probe_analysis": "false"}),
        ("controlFailureWithSuccessfulHTTPWebsite", {"top_probe_analysis": None}),
        ("dnsBlockingBOGON", {"tcp_ok_max": (0.9, 1.0), "top_probe_analysis": "dns"}),
        (
            "redirectWithConsistentDNSAndThenTimeoutForHTTP",
            {"tls_ok_max": (0.9, 1.0), "top_tls_failure": "generic_timeout_error"},
        ),
    ],
)
def test_the_cited_assertions_read_as_the_table_says(case: str, spec: dict[str, object]) -> None:
    assert stale(case, spec) is None


@pytest.mark.parametrize(
    ("case", "spec"),
    [
        ("tcpBlockingConnectTimeout", {"tcp_blocked_max": (0.0, 0.05)}),  # not blocked now
        ("websiteDownTCPConnect", {"tcp_blocked_max": (0.5, 1.0)}),  # the field moved
        ("successWithHTTPS", {"top_probe_analysis": "http-failure"}),
        ("dnsBlockingBOGON", {"top_probe_analysis": "tcp_ip"}),  # another layer
        ("controlFailureWithSuccessfulHTTPWebsite", {"top_probe_analysis": "false"}),
        ("redirectWithConsistentDNSAndThenTimeoutForHTTP", {"tls_ok_max": (0.9, 1.0)}),
    ],
)
def test_an_entry_upstream_no_longer_supports_is_stale(case: str, spec: dict[str, object]) -> None:
    assert stale(case, spec) is not None
    assert stale(case, None) == "not in WC05_QA_CASES"
    assert stale("noSuchCase", spec) == "not in DATA_CASES"


def test_agreement_follows_the_expectation() -> None:
    # blocked: only blocked; down / not blocked: anything but blocked; unknown: neither side
    assert data_agrees("blocked", "tcpBlockingConnectTimeout")
    assert not data_agrees("inconclusive", "tcpBlockingConnectTimeout")
    for verdict in ("accessible", "inconclusive", "offline"):
        assert data_agrees(verdict, "websiteDownTCPConnect")
        assert data_agrees(verdict, "successWithHTTP")
    assert not data_agrees("blocked", "websiteDownTCPConnect")
    assert not data_agrees("accessible", "controlFailureWithSuccessfulHTTPWebsite")
    assert data_agrees("inconclusive", "controlFailureWithSuccessfulHTTPWebsite")


def test_layers_and_citations() -> None:
    assert data_same_layer("tls", "tlsBlockingConnectionResetWithInconsistentDNS") is True
    assert data_same_layer("dns", "tlsBlockingConnectionResetWithInconsistentDNS") is False
    assert data_same_layer("tls", "throttlingWithHTTPS") is True  # http-failure: tls or http
    assert data_same_layer(None, "successWithHTTP") is None
    text = cite("tcpBlockingConnectTimeout", {"tcp_blocked_max": (0.5, 1.0)})
    assert text == "blocked/tcp (tcp_blocked_max 0.5-1.0)"
