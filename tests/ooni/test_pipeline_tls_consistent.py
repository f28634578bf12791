"""An answer the test helper's own TLS handshake validates for the name is the site's address.

OONI's test helper dials the probe's addresses too (th-001) and verifies the certificate for the
name: a handshake it completes with the probe's address proves that address serves the name's
own certificate, whoever resolved it (ooni/data's ``tls_consistent_answer`` rule, DNS ok; our
DNS rule already reads the probe's own validated handshake that way). A failure there, or a
handshake for another name, proves nothing. Built on tests/ooni/fixtures/probecli's
``tcp_refused_inconsistent_dns`` (an answer of another network, refused on 80 and 443).
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from collector.ooni import load_context, map_measurement, verdict_of
from collector.ooni.thcontrol import helper_validated

FIXTURE = Path(__file__).parent / "fixtures" / "probecli" / "tcp_refused_inconsistent_dns.json"
CONTEXT = load_context(allow_net=(ipaddress.ip_network("198.18.0.0/15"),))
PROBES = "198.19.66.41"  # the probe's system answer; the helper resolved 198.18.20.34


def shaken(server_name: str, failure: str | None) -> dict[str, Any]:
    """The fixture with the helper's connect to and handshake with the probe's address."""
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    control = data["test_keys"]["control"]
    control["tcp_connect"][f"{PROBES}:443"] = {"status": True, "failure": None}
    control["tls_handshake"][f"{PROBES}:443"] = {
        "server_name": server_name,
        "status": failure is None,
        "failure": failure,
    }
    return data


def judged(data: dict[str, Any]) -> tuple[str, str | None, str | None]:
    verdict = verdict_of(map_measurement(data, CONTEXT))
    method = None if verdict.method is None else verdict.method.value
    return verdict.verdict.value, method, None if verdict.reason is None else verdict.reason.value


def test_as_recorded_the_answer_is_inconsistent() -> None:
    assert judged(json.loads(FIXTURE.read_text())) == ("blocked", "dns", "dns.inconsistent")


def test_the_helpers_validated_handshake_proves_the_probes_answer() -> None:
    """The address is the site's: the refused connects to it are the block (the helper's own
    address connects), not the answer."""
    assert judged(shaken("www.site.example", None)) == ("blocked", "tcp", "tcp.reset")
    evidence = map_measurement(shaken("WWW.Site.Example.", None), CONTEXT).evidence
    primary = next(m for m in evidence if m.test.value == "dns")
    assert primary.details.get("dns_consistency") == "consistent"


@pytest.mark.parametrize(
    ("server_name", "failure"),
    [
        ("www.site.example", "ssl_unknown_authority"),  # a censor's certificate
        ("www.site.example", "connection_reset"),
        ("other.example", None),  # validated for another name
    ],
)
def test_a_failed_or_foreign_handshake_proves_nothing(server_name: str, failure: str) -> None:
    assert judged(shaken(server_name, failure)) == ("blocked", "dns", "dns.inconsistent")


def test_helper_validated_reads_the_endpoint_map() -> None:
    control = {
        "tls_handshake": {
            "[2001:db8::1]:443": {"server_name": "a.example", "status": True, "failure": None},
            "192.0.2.1:443": {"server_name": "a.example", "status": False, "failure": "eof_error"},
            "192.0.2.2:443": {"server_name": "b.example", "status": True, "failure": None},
            "192.0.2.3:443": "not a mapping",
        }
    }
    assert helper_validated(control, "A.example") == frozenset({"2001:db8::1"})
    assert helper_validated({}, "a.example") == frozenset()
    assert helper_validated({"tls_handshake": None}, "a.example") == frozenset()
