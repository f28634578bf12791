"""Which of a 0.5 measurement's lookups speaks for the vantage, and which may vouch for it.

Older 0.5 versions of OONI's probe tag no lookup ``classic`` and list them in any order
(DoH first in some), and they also ask a cleartext UDP resolver of their own. Seen on 652
versions of probe-cli's QA measurements (``bench/ooni_agreement.py --dir``): the system
resolver (getaddrinfo, OONI's ``dns_experiment_failure``) is the primary; a DoH answer may
vouch for the primary's addresses, a cleartext one may not (the censor on the path forges it
too); and a page fetched from the DoH lookup's address proves that address, not the
primary's.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.ooni.test_probecli import judged, load

LIE = "198.19.66.41"  # what the censor answers (the fixture's)
TRUE = "198.18.20.34"  # the site's address, as OONI's test helper and DoH resolve it


def _untagged(data: dict[str, Any]) -> dict[str, Any]:
    """As older 0.5 versions write it: no ``classic`` tag anywhere, DoH listed first."""
    data = copy.deepcopy(data)
    tk = data["test_keys"]
    for key in ("queries", "tcp_connect", "tls_handshakes", "requests"):
        for entry in tk.get(key) or []:
            entry["tags"] = [t for t in entry.get("tags") or [] if t != "classic"]
    tk["queries"].sort(key=lambda q: q["engine"] != "doh")
    return data


def _udp_lookup(data: dict[str, Any], address: str) -> dict[str, Any]:
    system = next(q for q in data["test_keys"]["queries"] if q["engine"] == "getaddrinfo")
    udp: dict[str, Any] = copy.deepcopy(system)
    udp.update(engine="udp", resolver_address="198.18.0.53:53", query_type="A", transaction_id=9)
    udp["answers"][0]["ipv4"] = address
    return udp


def test_a_cleartext_resolver_repeating_the_lie_does_not_vouch_for_it() -> None:
    data = _untagged(load("tcp_refused_inconsistent_dns"))
    data["test_keys"]["queries"].append(_udp_lookup(data, LIE))
    assert judged(data) == ("blocked", "dns", "dns.inconsistent")


def test_the_system_resolver_is_the_primary_whatever_the_order() -> None:
    data = _untagged(load("tcp_refused_inconsistent_dns"))
    system = next(q for q in data["test_keys"]["queries"] if q["engine"] == "getaddrinfo")
    system.update(failure="dns_nxdomain_error", answers=None)
    assert data["test_keys"]["queries"][0]["engine"] == "doh"
    assert judged(data) == ("blocked", "dns", "dns.nxdomain")


def test_an_encrypted_resolver_still_vouches_for_the_same_answer() -> None:
    """getaddrinfo and DoH agree on an address the test helper did not get (a CDN's other
    edge, say) and the page came from it: the site's own answer, accessible."""
    data = _untagged(load("tcp_refused_inconsistent_dns"))
    tk = data["test_keys"]
    for q in tk["queries"]:
        q["answers"][0]["ipv4"] = LIE
    tk["tcp_connect"] = [c for c in tk["tcp_connect"] if c["ip"] == LIE and c["port"] == 80]
    tk["tcp_connect"][0]["status"] = {"blocked": False, "failure": None, "success": True}
    tk["requests"][0]["address"] = f"{LIE}:80"
    assert judged(data)[0] == "accessible"
