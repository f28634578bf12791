"""DNS measurement against a real unbound on 127.0.0.1, a DoH relay, and a racing injector."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rrset
import pytest

from probe.consistency import consistency_of
from probe.dns import (
    Lookup,
    Resolver,
    ResolverSpecError,
    classify,
    lookup,
    parse_resolver,
    system_resolvers,
)
from probe.failures import Failure
from tests.support.http_server import QuietHandler, serving

LAB = ipaddress.ip_network("198.18.0.0/15")


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def udp(port: int) -> Resolver:
    return Resolver("udp", "127.0.0.1", port)


@pytest.mark.parametrize(
    ("name", "failure", "rcode"),
    [
        ("ok.tyndau.test", None, "NOERROR"),
        ("nx.tyndau.test", Failure.DNS_NXDOMAIN, "NXDOMAIN"),
        ("www.refused.test", Failure.DNS_REFUSED, "REFUSED"),
        ("servfail.test", Failure.DNS_SERVFAIL, "SERVFAIL"),
    ],
)
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_rcodes_over_udp_and_tcp(
    unbound: int, name: str, failure: str | None, rcode: str, transport: str
) -> None:
    resolver = Resolver(transport, "127.0.0.1", unbound)  # type: ignore[arg-type]
    found = run(lookup(name, resolver, timeout=3))
    assert (found.failure, found.rcode) == (failure, rcode)
    assert found.transports == (transport,)
    assert 0 < found.t < 3


def test_a_and_aaaa_together(unbound: int) -> None:
    found = run(lookup("dual.tyndau.test", udp(unbound), timeout=3))
    assert found.failure is None
    assert set(found.addresses) == {"127.0.0.1", "::1"}


def test_timeout_is_data_not_an_exception(unbound: int) -> None:
    found = run(lookup("x.deny.test", udp(unbound), timeout=0.5))
    assert found.failure == Failure.DNS_TIMEOUT
    assert found.failure_raw
    assert 0.4 < found.t < 1.5


def test_nothing_listening_is_refused_or_timeout() -> None:
    port = 9  # discard: nothing listens on loopback, ICMP port unreachable comes back
    found = run(lookup("ok.tyndau.test", udp(port), timeout=1))
    assert found.failure in {Failure.CONNECTION_REFUSED, Failure.DNS_TIMEOUT}
    tcp_found = run(lookup("ok.tyndau.test", Resolver("tcp", "127.0.0.1", port), timeout=1))
    assert tcp_found.failure == Failure.CONNECTION_REFUSED


@pytest.fixture
def doh_relay(unbound: int) -> Iterator[str]:
    """A minimal RFC 8484 POST endpoint relaying to unbound."""

    class Relay(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
            body = self.rfile.read(int(self.headers["content-length"]))
            if self.headers["content-type"] != "application/dns-message":
                self.send_response(415)
                self.end_headers()
                return
            answer = dns.query.udp(dns.message.from_wire(body), "127.0.0.1", port=unbound)
            wire = answer.to_wire()
            self.send_response(200)
            self.send_header("content-type", "application/dns-message")
            self.send_header("content-length", str(len(wire)))
            self.end_headers()
            self.wfile.write(wire)

    with serving(Relay) as url:
        yield f"{url}/dns-query"


def test_dns_over_https(doh_relay: str) -> None:
    resolver = Resolver("doh", doh_relay, 443)
    found = run(lookup("ok.tyndau.test", resolver, timeout=3))
    assert (found.failure, found.addresses, found.transports) == (None, ("127.0.0.1",), ("doh",))
    nx = run(lookup("nx.tyndau.test", resolver, timeout=3))
    assert nx.failure == Failure.DNS_NXDOMAIN


def test_doh_server_down_is_connection_refused() -> None:
    found = run(lookup("ok.tyndau.test", Resolver("doh", "http://127.0.0.1:9/q", 443), timeout=1))
    assert found.failure == Failure.CONNECTION_REFUSED


@pytest.fixture
def racing_injector(forging_resolver: Callable[..., int]) -> int:
    """Answers every query twice: first a forged address, then the 'real' one (an on-path race)."""
    return forging_resolver("10.10.34.35", "198.19.1.7")


def test_second_different_answer_is_injection(racing_injector: int) -> None:
    found = run(lookup("facebook.com", udp(racing_injector), timeout=2))
    assert found.addresses == ("10.10.34.35",)
    assert found.extra_answers == (("198.19.1.7",),)
    assert classify(found, allow=[LAB]).outcome == Failure.DNS_INJECTED


def test_garbage_on_the_port_is_ignored_until_timeout() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)

    def answer_garbage() -> None:
        data, peer = sock.recvfrom(4096)
        sock.sendto(b"\x00garbage" * 10, peer)

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    try:
        found = run(lookup("ok.tyndau.test", udp(sock.getsockname()[1]), timeout=0.5))
    finally:
        thread.join(timeout=3)
        sock.close()
    assert found.failure == Failure.DNS_TIMEOUT


def ok(*addresses: str) -> Lookup:
    return Lookup(udp(53), "x.test", rcode="NOERROR", addresses=addresses)


@pytest.mark.parametrize(
    ("found", "blockpages", "control", "outcome"),
    [
        (ok("198.19.1.5"), frozenset(), frozenset(), "ok"),
        (ok("10.10.34.35"), frozenset(), frozenset(), Failure.DNS_BOGON),
        (ok("127.0.0.1"), frozenset(), frozenset(), Failure.DNS_BOGON),
        (ok("198.18.9.80"), frozenset({"198.18.9.80"}), frozenset(), Failure.DNS_BLOCKPAGE),
        (ok("198.19.1.5"), frozenset(), frozenset({"198.19.1.9"}), "ok"),
        (ok("198.19.1.5"), frozenset(), frozenset({"198.19.7.1"}), Failure.DNS_INCONSISTENT),
    ],
    ids=["clean", "bogon", "loopback", "blockpage", "same /24", "inconsistent"],
)
def test_classify(
    found: Lookup, blockpages: frozenset[str], control: frozenset[str], outcome: str
) -> None:
    assert (
        classify(
            found, allow=[LAB], blockpage_addresses=blockpages, control_addresses=control
        ).outcome
        == outcome
    )


def test_lab_range_is_bogon_unless_allowed() -> None:
    assert classify(ok("198.19.1.5")).outcome == Failure.DNS_BOGON
    assert classify(ok("198.19.1.5"), allow=[LAB]).outcome == "ok"


def test_consistency_without_control_is_unknown() -> None:
    assert consistency_of(["1.2.3.4"], frozenset()) == "unknown"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("198.18.0.53", Resolver("udp", "198.18.0.53", 53)),
        ("127.0.0.1:5353", Resolver("udp", "127.0.0.1", 5353)),
        ("[::1]:5353", Resolver("udp", "::1", 5353)),
        ("2001:db8::1", Resolver("udp", "2001:db8::1", 53)),
        ("tcp://198.18.0.53", Resolver("tcp", "198.18.0.53", 53)),
        ("https://198.19.0.9/dns-query", Resolver("doh", "https://198.19.0.9/dns-query", 443)),
    ],
)
def test_parse_resolver(spec: str, expected: Resolver) -> None:
    assert parse_resolver(spec) == expected


@pytest.mark.parametrize("spec", ["dns.google", "1.2.3.4:0", "1.2.3.4:99999", "https://"])
def test_parse_resolver_rejects(spec: str) -> None:
    with pytest.raises(ResolverSpecError, match="resolver"):
        parse_resolver(spec)


def test_system_resolvers_reads_nameserver_lines(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# x\nsearch lab\nnameserver 198.18.0.53\nnameserver fe80::1%eth0\nnameserver bad\n"
    )
    found = system_resolvers(conf)
    assert [r.address for r in found] == ["198.18.0.53", "fe80::1"]
    assert all(r.system for r in found)
    assert system_resolvers(tmp_path / "missing") == []
