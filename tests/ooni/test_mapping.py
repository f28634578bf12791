"""OONI measurements (spec-based fixtures, tests/ooni/fixtures/README.md) -> our verdicts.

The expected verdicts are what our engine must conclude from OONI's evidence, not a copy of
OONI's ``blocking`` key; the agreement with OONI's own conclusion is checked beside them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collector.ooni import load_context, map_measurement, verdict_of
from collector.ooni.agreement import agrees, expectation, same_layer
from collector.ooni.envelope import OoniFormatError
from collector.ooni.ids import PROBE_PREFIX
from probe.model import TestKind

FIXTURES = Path(__file__).parent / "fixtures"
CONTEXT = load_context()

# file -> (verdict, method, reason)
EXPECTED: dict[str, tuple[str, str | None, str | None]] = {
    "wc04_accessible": ("accessible", None, None),
    "wc04_dns_nxdomain": ("blocked", "dns", "dns.nxdomain"),
    "wc04_dns_bogon": ("blocked", "dns", "dns.bogon"),
    "wc04_tcp_timeout": ("blocked", "tcp", "tcp.timeout"),
    "wc04_http_reset": ("blocked", "http", "http.reset"),
    "wc04_http_blockpage": ("blocked", "http", "http.blockpage"),
    "wc04_http_diff": ("blocked", "http", "http.diff"),
    "wc04_expected_failure": ("inconclusive", None, None),
    "wc04_th_unreachable": ("inconclusive", "tcp", "tcp.reset"),
    "wc05_accessible": ("accessible", None, None),
    "wc05_tls_reset": ("blocked", "tls", "tls.reset"),
    "wc05_dns_nxdomain_hijacked": ("blocked", "dns", "dns.nxdomain"),
    "wc05_cdn_consistent": ("accessible", None, None),
    "wc05_dns_inconsistent": ("blocked", "dns", "dns.inconsistent"),
    "wc05_site_down": ("inconclusive", None, None),
    "wc05_site_certificate": ("inconclusive", None, None),
    "telegram_ok": ("accessible", None, None),
    "telegram_blocked": ("blocked", "tls", "tls.reset"),
    "whatsapp_blocked": ("blocked", "tcp", "tcp.reset"),
    "signal_ok": ("accessible", None, None),
    "signal_blocked": ("blocked", "tls", "tls.reset"),
    "facebook_messenger_dns": ("blocked", "dns", "dns.inconsistent"),
}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def test_every_fixture_has_an_expectation() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict(name: str) -> None:
    imported = map_measurement(load(name), CONTEXT)
    verdict = verdict_of(imported)
    got = (
        verdict.verdict.value,
        None if verdict.method is None else verdict.method.value,
        None if verdict.reason is None else verdict.reason.value,
    )
    assert got == EXPECTED[name], verdict.explanation


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_agrees_with_ooni(name: str) -> None:
    imported = map_measurement(load(name), CONTEXT)
    verdict = verdict_of(imported)
    method = None if verdict.method is None else verdict.method.value
    assert agrees(verdict.verdict.value, expectation(imported.ooni))
    assert same_layer(method, imported.ooni) in {True, None}


def test_no_address_of_the_probe_is_kept() -> None:
    data = load("wc04_accessible")
    data["probe_ip"] = "198.51.100.77"
    imported = map_measurement(data, CONTEXT)
    text = json.dumps([m.to_dict() for m in imported.measurements])
    assert "198.51.100.77" not in text
    assert imported.probe_id.startswith(PROBE_PREFIX)
    assert data["report_id"] not in imported.probe_id


def test_vantage_and_target() -> None:
    imported = map_measurement(load("wc04_accessible"), CONTEXT)
    assert (imported.vantage.cc, imported.vantage.asn, imported.vantage.network) == (
        "KZ",
        9198,
        "mobile",
    )
    assert imported.target.name == "example"  # example.com: a control of targets.toml
    other = map_measurement(load("wc04_http_diff"), CONTEXT).target
    assert (other.name, other.domain, other.category.value) == (
        "example-edu",
        "www.example.edu",
        "other",
    )
    assert map_measurement(load("wc04_dns_nxdomain"), CONTEXT).target.name == "facebook"
    assert map_measurement(load("telegram_ok"), CONTEXT).target.name == "telegram"
    assert map_measurement(load("facebook_messenger_dns"), CONTEXT).target.name == "messenger"
    no_network = map_measurement(load("wc04_dns_nxdomain"), CONTEXT)
    assert no_network.vantage.network == "unknown"


def test_ids_are_deterministic_and_ooni_keys_kept() -> None:
    first = map_measurement(load("wc05_accessible"), CONTEXT)
    again = map_measurement(load("wc05_accessible"), CONTEXT)
    assert [m.id for m in first.measurements] == [m.id for m in again.measurements]
    assert verdict_of(first).id == verdict_of(again).id
    assert len({m.id for m in first.measurements}) == len(first.measurements)
    ooni = first.measurements[0].details["ooni"]
    assert ooni["blocking"] is False and ooni["x_blocking_flags"] == 32
    assert ooni["report_id"] == "20240214T090617Z_webconnectivity_IT_30722_n1_1IvUiXNWHooB5rmD"
    assert all(m.details["ooni_report_id"] == ooni["report_id"] for m in first.measurements)


def test_only_classic_results_are_evidence() -> None:
    """ts-017: the 0.5 extension lookup (udp 8.8.8.8) is stored but never judged."""
    imported = map_measurement(load("wc05_dns_nxdomain_hijacked"), CONTEXT)
    stored_dns = [m for m in imported.measurements if m.test is TestKind.DNS]
    judged_dns = [m for m in imported.evidence if m.test is TestKind.DNS]
    assert len(stored_dns) == 2 and len(judged_dns) == 1
    assert judged_dns[0].details["dns_primary"] is True
    assert not [m for m in imported.evidence if m.test is TestKind.TCP]  # TH-address connect


def test_system_a_and_aaaa_fold_into_one_lookup() -> None:
    imported = map_measurement(load("wc04_accessible"), CONTEXT)
    dns = [m for m in imported.measurements if m.test is TestKind.DNS]
    assert len(dns) == 1 and dns[0].outcome == "ok"
    assert dns[0].details["dns_answers"] == ["93.184.216.34"]


def test_control_block_becomes_control_evidence() -> None:
    imported = map_measurement(load("wc04_expected_failure"), CONTEXT)
    primary = next(m for m in imported.evidence if m.details.get("dns_primary"))
    assert primary.details["control_reachable"] is False
    reached = map_measurement(load("wc04_tcp_timeout"), CONTEXT)
    primary = next(m for m in reached.evidence if m.details.get("dns_primary"))
    assert primary.details["control_reachable"] is True
    assert primary.details["control_addresses"] == ["93.184.215.14"]
    assert list(reached.controls) == ["ooni-test-helper"]
    assert map_measurement(load("wc04_th_unreachable"), CONTEXT).controls == {}


def test_dns_timeout_is_ours_in_a_dns_stage() -> None:
    data = load("wc04_dns_nxdomain")
    for query in data["test_keys"]["queries"]:
        query["failure"] = "generic_timeout_error"
    imported = map_measurement(data, CONTEXT)
    assert imported.evidence[0].outcome == "dns_timeout_error"
    assert verdict_of(imported).reason is not None
    assert verdict_of(imported).reason.value == "dns.timeout"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d.update(report_id=42), "report_id"),
        (lambda d: d.update(probe_asn="9198"), "probe_asn"),
        (lambda d: d.update(probe_cc="kz"), "probe_cc"),
        (lambda d: d.update(measurement_start_time="yesterday"), "measurement_start_time"),
        (lambda d: d.update(test_keys=[]), "test_keys"),
        (lambda d: d.update(input="ftp://x/"), "input"),
        (lambda d: d.update(test_name="dnscheck"), "test_name"),
        (lambda d: d.update(test_keys={}), "test_keys.queries"),
    ],
)
def test_bad_measurements_name_the_key(change: Any, key: str) -> None:
    data = load("wc04_accessible")
    change(data)
    with pytest.raises(OoniFormatError) as raised:
        map_measurement(data, CONTEXT)
    assert raised.value.key == key


def test_a_blockpage_does_not_prove_the_address_it_came_from() -> None:
    """A DNS answer pointing at a censor's page server is inconsistent (ts-017: dns), though
    the GET to it succeeded: only the site's own page validates an address."""
    data = load("wc04_http_blockpage")
    data["test_keys"]["queries"][0]["answers"][0]["ipv4"] = "95.59.170.7"
    data["test_keys"]["tcp_connect"][0]["ip"] = "95.59.170.7"
    verdict = verdict_of(map_measurement(data, CONTEXT))
    assert (verdict.method, verdict.reason) == ("dns", "dns.inconsistent")


def test_a_page_matching_the_control_proves_its_address() -> None:
    """A CDN answer in another /24 whose page matches the test helper's is consistent."""
    data = load("wc04_accessible")
    data["test_keys"]["queries"][0]["answers"][0]["ipv4"] = "93.184.100.1"
    data["test_keys"]["tcp_connect"][0]["ip"] = "93.184.100.1"
    assert verdict_of(map_measurement(data, CONTEXT)).verdict.value == "accessible"


def test_untagged_lookups_in_a_tagged_measurement_still_count() -> None:
    data = load("wc05_tls_reset")
    for query in data["test_keys"]["queries"]:
        query.pop("tags", None)
    data["test_keys"]["queries"][0]["failure"] = "dns_nxdomain_error"
    data["test_keys"]["queries"][0]["answers"] = []
    verdict = verdict_of(map_measurement(data, CONTEXT))
    assert verdict.reason is not None and verdict.reason.value == "dns.nxdomain"


def test_android_no_data_is_no_answer() -> None:
    """df-007 android_dns_cache_no_data (getaddrinfo's EAI_NODATA) while the helper resolves."""
    data = load("wc04_dns_nxdomain")
    for query in data["test_keys"]["queries"]:
        query["failure"] = "android_dns_cache_no_data"
    verdict = verdict_of(map_measurement(data, CONTEXT))
    assert verdict.reason is not None and verdict.reason.value == "dns.no_answer"
