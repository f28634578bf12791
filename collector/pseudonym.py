"""Published pseudonyms: what a public reader sees instead of the fields that link a volunteer.

A public record names its probe by ``p-`` + HMAC-SHA256(collector secret, probe id, UTC day, cc,
asn, network), cut to 80 bits in hex: one probe's records of one day on one network share a
pseudonym (researchers can count "3 probes saw it"); another day or another network gives an
unrelated one, and without the secret nobody can tell which probe is behind it. Round ids are
keyed the same way (a round that straddles midnight splits in two). Measurement ids are UUIDv7
(time plus 74 random bits, probe/ids.py) and link nothing, so they are published as they are.
Pure code: the secret comes from the store (``Store.publication_secret``). docs/volunteers.md.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from probe.model import Measurement, parse_time

PROBE_PREFIX = "p-"
ROUND_PREFIX = "r-"
SECRET_BYTES = 32
MIN_SECRET_BYTES = 16
LABEL_BYTES = 10  # 80 bits: 20 hex digits, no collision in any realistic fleet
PRIVATE_RESOLVER = "private"
UNKNOWN_VERSION = "unknown"
_RELEASE = re.compile(r"\d+(?:\.\d+){0,2}")
_COMPACT = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))

# Every key of the wire measurement (probe/model.py Measurement.to_dict) and what publishing does
# with it; tests/collector/test_pseudonym.py checks the table covers the wire format exactly, so a
# new field is a decision, never published by accident.
MEASUREMENT_FIELDS: dict[str, str] = {
    "id": "kept: UUIDv7, its random part is new for every record",
    "schema": "kept",
    "probe_id": "replaced by the day/network pseudonym",
    "probe_version": "cut to its release number (a local build string would link)",
    "vantage": "kept: cc, asn, network are the published location",
    "target": "kept",
    "test": "kept",
    "started_at": "kept: the round schedule is jittered on the probe",
    "duration_ms": "kept",
    "outcome": "kept",
    "round_id": "replaced by a day/network keyed round label",
    "details": "kept, except a resolver at a private address becomes 'private'",
}


def new_secret() -> bytes:
    """A fresh collector secret (32 random bytes), made once and kept with the store."""
    return secrets.token_bytes(SECRET_BYTES)


def utc_day(at: datetime) -> str:
    """The UTC day of a moment, ``YYYY-MM-DD``: the period within which a pseudonym is stable."""
    return at.astimezone(UTC).date().isoformat()


@dataclass(frozen=True, slots=True)
class Publisher:
    """Turns stored records into their public form under one collector secret."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"publication secret: {len(self.secret)} bytes; at least {MIN_SECRET_BYTES} "
                "(let the store generate it: Store.publication_secret())"
            )

    def probe_label(self, probe_id: str, *, at: datetime, cc: str, asn: int, network: str) -> str:
        """The published pseudonym of ``probe_id`` for its records of ``at``'s UTC day there."""
        return PROBE_PREFIX + self._digest("probe", probe_id, utc_day(at), cc, asn, network)

    def round_label(self, round_id: str, *, at: datetime, cc: str, asn: int, network: str) -> str:
        """The published id of a round, keyed like the probe's pseudonym."""
        return ROUND_PREFIX + self._digest("round", round_id, utc_day(at), cc, asn, network)

    def label_measurement(self, measurement: Measurement | Mapping[str, Any]) -> str:
        """The pseudonym of a measurement's probe: pass as ``label_probe`` to the OONI export."""
        if isinstance(measurement, Measurement):
            v = measurement.vantage
            return self.probe_label(
                measurement.probe_id,
                at=measurement.started_at,
                cc=v.cc,
                asn=v.asn,
                network=v.network,
            )
        vantage = measurement["vantage"]
        return self.probe_label(
            str(measurement["probe_id"]),
            at=parse_time(str(measurement["started_at"])),
            cc=str(vantage["cc"]),
            asn=int(vantage["asn"]),
            network=str(vantage["network"]),
        )

    def measurement(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The public form of a wire measurement (``to_dict``): see ``MEASUREMENT_FIELDS``."""
        vantage = record["vantage"]
        at = parse_time(str(record["started_at"]))
        cc, asn, network = str(vantage["cc"]), int(vantage["asn"]), str(vantage["network"])
        public = dict(record)
        public["probe_id"] = self.label_measurement(record)
        public["round_id"] = self.round_label(
            str(record["round_id"]), at=at, cc=cc, asn=asn, network=network
        )
        public["probe_version"] = release_of(str(record["probe_version"]))
        public["details"] = public_details(record["details"])
        return public

    def _digest(self, kind: str, *parts: str | int) -> str:
        return _keyed(self.secret, kind, *parts)


@functools.lru_cache(maxsize=65_536)  # a page repeats few (probe, day, vantage) keys
def _keyed(secret: bytes, kind: str, *parts: str | int) -> str:
    """Hex of the first LABEL_BYTES of HMAC-SHA256(secret, JSON [kind, *parts])."""
    message = _COMPACT.encode([kind, *parts]).encode("ascii")  # JSON: unambiguous
    return hmac.digest(secret, message, hashlib.sha256)[:LABEL_BYTES].hex()


def release_of(version: str) -> str:
    """``0.3.1`` of ``0.3.1.dev4+g1a2b3c``: local build strings would single out one device."""
    found = _RELEASE.match(version)
    return found.group(0) if found else UNKNOWN_VERSION


def public_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details with every ``*_resolver`` at a non-global address (a home router, a LAN
    forwarder, a VPN's internal resolver) replaced by ``"private"``; the rest is evidence."""
    public = dict(details)
    for key, value in details.items():
        if key.endswith("_resolver") and isinstance(value, str) and _private_resolver(value):
            public[key] = PRIVATE_RESOLVER
    return public


@functools.lru_cache(maxsize=4096)  # a fleet uses few resolvers; parsing one costs ~10 us
def _private_resolver(label: str) -> bool:
    """True for a resolver label (``IP:PORT``, ``[IPv6]:PORT``, ``tcp://...``, DoH URL) at a
    non-global IP address; a DoH URL naming a host by name is public."""
    spec = label.strip()
    if spec.startswith("https://"):
        host = urlsplit(spec).hostname or ""
    else:
        spec = spec.removeprefix("tcp://")
        if spec.startswith("["):
            host = spec[1:].partition("]")[0]
        elif spec.count(":") == 1:
            host = spec.partition(":")[0]
        else:
            host = spec
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False
