"""Known TLS interception CAs (e.g. Kazakhstan's Qaznet Trust Network, 2019 and 2020).

A certificate whose issuer is one of these, or a CA from ``--ca-bundle`` whose SHA-256 is listed,
means the connection was intercepted (reason ``tls.mitm``), even when it validates because the
user installed the CA. Entries live in ``config/interception_cas.toml`` with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from probe.configfile import Section, load_list
from probe.shipped import shipped_config
from probe.x509 import CertificateParseError, CertNames, pem_certificates, read_names

DEFAULT_INTERCEPTION_CAS = shipped_config("interception_cas.toml")


@dataclass(frozen=True, slots=True)
class InterceptionCA:
    name: str
    country: str
    issuer_cn: tuple[str, ...]  # names of the CA as it appears in a leaf's issuer (CN or O)
    sha256: frozenset[str]  # fingerprints of the CA certificates (lowercase hex)
    source: str


@dataclass(frozen=True, slots=True)
class InterceptionCAs:
    cas: tuple[InterceptionCA, ...] = ()

    def match(self, leaf: CertNames) -> str | None:
        """The name of the interception CA that issued ``leaf``, or None."""
        issuer = {v.casefold() for k, v in leaf.issuer.items() if k in {"CN", "O"}}
        for ca in self.cas:
            if leaf.sha256 in ca.sha256 or issuer & {n.casefold() for n in ca.issuer_cn}:
                return ca.name
        return None

    def with_bundle(self, pem_text: str) -> InterceptionCAs:
        """Learn the subject names of listed CAs found (by fingerprint) in a trusted bundle."""
        learned = list(self.cas)
        for der in pem_certificates(pem_text):
            try:
                names = read_names(der)
            except CertificateParseError:
                continue
            for index, ca in enumerate(learned):
                subject_cn = names.subject.get("CN")
                if names.sha256 in ca.sha256 and subject_cn and subject_cn not in ca.issuer_cn:
                    learned[index] = InterceptionCA(
                        ca.name, ca.country, (*ca.issuer_cn, subject_cn), ca.sha256, ca.source
                    )
        return InterceptionCAs(tuple(learned))


def load_interception_cas(path: Path = DEFAULT_INTERCEPTION_CAS) -> InterceptionCAs:
    """Read the list; raises ConfigError naming the bad key."""
    return InterceptionCAs(tuple(load_list(path, "cas", _ca)))


def _ca(section: Section) -> InterceptionCA:
    fingerprints = [f.lower().replace(":", "") for f in section.strings("sha256", [])]
    for fingerprint in fingerprints:
        if len(fingerprint) != 64 or any(c not in "0123456789abcdef" for c in fingerprint):
            raise section.error("sha256", f"bad fingerprint {fingerprint!r}", "64 hex digits")
    ca = InterceptionCA(
        name=section.string("name"),
        country=section.string("country"),
        issuer_cn=tuple(section.strings("issuer_cn", [])),
        sha256=frozenset(fingerprints),
        source=section.string("source"),
    )
    if not ca.issuer_cn and not ca.sha256:
        raise section.error("issuer_cn", "an entry needs issuer_cn or sha256", "one of them")
    section.done()
    return ca
