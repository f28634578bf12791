"""Blockpage fingerprints: known blockpage addresses (DNS) and body/header patterns (HTTP).

Patterns come from ``config/blockpages.toml``, each with its source; most are OONI's fingerprints
(ooni/backend fastpath ``utils.py``, ooni/blocking-fingerprints). Matching is plain substring
search on the first bytes of the body and on named headers, case-sensitive as OONI's are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from probe.configfile import Section, load_list
from probe.shipped import shipped_config

DEFAULT_BLOCKPAGES = shipped_config("blockpages.toml")


@dataclass(frozen=True, slots=True)
class HeaderPattern:
    name: str  # header name, case-insensitive
    prefix: str


@dataclass(frozen=True, slots=True)
class Fingerprint:
    name: str
    country: str
    addresses: frozenset[str]
    body: tuple[str, ...]
    headers: tuple[HeaderPattern, ...]
    source: str


@dataclass(frozen=True, slots=True)
class Blockpages:
    fingerprints: tuple[Fingerprint, ...] = ()

    @property
    def addresses(self) -> frozenset[str]:
        return frozenset(a for f in self.fingerprints for a in f.addresses)

    def match_address(self, address: str) -> Fingerprint | None:
        return next((f for f in self.fingerprints if address in f.addresses), None)

    def match_response(self, body: bytes, headers: Mapping[str, str]) -> Fingerprint | None:
        """The first fingerprint whose body substring or header prefix is in this response."""
        lowered = {k.lower(): v for k, v in headers.items()}
        text = body.decode("utf-8", errors="replace")
        for fingerprint in self.fingerprints:
            if any(pattern in text for pattern in fingerprint.body):
                return fingerprint
            for header in fingerprint.headers:
                if lowered.get(header.name.lower(), "").startswith(header.prefix):
                    return fingerprint
        return None

    def match_redirects(self, urls: Sequence[str]) -> Fingerprint | None:
        """The first fingerprint whose ``Location`` prefix one of the redirects followed starts
        with: a 302 to a national notice page names the block even when that page does not load
        (its host refuses or does not resolve)."""
        for fingerprint in self.fingerprints:
            for header in fingerprint.headers:
                if header.name.lower() == "location" and any(
                    u.startswith(header.prefix) for u in urls
                ):
                    return fingerprint
        return None


def load_blockpages(path: Path = DEFAULT_BLOCKPAGES) -> Blockpages:
    """Read fingerprints; raises ConfigError naming the bad key."""
    return Blockpages(tuple(load_list(path, "blockpages", _fingerprint)))


def _fingerprint(section: Section) -> Fingerprint:
    headers = []
    for item in section.sections("headers"):
        headers.append(HeaderPattern(item.string("name"), item.string("prefix")))
        item.done()
    fingerprint = Fingerprint(
        name=section.string("name"),
        country=section.string("country"),
        addresses=frozenset(section.strings("addresses", [])),
        body=tuple(section.strings("body", [])),
        headers=tuple(headers),
        source=section.string("source"),
    )
    if not (fingerprint.addresses or fingerprint.body or fingerprint.headers):
        raise section.error("body", "a fingerprint needs addresses, body or headers", "one of them")
    section.done()
    return fingerprint
