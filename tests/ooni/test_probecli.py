"""Measurements shaped as OONI's own probe writes them (Web Connectivity 0.5.28, never submitted:
``report_id`` empty), reduced from ooni/probe-cli's QA runs (tests/ooni/fixtures/README.md).

Each file is one class our import got wrong against OONI's expectation: a redirect chain that
fails at a later hop (0.5 records no request for it), a "ghost" name that OONI's test helper
cannot resolve, a test helper that also dials the probe's (censor's) addresses, and an unknown
CA behind an inconsistent answer.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from collector.ooni import load_context, map_measurement, verdict_of
from collector.ooni.agreement import agrees, expectation, flagged_layer
from collector.ooni.envelope import OoniFormatError, parse_envelope
from collector.ooni.ids import PROBE_PREFIX
from collector.ooni.thcontrol import control_result
from probe.model import Category, TargetRef

FIXTURES = Path(__file__).parent / "fixtures" / "probecli"
LAB = ipaddress.ip_network("198.18.0.0/15")  # the fixtures' addresses: not bogons here
CONTEXT = load_context(allow_net=(LAB,))
TYNDAU = str(Path(sys.executable).with_name("tyndau"))

# file -> (verdict, method, reason); OONI's own conclusion is in each file
EXPECTED: dict[str, tuple[str, str | None, str | None]] = {
    "redirect_then_refused_http": ("blocked", "tcp", "tcp.reset"),
    "redirect_then_refused_https": ("blocked", "tcp", "tcp.reset"),
    "redirect_then_tls_reset": ("blocked", "http", "http.reset"),
    "redirect_then_nxdomain": ("blocked", "dns", "dns.nxdomain"),
    "ghost_dns_http": ("blocked", "dns", "dns.inconsistent"),
    "ghost_dns_https": ("blocked", "dns", "dns.inconsistent"),
    "unknown_ca_inconsistent_dns": ("blocked", "dns", "dns.inconsistent"),
    "tcp_refused_inconsistent_dns": ("blocked", "dns", "dns.inconsistent"),
    "broken_redirect_http": ("blocked", "http", "http.diff"),
    # the site's own 302, over a TLS session validated for the name: never a block
    "broken_redirect_https": ("inconclusive", None, None),
}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def judged(data: dict[str, Any]) -> tuple[str, str | None, str | None]:
    verdict = verdict_of(map_measurement(data, CONTEXT))
    return (
        verdict.verdict.value,
        None if verdict.method is None else verdict.method.value,
        None if verdict.reason is None else verdict.reason.value,
    )


def test_every_fixture_has_an_expectation() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict(name: str) -> None:
    assert judged(load(name)) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_agreement_with_ooni(name: str) -> None:
    imported = map_measurement(load(name), CONTEXT)
    verdict = verdict_of(imported)
    method = None if verdict.method is None else verdict.method.value
    agreed = agrees(verdict.verdict.value, expectation(imported.ooni))
    assert agreed is (name != "broken_redirect_https")  # docs/ooni.md: the one we keep apart
    if verdict.verdict.value == "blocked":
        assert flagged_layer(method, imported.ooni)


# -- the envelope of a measurement never submitted ----------------------------------------------


def test_an_empty_report_id_is_read_and_ids_are_derived() -> None:
    data = load("ghost_dns_http")
    assert data["report_id"] == "" and "measurement_uid" not in data
    imported = map_measurement(data, CONTEXT)
    assert imported.envelope.report_id is None
    assert imported.probe_id.startswith(PROBE_PREFIX)
    again = map_measurement(copy.deepcopy(data), CONTEXT)
    assert [m.id for m in again.measurements] == [m.id for m in imported.measurements]
    assert verdict_of(again).id == verdict_of(imported).id


def test_one_run_is_one_probe_and_its_measurements_stay_apart() -> None:
    """OONI's QA runs share software, start time, network and (here) the input's host: one
    probe, but each measurement its own records."""
    first = map_measurement(load("redirect_then_refused_http"), CONTEXT)
    second = map_measurement(load("redirect_then_refused_https"), CONTEXT)
    assert first.envelope.input == second.envelope.input
    assert first.probe_id == second.probe_id
    assert first.key != second.key and first.round_id != second.round_id
    assert not {m.id for m in first.measurements} & {m.id for m in second.measurements}


def test_probe_ip_never_enters_an_id() -> None:
    data = load("ghost_dns_https")
    moved = copy.deepcopy(data)
    moved["probe_ip"] = "198.18.200.7"
    one, two = map_measurement(data, CONTEXT), map_measurement(moved, CONTEXT)
    assert (one.probe_id, one.key) == (two.probe_id, two.key)
    other_run = copy.deepcopy(data)
    other_run["test_start_time"] = "2024-02-12 20:40:00"
    assert map_measurement(other_run, CONTEXT).probe_id != one.probe_id


def test_what_is_not_shared_or_missing_is_tolerated() -> None:
    data = load("redirect_then_nxdomain")
    for key in ("probe_cc", "probe_asn", "annotations", "test_runtime", "test_helpers"):
        data.pop(key, None)
    data.pop("measurement_start_time")  # the run's start stands in for it
    envelope = parse_envelope(data)
    assert (envelope.probe_cc, envelope.probe_asn, envelope.network_type) == ("ZZ", 0, None)
    assert envelope.measurement_start_time == envelope.test_start_time
    assert judged(data) == EXPECTED["redirect_then_nxdomain"]
    data["probe_asn"] = 30722  # an integer, as some re-exports write it
    assert parse_envelope(data).probe_asn == 30722


@pytest.mark.parametrize(
    ("key", "value"),
    [("report_id", 42), ("probe_cc", "Z"), ("probe_asn", "0"), ("measurement_start_time", "-")],
)
def test_a_malformed_key_is_still_named(key: str, value: object) -> None:
    data = load("ghost_dns_http")
    data[key] = value
    with pytest.raises(OoniFormatError) as raised:
        map_measurement(data, CONTEXT)
    assert raised.value.key == key


def test_an_im_test_never_submitted_has_no_backend_control() -> None:
    """The backend opening the report is the IM tests' only evidence that the vantage was
    online: without a report, a failure is not a block."""
    data = json.loads((FIXTURES.parent / "telegram_blocked.json").read_text())
    assert verdict_of(map_measurement(data, CONTEXT)).verdict.value == "blocked"
    data["report_id"] = ""
    imported = map_measurement(data, CONTEXT)
    assert imported.controls == {}
    assert verdict_of(imported).verdict.value == "inconclusive"


def test_store_twice_is_one_record(tmp_path: Path) -> None:
    store = tmp_path / "qa.db"
    args = [TYNDAU, "import", "ooni", "--allow-net", str(LAB), "--store", f"sqlite:{store}"]
    first = subprocess.run([*args, FIXTURES], capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(store) as db:
        verdicts = db.execute("SELECT count(*) FROM verdicts").fetchone()[0]
        probes = db.execute("SELECT count(DISTINCT probe_id) FROM measurements").fetchone()[0]
    assert (verdicts, probes) == (len(EXPECTED), 1)
    again = subprocess.run([*args, FIXTURES], capture_output=True, text=True, check=False)
    assert "0 new record(s)" in again.stderr, again.stderr


# -- the test helper's own view ------------------------------------------------------------------


def _control(name: str) -> Any:
    data = load(name)
    target = TargetRef("site", "site.example", Category.OTHER)
    return control_result(
        data["test_keys"]["control"],
        target=target,
        host="site.example",
        url=data["input"],
        at=parse_envelope(data).measurement_start_time,
    )


def test_the_helpers_connects_to_the_probes_addresses_are_not_its_view() -> None:
    ghost = _control("ghost_dns_https")  # it resolved nothing; it dialled the probe's address
    assert (ghost.tcp_address, ghost.tcp_failure, ghost.dns_failure) == (
        None,
        None,
        "dns_nxdomain_error",
    )
    behind_ca = _control("unknown_ca_inconsistent_dns")  # its own address validates
    assert (behind_ca.tcp_address, behind_ca.tls_failure) == ("198.18.20.34", None)


def test_asns_of_the_probes_addresses_make_no_answer_consistent() -> None:
    """ip_info covers the probe's addresses too; their ASN is not the site's."""
    data = load("tcp_refused_inconsistent_dns")
    for entry in data["test_keys"]["queries"]:
        for answer in entry.get("answers") or []:
            answer["asn"] = 64566  # the probe's answer and its ip_info entry agree
    assert judged(data) == ("blocked", "dns", "dns.inconsistent")


def test_a_page_with_nothing_to_compare_proves_no_address() -> None:
    """The ghost's cleartext page came from the censor's address; the test helper has no page
    (it found no address), so the page proves nothing about the answer."""
    imported = map_measurement(load("ghost_dns_http"), CONTEXT)
    http = [m for m in imported.evidence if m.test.value == "http"]
    assert [m.outcome for m in http] == ["ok"]
    assert judged(load("ghost_dns_http"))[1] == "dns"


def test_a_later_hop_that_failed_in_a_request_still_decides() -> None:
    """0.4 and 0.5 alike record the hop's request when a connection was up: its failure."""
    data = load("redirect_then_tls_reset")
    keys = data["test_keys"]
    hop = copy.deepcopy(keys["requests"][0])
    hop["request"]["url"] = "http://www.site.example/"
    hop["address"] = "198.18.20.34:80"
    hop["failure"] = "connection_reset"
    hop["response"] = {"body": "", "code": 0, "headers": {}, "headers_list": []}
    hop["tags"] = ["classic", "depth=1"]
    keys["requests"] = [hop, *keys["requests"]]
    keys["tls_handshakes"] = keys["tls_handshakes"][:1]
    keys["requests"][1]["response"]["headers"]["Location"] = "http://www.site.example/"
    assert judged(data) == ("blocked", "http", "http.reset")


def test_a_broken_redirect_over_validated_tls_is_the_sites_own() -> None:
    """The 302 to ``https://`` came over a handshake validated for the name: inconclusive, and
    the explanation says why (probe/layers.py ``http_finding``'s caveat)."""
    verdict = verdict_of(map_measurement(load("broken_redirect_https"), CONTEXT))
    assert verdict.verdict.value == "inconclusive"
    assert "validated for the name" in verdict.explanation
    data = load("broken_redirect_https")
    data["test_keys"]["tls_handshakes"][0]["failure"] = "connection_reset"  # nothing validated
    assert "validated for the name" not in verdict_of(map_measurement(data, CONTEXT)).explanation
