"""Just enough DER (X.690) to read a certificate's issuer and subject names and fingerprint.

Python 3.11's ssl module returns only the peer's leaf, and only as bytes when validation is off,
so the probe reads the names itself rather than pull a crypto library onto a Raspberry Pi.
Malformed input raises ``CertificateParseError``; callers record it as data.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass

_OIDS = {
    bytes.fromhex("550403"): "CN",
    bytes.fromhex("55040a"): "O",
    bytes.fromhex("55040b"): "OU",
    bytes.fromhex("550406"): "C",
}
_STRING_TAGS = {0x0C, 0x13, 0x14, 0x16, 0x1E}  # UTF8, Printable, Teletex, IA5, BMP strings


class CertificateParseError(ValueError):
    """The bytes are not a DER X.509 certificate we can read."""


@dataclass(frozen=True, slots=True)
class CertNames:
    issuer: dict[str, str]
    subject: dict[str, str]
    sha256: str  # lowercase hex of the DER

    @property
    def issuer_text(self) -> str:
        return _name_text(self.issuer)

    @property
    def subject_text(self) -> str:
        return _name_text(self.subject)


def _name_text(name: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in name.items())


def _read(data: bytes, pos: int) -> tuple[int, int, int]:
    """Read one TLV header at ``pos``: (tag, value start, value end)."""
    if pos + 2 > len(data):
        raise CertificateParseError("truncated DER")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise CertificateParseError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise CertificateParseError("DER value runs past the end")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    items = []
    pos = start
    while pos < end:
        tag, vstart, vend = _read(data, pos)
        items.append((tag, vstart, vend))
        pos = vend
    return items


def _name(data: bytes, start: int, end: int) -> dict[str, str]:
    found: dict[str, str] = {}
    for _, set_start, set_end in _children(data, start, end):
        for _, seq_start, seq_end in _children(data, set_start, set_end):
            parts = _children(data, seq_start, seq_end)
            if len(parts) != 2 or parts[0][0] != 0x06:
                raise CertificateParseError("bad name attribute")
            key = _OIDS.get(data[parts[0][1] : parts[0][2]])
            vtag, vstart, vend = parts[1]
            if key and vtag in _STRING_TAGS:
                codec = "utf-16-be" if vtag == 0x1E else "utf-8"
                found[key] = data[vstart:vend].decode(codec, errors="replace")
    return found


def read_names(der: bytes) -> CertNames:
    """Issuer and subject of a DER certificate, with its SHA-256 fingerprint."""
    tag, start, end = _read(der, 0)
    if tag != 0x30:
        raise CertificateParseError("not a certificate (no outer SEQUENCE)")
    tbs_tag, tbs_start, tbs_end = _read(der, start)
    if tbs_tag != 0x30:
        raise CertificateParseError("no tbsCertificate")
    fields = _children(der, tbs_start, tbs_end)
    if fields and fields[0][0] == 0xA0:  # [0] EXPLICIT version
        fields = fields[1:]
    if len(fields) < 5:
        raise CertificateParseError("tbsCertificate too short")
    issuer, subject = fields[2], fields[4]
    return CertNames(
        issuer=_name(der, issuer[1], issuer[2]),
        subject=_name(der, subject[1], subject[2]),
        sha256=hashlib.sha256(der).hexdigest(),
    )


def pem_certificates(text: str) -> list[bytes]:
    """Every certificate of a PEM bundle, as DER."""
    marker = "-----END CERTIFICATE-----"
    blocks = [b + marker for b in text.split(marker) if "-----BEGIN CERTIFICATE-----" in b]
    return [ssl.PEM_cert_to_DER_cert(b[b.index("-----BEGIN") :]) for b in blocks]
