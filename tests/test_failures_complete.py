"""Failures and reasons are complete, as httpx's test_httpcore_all_exceptions_mapped checks.

Every ``Failure`` is produced by a layer's exception mapping, by a pure classification run here,
or is listed below with the module that sets it and why it is not a mapping. Every key of the
verdict's reason tables is a ``Failure``, and every ``Reason`` comes out of a table or a rule.
"""

from __future__ import annotations

import ast
import errno
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import httpx

from probe import dns as probe_dns
from probe import errors, findings, layers, tls
from probe import http as probe_http
from probe.failures import OK, Failure
from probe.model import Reason

ROOT = Path(__file__).resolve().parents[1]
LAB = "198.18.0.53"
LAB_NET = [ipaddress.ip_network("198.18.0.0/15")]  # the lab's addresses are no bogons here

# Set where a measurement is judged, not where an exception is mapped: module and why.
PRODUCED_ELSEWHERE = {
    Failure.DNS_NO_ANSWER: ("probe/dns.py", "a NOERROR answer without an address"),
    Failure.SSL_INTERCEPTED: ("probe/tls.py", "the chain ends at a known interception CA"),
    Failure.HTTP_BODY_TOO_LARGE: ("probe/http.py", "the body passed MAX_BODY_BYTES"),
    Failure.HTTP_TOO_MANY_REDIRECTS: ("probe/http.py", "more than MAX_REDIRECTS hops"),
    Failure.HTTP_INVALID_REDIRECT_LOCATION: ("probe/http.py", "a 3xx whose Location names no host"),
    Failure.HTTP_BLOCKPAGE: ("probe/steps.py", "the page matches a block page fingerprint"),
    Failure.HTTP_DIFF: ("probe/steps.py", "the cleartext page differs from the control's"),
    Failure.THROTTLED: ("probe/round.py", "throughput far below the round's controls"),
}


def _mapped_by_tables() -> set[str]:
    """The values of every layer's mapping table."""
    tables: list[object] = [
        *errors._ERRNO.values(),
        *(failure for _, failure in errors._CLASSES),
        *probe_dns._RCODE_FAILURES.values(),
        *(failure for _, failure in probe_dns._DNS_ERRORS),
        *tls._VERIFY_CODES.values(),
        *(failure for _, failure in probe_http._HTTP_ERRORS),
    ]
    return {str(f) for f in tables if f is not None}


def _mapped_by_functions() -> set[str]:
    """What the mapping functions return for real exceptions of each kind, fallbacks included."""
    unverified = ssl.SSLCertVerificationError("certificate verify failed")
    unverified.verify_code = 10  # X509_V_ERR_CERT_HAS_EXPIRED: not in the table
    return {
        probe_dns._rcode_failure(dns.rcode.YXDOMAIN),
        probe_dns._map_exception(dns.exception.Timeout()),
        probe_dns._map_exception(httpx.ReadError("reset")),
        probe_dns._map_exception(RuntimeError("odd")),
        errors.map_os_error(OSError(errno.ECONNREFUSED, "refused")) or "",
        tls.map_tls_exception(unverified),
        tls.map_tls_exception(ssl.SSLEOFError()),
        tls.map_tls_exception(ssl.SSLError(1, "handshake failure")),
        tls.map_tls_exception(RuntimeError("odd")),
        probe_http.map_http_exception(httpx.ConnectTimeout("slow")),
        probe_http.map_http_exception(httpx.RemoteProtocolError("Server disconnected")),
        probe_http.map_http_exception(probe_http.AddressRefusedError("special-purpose")),
        probe_http.map_http_exception(RuntimeError("odd")),
    }


def _classified() -> set[str]:
    """The outcomes of the pure DNS classification over answers built for each case."""
    resolver = probe_dns.parse_resolver(LAB)
    found = probe_dns.Lookup(resolver, "example.test", rcode="NOERROR", addresses=("198.18.1.1",))
    cases = [
        probe_dns.classify(
            probe_dns.Lookup(
                resolver,
                "example.test",
                rcode="NOERROR",
                addresses=("198.18.1.1",),
                extra_answers=(("198.18.9.9",),),
            ),
            allow=LAB_NET,
        ),
        probe_dns.classify(
            probe_dns.Lookup(resolver, "example.test", rcode="NOERROR", addresses=("127.0.0.1",))
        ),
        probe_dns.classify(found, allow=LAB_NET, blockpage_addresses=frozenset({"198.18.1.1"})),
        probe_dns.classify(found, allow=LAB_NET, control_addresses=frozenset({"198.19.7.7"})),
    ]
    return {c.outcome for c in cases}


def _set_in(module: str) -> set[str]:
    """``Failure.X`` names the module uses as a value (not only compared against)."""
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    compared = {
        id(node)
        for cmp in ast.walk(tree)
        if isinstance(cmp, ast.Compare)
        for node in [cmp.left, *cmp.comparators]
    }
    return {
        Failure[node.attr].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Failure"
        and id(node) not in compared
    }


def test_every_failure_is_produced_somewhere() -> None:
    produced = _mapped_by_tables() | _mapped_by_functions() | _classified()
    missing = {f for f in Failure if f not in produced and f not in PRODUCED_ELSEWHERE}
    assert missing == set(), "map these in a layer's table, or list them in PRODUCED_ELSEWHERE"


def test_every_mapping_yields_a_failure() -> None:
    produced = _mapped_by_tables() | _mapped_by_functions() | _classified()
    assert produced - {f.value for f in Failure} - {OK} == set()


def test_produced_elsewhere_is_true_and_no_longer_than_needed() -> None:
    mapped = _mapped_by_tables() | _mapped_by_functions() | _classified()
    assert {f for f in PRODUCED_ELSEWHERE if f in mapped} == set(), "now mapped: drop the entry"
    for failure, (module, _why) in PRODUCED_ELSEWHERE.items():
        assert failure.value in _set_in(module), f"{module} does not set {failure.name}"


def test_the_control_refusal_comes_from_the_shared_http_layer() -> None:
    """``address_refused`` is the control endpoint's: it reaches the probe through the same
    pin error the HTTP layer maps (probe/http.py), not a collector-only string."""
    refused = probe_http.AddressRefusedError("198.18.0.0/15 is special-purpose")
    assert probe_http.map_http_exception(refused) == Failure.ADDRESS_REFUSED


def _reason_tables() -> Iterator[tuple[str, dict[str, Reason]]]:
    for name in ("_DNS_REASONS", "_TCP_REASONS", "_TLS_REASONS", "_HOP_REASONS", "_HTTP_REASONS"):
        yield name, getattr(layers, name)


def test_every_reason_table_key_is_a_failure_and_every_value_a_reason() -> None:
    for name, table in _reason_tables():
        assert [k for k in table if not isinstance(k, Failure)] == [], name
        assert [v for v in table.values() if not isinstance(v, Reason)] == [], name
    assert [k for k in layers._CERT_PROBLEM if not isinstance(k, Failure)] == []


def test_failure_sets_of_the_verdict_are_failures() -> None:
    assert set(Failure) >= findings.RESOLVER_FAILURES
    assert set(Failure) >= findings.HARMLESS - {OK}


def _reasons_made_by_rules() -> set[Reason]:
    """``Reason.X`` passed straight to a ``Finding(...)`` in the verdict's layer rules."""
    tree = ast.parse((ROOT / "probe" / "layers.py").read_text(encoding="utf-8"))
    made = set()
    for call in ast.walk(tree):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "Finding"
        ):
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                if isinstance(arg, ast.Attribute) and getattr(arg.value, "id", "") == "Reason":
                    made.add(Reason[arg.attr])
    return made


def test_every_reason_comes_from_a_table_or_a_rule() -> None:
    from_tables = {r for _, table in _reason_tables() for r in table.values()}
    from_rules = _reasons_made_by_rules()
    assert from_rules, "no Finding(..., Reason.X, ...) found in probe/layers.py: read it again"
    assert set(Reason) - from_tables - from_rules == set()


def test_every_reason_has_a_base_confidence() -> None:
    assert set(layers.BASE_CONFIDENCE) == set(Reason)
    assert all(0.0 < c <= 1.0 for c in layers.BASE_CONFIDENCE.values())
