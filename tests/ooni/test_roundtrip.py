"""Export then import gives the same verdicts: our measurements, written as OONI JSON by
``tyndau export ooni`` and read back by ``tyndau import ooni``, are judged as they were.

The records below carry the details keys probe/steps.py writes (the lab round trip in
test_roundtrip_lab.py checks the same on what the probe really measures).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.ooni import load_context, map_measurement, verdict_of
from collector.ooni.export import export_round, rounds
from probe.model import Category, Measurement, TargetRef, TestKind, Vantage
from probe.verdict import judge

START = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
VANTAGE = Vantage("KZ", 9198, "mobile")
CONTEXT = load_context(allow_net=(ipaddress.ip_network("198.18.0.0/15"),))
RESOLVER, OTHER = "198.18.0.53:53", "198.18.0.54:53"
TARGETS = {
    "facebook": (TargetRef("facebook", "facebook.com", Category.PLATFORM), "198.18.1.10"),
    "example": (TargetRef("example", "example.com", Category.CONTROL), "198.18.2.10"),
    "wikipedia": (TargetRef("wikipedia", "wikipedia.org", Category.CONTROL), "198.18.3.10"),
}
Details = dict[str, Any]


class Round:
    """Builds one round's records the way probe/steps.py details them."""

    def __init__(self) -> None:
        self.records: list[Measurement] = []

    def add(self, target: str, test: TestKind, outcome: str, details: Details) -> None:
        ref = TARGETS[target][0]
        n = len(self.records)
        self.records.append(
            Measurement(
                id=f"0190a000-0000-7000-8000-{n:012d}",
                probe_id="probe-1",
                probe_version="0.3.0",
                vantage=VANTAGE,
                target=ref,
                test=test,
                started_at=START + timedelta(milliseconds=10 * n),
                duration_ms=12.0,
                outcome=outcome,
                round_id="round-1",
                details=details,
            )
        )

    def dns(
        self,
        target: str,
        outcome: str = "ok",
        answers: list[str] | None = None,
        *,
        primary: bool = True,
        extra: list[list[str]] | None = None,
    ) -> None:
        ref, address = TARGETS[target]
        self.add(
            target,
            TestKind.DNS,
            outcome,
            {
                "dns_query": ref.domain,
                "dns_resolver": RESOLVER if primary else OTHER,
                "dns_transport": "udp",
                "dns_system": primary,
                "dns_primary": primary,
                "dns_rcode": "NOERROR",
                "dns_answers": [address] if answers is None else answers,
                "dns_extra_answers": extra or [],
                "dns_bogons": [],
                "dns_consistency": "unknown",
                "dns_t": 0.01,
                "dns_failure": None if outcome == "ok" else outcome,
            },
        )

    def tcp(self, target: str, outcome: str = "ok", port: int = 443) -> None:
        self.add(
            target,
            TestKind.TCP,
            outcome,
            {
                "tcp_address": TARGETS[target][1],
                "tcp_port": port,
                "tcp_address_source": "primary",
                "tcp_t": 0.01,
                "tcp_failure": None if outcome == "ok" else outcome,
            },
        )

    def tls(self, target: str, outcome: str = "ok", *, sni_control: str | None = None) -> None:
        ref, address = TARGETS[target]
        self.add(
            target,
            TestKind.TLS,
            outcome,
            {
                "tls_address": address,
                "tls_sni": ref.domain,
                "tls_stage": "done" if outcome == "ok" else "handshake",
                "tls_version": "TLSv1.3",
                "tls_issuer": "CN=tyndau lab CA",
                "tls_subject": f"CN={ref.domain}",
                "tls_leaf_sha256": "ab" * 32,
                "tls_interception_ca": None,
                "tls_chain_trusted": True if outcome == "ok" else None,
                "tls_t": 0.02,
                "tls_failure": None if outcome == "ok" else outcome,
                "tls_control_sni": "example.com" if sni_control else None,
                "tls_control_failure": sni_control,
            },
        )

    def http(
        self,
        target: str,
        outcome: str = "ok",
        *,
        scheme: str = "https",
        blockpage: str | None = None,
    ) -> None:
        ref, address = TARGETS[target]
        ok = outcome in {"ok", "http_blockpage"}
        self.add(
            target,
            TestKind.HTTP,
            outcome,
            {
                "http_url": f"{scheme}://{ref.domain}/",
                "http_address": address,
                "http_status": 200 if ok else None,
                "http_headers": {"server": "nginx"},
                "http_header_names": ["content-type", "server"],
                "http_title": "Lab",
                "http_body_length": 500 if ok else 0,
                "http_body_truncated": False,
                "http_blockpage": blockpage,
                "http_redirects": [],
                "http_final_url": f"{scheme}://{ref.domain}/",
                "http_t": 0.05,
                "http_failure": None if outcome == "ok" else outcome,
            },
        )

    def works(self, target: str) -> None:
        self.dns(target)
        self.dns(target, primary=False)
        self.tcp(target)
        self.tcp(target, port=80)
        self.tls(target)
        self.http(target)


def accessible(r: Round) -> None:
    r.works("facebook")


def dns_nxdomain(r: Round) -> None:
    r.dns("facebook", "dns_nxdomain_error", [])
    r.dns("facebook", primary=False)
    r.tcp("facebook")
    r.tls("facebook")
    r.http("facebook")


def dns_bogon(r: Round) -> None:
    r.dns("facebook", "dns_bogon_answer", ["10.10.34.35"])
    r.dns("facebook", primary=False)
    r.tcp("facebook")
    r.tls("facebook")
    r.http("facebook")


def tcp_reset(r: Round) -> None:
    r.dns("facebook")
    r.tcp("facebook", "connection_refused")
    r.tcp("facebook", "connection_refused", port=80)


def tcp_timeout(r: Round) -> None:
    r.dns("facebook")
    r.tcp("facebook", "generic_timeout_error")


def tls_sni_reset(r: Round) -> None:
    r.dns("facebook")
    r.tcp("facebook")
    r.tls("facebook", "connection_reset", sni_control="ok")
    r.http("facebook", "connection_reset")


def http_blockpage(r: Round) -> None:
    r.dns("facebook")
    r.tcp("facebook")
    r.tcp("facebook", port=80)
    r.tls("facebook")
    r.http("facebook")
    r.http("facebook", "http_blockpage", scheme="http", blockpage="lab")


def dns_injected(r: Round) -> None:
    r.works("facebook")
    r.add(
        "facebook",
        TestKind.DNS_INJECTION,
        "dns_injected",
        {
            "inj_query": "facebook.com",
            "inj_address": "198.18.0.99",
            "inj_answers": [["198.18.66.6"]],
            "inj_ttls": [60],
            "inj_t": 0.2,
            "inj_failure": "dns_injected",
        },
    )


def throttled(r: Round) -> None:
    r.works("facebook")
    r.add(
        "facebook",
        TestKind.THROUGHPUT,
        "throttled",
        {
            "tput_bps": 2000.0,
            "tput_control_bps": 900000.0,
            "tput_bytes": 100000,
        },
    )


def resolver_down(r: Round) -> None:
    for target in ("facebook", "example", "wikipedia"):
        r.dns(target, "dns_server_failure", [])
    r.tcp("example")  # the probe went on with the control resolver's addresses
    r.tls("example")
    r.http("example")


SCENARIOS: dict[str, Callable[[Round], None]] = {
    "accessible": accessible,
    "dns_nxdomain": dns_nxdomain,
    "dns_bogon": dns_bogon,
    "tcp_reset": tcp_reset,
    "tcp_timeout": tcp_timeout,
    "tls_sni_reset": tls_sni_reset,
    "http_blockpage": http_blockpage,
    "dns_injected": dns_injected,
    "throttled": throttled,
}


def build(scenario: Callable[[Round], None], *, offline: bool = False) -> list[Measurement]:
    r = Round()
    scenario(r)
    for control in ("example", "wikipedia"):
        if offline:
            r.dns(control, "dns_timeout_error", [])
        elif not any(m.target.name == control for m in r.records):
            r.works(control)
    return sorted(r.records, key=lambda m: m.started_at)


def verdicts_of_round(records: list[Measurement]) -> dict[str, tuple[str, str | None, str | None]]:
    out = {}
    for name in TARGETS:
        ms = [m for m in records if m.target.name == name]
        if not ms:
            continue
        controls = {
            n: [m for m in records if m.target.name == n]
            for n, (ref, _) in TARGETS.items()
            if ref.category is Category.CONTROL and n != name
        }
        a = judge(ms, controls)
        out[name] = (a.kind.value, a.method and a.method.value, a.reason and a.reason.value)
    return out


def exported_then_imported(
    records: list[Measurement],
) -> dict[str, tuple[str, str | None, str | None]]:
    out = {}
    for group in rounds(records):
        for ooni in export_round(group, lambda m: "p-label"):
            text = json.dumps(ooni)  # through JSON, as a file would carry it
            verdict = verdict_of(map_measurement(json.loads(text), CONTEXT))
            name = ooni["measurement_uid"].rsplit("_", 1)[1]
            out[name] = (
                verdict.verdict.value,
                verdict.method and verdict.method.value,
                verdict.reason and verdict.reason.value,
            )
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_verdicts_after_export_and_import(name: str) -> None:
    records = build(SCENARIOS[name])
    original = verdicts_of_round(records)
    assert original["facebook"][0] in {"accessible", "blocked"}, original
    assert exported_then_imported(records) == original


def test_offline_round_stays_offline() -> None:
    records = build(tcp_timeout, offline=True)
    original = verdicts_of_round(records)
    assert original["facebook"][0] == "offline"
    assert exported_then_imported(records) == original


def test_resolver_down_stays_inconclusive() -> None:
    records = build(resolver_down)
    original = verdicts_of_round(records)
    assert original["facebook"][0] == "inconclusive", original
    assert exported_then_imported(records) == original


def test_export_is_ooni_shaped_and_names_no_probe() -> None:
    records = build(accessible)
    [group] = list(rounds(records))
    exported = export_round(group, lambda m: "p-label")
    assert len(exported) == 3
    first = exported[0]
    for key in (
        "measurement_start_time",
        "probe_asn",
        "probe_cc",
        "report_id",
        "test_keys",
        "test_name",
        "input",
        "data_format_version",
    ):
        assert key in first
    assert first["probe_asn"] == "AS9198" and first["probe_ip"] == "127.0.0.1"
    assert "probe-1" not in json.dumps(exported) and "p-label" in first["report_id"]
    assert first["test_keys"]["blocking"] is False and first["test_keys"]["accessible"] is True
