"""The lab's certificate authorities: a root that signs every platform, and a "national" CA.

The national CA plays the role of Kazakhstan's 2019 "Qaznet Trust Network" root, which users were
told to install so that TLS could be intercepted (Raman et al., IMC 2020). One EC key is reused
for every leaf to keep the lab's start fast; that is fine for a lab and wrong anywhere else.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LAB_ROOT_NAME = "tyndau lab root CA"
NATIONAL_CA_NAME = "Qaznet Trust Network (tyndau lab)"
UNTRUSTED_CA_NAME = "tyndau lab self-made CA (trusted by nobody)"
_VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Authority:
    """A CA's certificate and key, able to issue leaf certificates with one shared leaf key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    leaf_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, common_name: str, *, organization: str = "tyndau lab") -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            ]
        )
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key, ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load(cls, cert_pem: Path, key_pem: Path, leaf_key_pem: Path) -> Authority:
        cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
        key = serialization.load_pem_private_key(key_pem.read_bytes(), password=None)
        leaf = serialization.load_pem_private_key(leaf_key_pem.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            leaf, ec.EllipticCurvePrivateKey
        ):
            raise ValueError("lab CA keys must be EC keys")
        return cls(cert, key, leaf)

    def issue(self, names: Sequence[str], *, expired: bool = False) -> x509.Certificate:
        """A server certificate for ``names`` (DNS names or IP addresses), first one as CN.

        ``expired``: valid for a day that ended a day ago (a site that let its certificate lapse).
        """
        alt: list[x509.GeneralName] = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        now = datetime.datetime.now(datetime.UTC)
        day = datetime.timedelta(days=1)
        start, end = (now - 2 * day, now - day) if expired else (now - day / 24, now + _VALIDITY)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(self.leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )

    def write(self, directory: Path, stem: str) -> tuple[Path, Path, Path]:
        """Write the cert, key and leaf key: ``stem.pem``, ``stem.key``, ``stem-leaf.key``."""
        paths = (
            directory / f"{stem}.pem",
            directory / f"{stem}.key",
            directory / f"{stem}-leaf.key",
        )
        paths[0].write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        for path, key in ((paths[1], self.key), (paths[2], self.leaf_key)):
            path.write_bytes(private_pem(key))
            path.chmod(0o600)
        return paths


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
