"""TLS handshake measurement: SNI filtering, resets and timeouts after the ClientHello,
certificate errors, and interception by a known or unexpected CA.

The handshake runs on an already connected socket, so a failure here is a TLS-layer failure, not a
TCP one (OONI Web Connectivity separates the steps the same way). When validation fails, a second
handshake without validation fetches the leaf to learn who issued it.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, replace
from pathlib import Path

from probe.errors import map_os_error, raw_text
from probe.failures import Failure
from probe.interception import InterceptionCAs
from probe.x509 import CertificateParseError, read_names

# OpenSSL X509_V_ERR codes (x509_vfy.h) -> OONI failure strings
_VERIFY_CODES: dict[int, str] = {
    62: Failure.SSL_INVALID_HOSTNAME,  # X509_V_ERR_HOSTNAME_MISMATCH
    64: Failure.SSL_INVALID_HOSTNAME,  # X509_V_ERR_IP_ADDRESS_MISMATCH
    2: Failure.SSL_UNKNOWN_AUTHORITY,  # UNABLE_TO_GET_ISSUER_CERT
    18: Failure.SSL_UNKNOWN_AUTHORITY,  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: Failure.SSL_UNKNOWN_AUTHORITY,  # SELF_SIGNED_CERT_IN_CHAIN
    20: Failure.SSL_UNKNOWN_AUTHORITY,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: Failure.SSL_UNKNOWN_AUTHORITY,  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
}
# Codes OpenSSL reports only after the chain was built to a trusted root: it checks the chain
# first, then the host name, then validity dates (X509_verify_cert's order), so an expired or
# wrong-name leaf with one of these codes was issued under a CA the trust store holds.
TRUSTED_CHAIN_CODES = frozenset(
    {
        9,  # X509_V_ERR_CERT_NOT_YET_VALID
        10,  # X509_V_ERR_CERT_HAS_EXPIRED
        62,  # X509_V_ERR_HOSTNAME_MISMATCH
        64,  # X509_V_ERR_IP_ADDRESS_MISMATCH
    }
)
UNTRUSTED_CHAIN_CODES = frozenset({2, 18, 19, 20, 21})
NO_INTERCEPTION_CAS = InterceptionCAs()
_CERT_FAILURES = frozenset(
    {Failure.SSL_INVALID_HOSTNAME, Failure.SSL_UNKNOWN_AUTHORITY, Failure.SSL_INVALID_CERTIFICATE}
)


def make_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """The system trust store plus ``ca_bundle`` (e.g. the lab's CA), validating host names."""
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True, slots=True)
class Handshake:
    address: str
    port: int
    sni: str
    failure: str | None
    failure_raw: str | None
    stage: str  # "connect" | "handshake" | "done"
    t: float
    version: str | None = None
    issuer: str | None = None
    subject: str | None = None
    leaf_sha256: str | None = None
    interception_ca: str | None = None
    verify_code: int | None = None  # OpenSSL X509_V_ERR code when validation failed
    chain_trusted: bool | None = None  # the refused leaf chains to a trusted root

    @property
    def validated(self) -> bool:
        """A complete handshake whose certificate validated (and was not intercepted)."""
        return self.failure is None and self.stage == "done"


def chain_trusted(verify_code: int | None) -> bool | None:
    """Whether a refused certificate chained to a trusted root, from OpenSSL's verify code."""
    if verify_code in TRUSTED_CHAIN_CODES:
        return True
    if verify_code in UNTRUSTED_CHAIN_CODES:
        return False
    return None


def map_tls_exception(exc: BaseException) -> str:
    """The one place TLS-layer exceptions become failure strings, most specific first."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _VERIFY_CODES.get(exc.verify_code, Failure.SSL_INVALID_CERTIFICATE)
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return Failure.EOF
    mapped = map_os_error(exc)
    if mapped is not None:
        return mapped
    if isinstance(exc, ssl.SSLError):
        return Failure.SSL_FAILED_HANDSHAKE
    return Failure.UNKNOWN


async def handshake(
    address: str,
    sni: str,
    *,
    context: ssl.SSLContext,
    timeout: float,
    interception: InterceptionCAs = NO_INTERCEPTION_CAS,
    port: int = 443,
) -> Handshake:
    """Connect, then handshake with ``sni``; learn the issuer even when validation fails."""
    start = time.monotonic()
    stage = "connect"
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(address, port)
            stage = "handshake"
            try:
                await writer.start_tls(context, server_hostname=sni)
                tls_object = writer.get_extra_info("ssl_object")
                der = tls_object.getpeercert(binary_form=True) if tls_object else None
                version = tls_object.version() if tls_object else None
            finally:
                writer.close()
    except Exception as exc:  # every failure becomes data through the one mapping
        failure = map_tls_exception(exc)
        elapsed = time.monotonic() - start
        if stage == "handshake" and failure in _CERT_FAILURES:
            code = exc.verify_code if isinstance(exc, ssl.SSLCertVerificationError) else None
            refused = _Refused(failure, raw_text(exc), code)
            return await _diagnose_certificate(
                address, port, sni, refused, elapsed, timeout, interception
            )
        return Handshake(address, port, sni, failure, raw_text(exc), stage, elapsed)
    elapsed = time.monotonic() - start
    done = Handshake(address, port, sni, None, None, "done", elapsed, version=version)
    return _with_certificate(done, der, interception)


def _with_certificate(
    shaken: Handshake, der: bytes | None, interception: InterceptionCAs
) -> Handshake:
    """``shaken`` with what the peer's certificate says: its names and fingerprint, and the
    interception CA it matches (then the failure is ``ssl_intercepted``)."""
    if not der:
        return shaken
    try:
        names = read_names(der)
    except CertificateParseError:
        return shaken
    intercepted = interception.match(names)
    return replace(
        shaken,
        failure=Failure.SSL_INTERCEPTED if intercepted else shaken.failure,
        issuer=names.issuer_text,
        subject=names.subject_text,
        leaf_sha256=names.sha256,
        interception_ca=intercepted,
    )


@dataclass(frozen=True, slots=True)
class _Refused:
    """Why validation refused the certificate."""

    failure: str
    failure_raw: str
    verify_code: int | None


async def _diagnose_certificate(
    address: str,
    port: int,
    sni: str,
    refused: _Refused,
    elapsed: float,
    timeout: float,
    interception: InterceptionCAs,
) -> Handshake:
    """Second handshake with validation off, to learn the issuer of the refused certificate."""
    failure, failure_raw = refused.failure, refused.failure_raw
    der: bytes | None = None
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(address, port)
            try:
                await writer.start_tls(_unverified_context(), server_hostname=sni)
                tls_object = writer.get_extra_info("ssl_object")
                der = tls_object.getpeercert(binary_form=True) if tls_object else None
            finally:
                writer.close()
    except Exception as exc:  # the first failure is the finding; keep why diagnosis failed too
        failure_raw = f"{failure_raw}; unverified retry: {raw_text(exc)}"
    refusal = Handshake(
        address,
        port,
        sni,
        failure,
        failure_raw,
        "handshake",
        elapsed,
        verify_code=refused.verify_code,
        chain_trusted=chain_trusted(refused.verify_code),
    )
    return _with_certificate(refusal, der, interception)
