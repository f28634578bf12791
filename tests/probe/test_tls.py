"""TLS handshakes against real TLS servers on 127.0.0.1 with a PKI minted per session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from probe.failures import Failure
from probe.interception import InterceptionCA, InterceptionCAs, load_interception_cas
from probe.tls import handshake, make_context
from probe.x509 import CertificateParseError, pem_certificates, read_names


def shake(port: int, sni: str, pki: Any, **kw: Any) -> Any:
    context = make_context(pki.ca_pem)
    return asyncio.run(handshake("127.0.0.1", sni, context=context, timeout=2, port=port, **kw))


def test_valid_certificate(serve: Callable[..., Any], kit: Any, pki: Any) -> None:
    server = serve(kit.tls_wrapped(kit.silent, pki.leaf_cert, pki.leaf_key))
    result = shake(server.port, "ok.tyndau.test", pki)
    assert (result.failure, result.stage) == (None, "done")
    assert result.issuer == "CN=tyndau test root, O=tyndau lab"
    assert result.version in {"TLSv1.2", "TLSv1.3"}
    assert result.leaf_sha256 and len(result.leaf_sha256) == 64


def test_wrong_name_is_invalid_hostname(serve: Callable[..., Any], kit: Any, pki: Any) -> None:
    server = serve(kit.tls_wrapped(kit.silent, pki.leaf_cert, pki.leaf_key))
    result = shake(server.port, "facebook.com", pki)
    assert result.failure == Failure.SSL_INVALID_HOSTNAME
    assert result.issuer == "CN=tyndau test root, O=tyndau lab"  # learned by the unverified retry


def test_unknown_ca_is_unknown_authority(serve: Callable[..., Any], kit: Any, pki: Any) -> None:
    server = serve(kit.tls_wrapped(kit.silent, pki.national_cert, pki.national_key))
    result = shake(server.port, "ok.tyndau.test", pki)
    assert result.failure == Failure.SSL_UNKNOWN_AUTHORITY
    assert result.issuer == "CN=Qaznet Trust Network (tyndau lab), O=tyndau lab"
    assert result.interception_ca is None


def test_known_interception_ca_is_mitm(serve: Callable[..., Any], kit: Any, pki: Any) -> None:
    """The repo's list names the lab's national CA by subject."""
    server = serve(kit.tls_wrapped(kit.silent, pki.national_cert, pki.national_key))
    result = shake(server.port, "ok.tyndau.test", pki, interception=load_interception_cas())
    assert result.failure == Failure.SSL_INTERCEPTED
    assert result.interception_ca == "tyndau-lab-national"


def test_interception_even_when_the_user_trusts_the_ca(
    serve: Callable[..., Any], kit: Any, pki: Any
) -> None:
    """Validation succeeds (CA installed, as Kazakh ISPs demanded) but the issuer is listed by
    fingerprint: the subject is learned from the bundle."""
    server = serve(kit.tls_wrapped(kit.silent, pki.national_cert, pki.national_key))
    national = read_names(pem_certificates(pki.national_ca_pem.read_text())[0])
    listed = InterceptionCAs(
        (InterceptionCA("kz-test", "KZ", (), frozenset({national.sha256}), "test"),)
    ).with_bundle(pki.national_ca_pem.read_text())
    context = make_context(pki.national_ca_pem)
    result = asyncio.run(
        handshake(
            "127.0.0.1",
            "ok.tyndau.test",
            context=context,
            timeout=2,
            port=server.port,
            interception=listed,
        )
    )
    assert (result.failure, result.stage) == (Failure.SSL_INTERCEPTED, "done")
    assert result.interception_ca == "kz-test"


def test_reset_after_client_hello_with_blocked_sni(
    serve: Callable[..., Any], kit: Any, pki: Any
) -> None:
    handler = kit.tls_wrapped(
        kit.silent, pki.leaf_cert, pki.leaf_key, reset_on_sni=b"ok.tyndau.test"
    )
    server = serve(handler)
    blocked = shake(server.port, "ok.tyndau.test", pki)
    control = shake(server.port, "control.tyndau.test", pki)
    assert (blocked.failure, blocked.stage) == (Failure.CONNECTION_RESET, "handshake")
    assert control.failure is None


def test_silence_after_client_hello_times_out(
    serve: Callable[..., Any], kit: Any, pki: Any
) -> None:
    server = serve(kit.silent)
    result = shake(server.port, "ok.tyndau.test", pki)
    assert (result.failure, result.stage) == (Failure.GENERIC_TIMEOUT, "handshake")


def test_garbage_instead_of_server_hello(serve: Callable[..., Any], kit: Any, pki: Any) -> None:
    def garbage(conn: Any) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 20)

    server = serve(garbage)
    result = shake(server.port, "ok.tyndau.test", pki)
    assert result.failure in {Failure.SSL_FAILED_HANDSHAKE, Failure.EOF}
    assert result.failure_raw


def test_closed_port_fails_at_connect(kit: Any, pki: Any) -> None:
    result = shake(kit.free_port(), "ok.tyndau.test", pki)
    assert (result.failure, result.stage) == (Failure.CONNECTION_REFUSED, "connect")


def test_x509_rejects_garbage() -> None:
    with pytest.raises(CertificateParseError):
        read_names(b"\x30\x03\x02\x01")
    with pytest.raises(CertificateParseError):
        read_names(b"not der")
