"""df-005 TCP connects and df-006 TLS handshakes as our TCP and TLS records
(``probe.evidence.TcpEvidence`` / ``TlsEvidence``).

A refused certificate is looked at as the probe does (probe/tls.py): the leaf's issuer against
the known interception CAs (``ssl_intercepted``), and whether its chain was trusted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from collector.ooni.failures import failure_of
from collector.ooni.stages import (
    Stamper,
    entries_of,
    flatten,
    mapping_of,
    raw_failure,
    split_endpoint,
    took,
)
from probe.evidence import TcpEvidence, TlsEvidence
from probe.failures import OK, Failure
from probe.interception import InterceptionCAs
from probe.model import Measurement, TestKind
from probe.x509 import CertificateParseError, CertNames, read_names


def tcp_records(
    stamper: Stamper, entries: Iterable[Mapping[str, Any]], *, url_port: int | None = None
) -> list[Measurement]:
    """``url_port``: the input URL's port (Web Connectivity); connects to it are the ones that
    decide (``tcp_url_port``), as on the probe."""
    made = []
    for entry in entries:
        status = mapping_of(entry.get("status"))
        failure = failure_of(status.get("failure"))
        if failure is None and status.get("success") is False:
            failure = Failure.UNKNOWN.value  # legacy probes: success false, no failure string
        port = entry.get("port")
        typed = TcpEvidence(
            address=str(entry.get("ip") or ""),
            port=port if isinstance(port, int) and not isinstance(port, bool) else 0,
            address_source="primary",
            t=took(entry),
            failure=failure,
            failure_raw=raw_failure(status.get("failure"), failure),
            url_port=None if url_port is None else port == url_port,
        )
        made.append(
            stamper.make(
                TestKind.TCP, entry.get("t0"), entry.get("t"), failure or OK, flatten(typed), typed
            )
        )
    return made


def tls_records(
    stamper: Stamper, entries: Iterable[Mapping[str, Any]], interception: InterceptionCAs
) -> list[Measurement]:
    made = []
    for entry in entries:
        failure = failure_of(entry.get("failure"))
        issuer = _text(entry.get("x_tyndau_issuer"))
        ca = _text(entry.get("x_tyndau_interception_ca"))
        leaf, subject = _text(entry.get("x_tyndau_leaf_sha256")), None
        der = _leaf_der(entry.get("peer_certificates"))
        if der is not None:
            leaf = hashlib.sha256(der).hexdigest()
        if der is not None and failure is not None:  # a refused certificate: whose was it?
            names = _names(der)
            if names is not None:
                issuer, subject = names.issuer_text, names.subject_text
                ca = interception.match(names)
                if ca is not None:
                    failure = Failure.SSL_INTERCEPTED.value
        shake = TlsEvidence(
            address=split_endpoint(entry.get("address"))[0],
            sni=str(entry.get("server_name") or ""),
            stage="done" if failure is None else "handshake",
            version=_text(entry.get("tls_version")),
            issuer=issuer,
            subject=subject,
            leaf_sha256=leaf,
            interception_ca=ca,
            chain_trusted=_chain_trusted(failure),
            t=took(entry),
            failure=failure,
            failure_raw=raw_failure(entry.get("failure"), failure),
            control_sni=_text(entry.get("x_tyndau_control_sni")),
            control_failure=_text(entry.get("x_tyndau_control_failure")),
        )
        made.append(
            stamper.make(
                TestKind.TLS, entry.get("t0"), entry.get("t"), failure or OK, flatten(shake), shake
            )
        )
    return made


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _chain_trusted(failure: str | None) -> bool | None:
    """A refused certificate from a trusted root (wrong name, expired) vs an unknown CA."""
    if failure in {Failure.SSL_INVALID_HOSTNAME, Failure.SSL_INVALID_CERTIFICATE}:
        return True
    if failure in {Failure.SSL_UNKNOWN_AUTHORITY, Failure.SSL_INTERCEPTED}:
        return False
    return None


def _leaf_der(certificates: object) -> bytes | None:
    """The first (leaf) of df-006 ``peer_certificates`` (BinaryData, base64 DER)."""
    first = entries_of(certificates)[:1]
    if not first or not isinstance(first[0].get("data"), str):
        return None
    try:
        return base64.b64decode(first[0]["data"], validate=True)
    except (binascii.Error, ValueError):
        return None


def _names(der: bytes) -> CertNames | None:
    try:
        return read_names(der)
    except CertificateParseError:
        return None
