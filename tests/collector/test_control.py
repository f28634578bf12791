"""The control measurement against a real DNS server and a real HTTPS server on loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.control import ControlConfig, measure, split_host_port
from collector.settings import CollectorSettings, ControlSettings
from collector.store import open_store
from lab.pki import Authority, cert_pem
from probe.evidence import ControlResult
from probe.model import Category
from probe.targets import Target
from tests.support.ports import free_port

BODY = b"hello from the platform"
OPERATOR = "operator-secret-0123456789"


def _serve_dns(sock: socket.socket, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            wire, peer = sock.recvfrom(4096)
        except TimeoutError:
            continue
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        name = query.question[0].name.to_text()
        if name == "example.test." and query.question[0].rdtype == 1:
            response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "127.0.0.1"))
        elif name != "example.test.":
            response.set_rcode(dns.rcode.NXDOMAIN)
        sock.sendto(response.to_wire(), peer)


def _certificate(tmp: Path) -> tuple[Path, Path, Path]:
    """A leaf for example.test issued by a CA of the lab's own code (lab/pki.py): the CA's
    certificate (the trust bundle), the leaf and its key."""
    authority = Authority.create("tyndau control test CA")
    ca_path, _, leaf_key = authority.write(tmp, "ca")
    leaf = tmp / "leaf.pem"
    leaf.write_bytes(cert_pem(authority.issue(["example.test"])))
    return ca_path, leaf, leaf_key


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Platform:
    dns_port: int
    https_port: int
    ca: Path

    connections: Callable[[], int]

    def config(self, **changes: object) -> ControlConfig:
        base = {
            "timeout_s": 2.0,
            "resolver": f"127.0.0.1:{self.dns_port}",
            "ca_bundle": str(self.ca),
            "allow_net": LOOPBACK,
        }
        return ControlConfig(**{**base, **changes})  # type: ignore[arg-type]

    def target(self, domain: str = "example.test", port: int | None = None) -> Target:
        return Target(
            domain.split(".")[0],
            domain,
            Category.PLATFORM,
            f"https://{domain}:{port or self.https_port}/",
        )


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    tmp = tmp_path_factory.mktemp("platform")
    ca, cert, key = _certificate(tmp)
    stop = threading.Event()
    dns_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns_sock.bind(("127.0.0.1", 0))
    dns_thread = threading.Thread(target=_serve_dns, args=(dns_sock, stop), daemon=True)
    dns_thread.start()
    accepted = [0]

    class _Counting(ThreadingHTTPServer):
        def get_request(self) -> tuple[socket.socket, object]:
            request = super().get_request()
            accepted[0] += 1
            return request

    httpd = _Counting(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    http_thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    http_thread.start()
    try:
        yield Platform(dns_sock.getsockname()[1], httpd.server_address[1], ca, lambda: accepted[0])
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        dns_thread.join(timeout=5)
        dns_sock.close()


LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def test_reachable_target(platform: Platform) -> None:
    result = asyncio.run(measure(platform.target(), platform.config()))
    assert result.addresses == ("127.0.0.1",)
    assert result.dns_failure is None
    assert (result.tcp_address, result.tcp_failure, result.tls_failure) == ("127.0.0.1", None, None)
    assert result.tls_leaf_sha256 and result.tls_chain_trusted is True
    assert result.http_failure is None and result.reachable
    assert result.http_status == 200
    assert result.http_body_length == len(BODY)
    assert "content-length" in result.http_header_names
    assert result.refused == ()


def test_failures_are_data(platform: Platform) -> None:
    gone = asyncio.run(measure(platform.target("gone.test"), platform.config()))
    assert gone.dns_failure == "dns_nxdomain_error"
    assert gone.tcp_address is None and not gone.reachable
    refused = asyncio.run(measure(platform.target(port=free_port()), platform.config()))
    assert refused.tcp_failure == "connection_refused"
    untrusted = asyncio.run(measure(platform.target(), platform.config(ca_bundle=None)))
    # the probe's own OpenSSL verify-code mapping, not words in a message
    assert untrusted.tls_failure == "ssl_unknown_authority"
    assert untrusted.tls_chain_trusted is False and untrusted.tls_leaf_sha256
    silent = asyncio.run(
        measure(
            platform.target(), platform.config(resolver=f"127.0.0.1:{free_port()}", timeout_s=0.5)
        )
    )
    # a closed port answers ICMP port unreachable: the probe's own mapping says so
    assert silent.dns_failure in {"dns_timeout_error", "connection_refused"}


def _settled(platform: Platform) -> int:
    """The server's connection count once earlier tests' connections have all been accepted
    (serve_forever polls every 0.5 s, so a closed client's connection can be counted late)."""
    count = platform.connections()
    for _ in range(20):
        time.sleep(0.6)
        if platform.connections() == count:
            return count
        count = platform.connections()
    return count


def test_special_purpose_addresses_are_never_dialled(platform: Platform) -> None:
    """Without allow_net, loopback is refused: the server sees no connection at all."""
    before = _settled(platform)
    result = asyncio.run(measure(platform.target(), platform.config(allow_net=())))
    assert result.addresses == ("127.0.0.1",)
    assert result.tcp_failure == "address_refused" and result.tcp_address is None
    assert [r.address for r in result.refused] == ["127.0.0.1"]
    assert "RFC 6890" in result.refused[0].reason
    assert not result.reachable
    assert platform.connections() == before


def test_control_endpoint_measures_listed_targets(platform: Platform, tmp_path: Path) -> None:
    settings = CollectorSettings(
        operator_token=OPERATOR,
        control=ControlSettings(
            timeout_s=2.0,
            resolver=f"127.0.0.1:{platform.dns_port}",
            ca_bundle=platform.ca,
            allow_net=LOOPBACK,
        ),
    )
    store = open_store(f"sqlite:{tmp_path / 'c.sqlite3'}")
    client = TestClient(create_app(settings, store, targets=[platform.target()]))
    creds = client.post(
        "/v1/probes", json={"name": "p"}, headers={"Authorization": f"Bearer {OPERATOR}"}
    ).json()
    auth = {"Authorization": f"Bearer {creds['token']}"}
    response = client.post("/v1/control", json={"target": "example.test"}, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    result = ControlResult.from_dict(body)  # the one type, read back as the probe reads it
    assert result.http_status == 200 and result.dns_failure is None
    assert "body" not in body  # a summary, never the content: not a proxy
    store.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("198.18.0.53", ("198.18.0.53", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("::1", ("::1", 53)),
    ],
)
def test_resolver_addresses(text: str, expected: tuple[str, int]) -> None:
    assert split_host_port(text, default_port=53) == expected
