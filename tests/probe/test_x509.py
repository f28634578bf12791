"""probe/x509.py's small DER reader, by property: names built by ``cryptography`` are read back
exactly, and no byte string (random, truncated or corrupted) raises anything but
``CertificateParseError``."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.x509 import CertificateParseError, CertNames, pem_certificates, read_names

OIDS = {
    "CN": NameOID.COMMON_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "C": NameOID.COUNTRY_NAME,
}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Attribute text as UTF8String: any characters but surrogates (not encodable) and NUL; at
# most 64 bytes of UTF-8 (X.520's upper bound for CN, O and OU, which cryptography enforces):
# 16 characters of up to 4 bytes each.
text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=16,
)
names = st.fixed_dictionaries(
    {},
    optional={
        "CN": text,
        "O": text,
        "OU": text,
        "C": st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=2, max_size=2),
    },
).filter(bool)


@cache
def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def certificate(subject: dict[str, str], issuer: dict[str, str], *, serial: int = 1) -> bytes:
    def name(parts: dict[str, str]) -> x509.Name:
        return x509.Name([x509.NameAttribute(OIDS[k], v) for k, v in parts.items()])

    now = datetime(2026, 1, 5, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(_key().public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(_key(), hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@FAST
@given(subject=names, issuer=names)
def test_names_are_read_back_exactly(subject: dict[str, str], issuer: dict[str, str]) -> None:
    der = certificate(subject, issuer)
    assert read_names(der) == CertNames(issuer, subject, hashlib.sha256(der).hexdigest())


def _only_parse_errors(data: bytes) -> None:
    with contextlib.suppress(CertificateParseError):
        read_names(data)


@FAST
@given(st.binary(max_size=512))
def test_random_bytes_raise_only_parse_errors(data: bytes) -> None:
    _only_parse_errors(data)


@FAST
@given(subject=names, cut=st.integers(min_value=0), flips=st.lists(st.integers(0), max_size=4))
def test_truncated_or_corrupted_certificates_raise_only_parse_errors(
    subject: dict[str, str], cut: int, flips: list[int]
) -> None:
    der = bytearray(certificate(subject, {"CN": "lab CA"}))
    for at in flips:
        der[at % len(der)] ^= 0xFF
    _only_parse_errors(bytes(der[: cut % (len(der) + 1)]))


@pytest.mark.parametrize("count", [0, 1, 3])
def test_a_pem_bundle_gives_every_certificate(count: int) -> None:
    ders = [certificate({"CN": f"site {i}"}, {"CN": "lab CA"}, serial=i + 1) for i in range(count)]
    pem = "".join(
        x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM).decode()
        for d in ders
    )
    assert pem_certificates("# a bundle\n" + pem) == ders
