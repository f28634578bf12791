"""The published pseudonym and the public form of a record (collector/pseudonym.py), as pure
code: tables of inputs and what a public reader may see of them."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.pseudonym import (
    MEASUREMENT_FIELDS,
    PRIVATE_RESOLVER,
    Publisher,
    public_details,
    release_of,
    utc_day,
)
from probe.ids import uuid7
from probe.model import Category, Measurement, TargetRef, TestKind, Vantage

DAY1 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
SECRET = bytes(range(32))


def _label(publisher: Publisher, probe: str = "probe-a", **changes: Any) -> str:
    where: dict[str, Any] = {"at": DAY1, "cc": "KZ", "asn": 9198, "network": "fixed"} | changes
    return publisher.probe_label(probe, **where)


def test_a_pseudonym_is_stable_within_a_day_and_network_only() -> None:
    publisher = Publisher(SECRET)
    base = _label(publisher)
    assert re.fullmatch(r"p-[0-9a-f]{20}", base)
    assert _label(publisher, at=DAY1.replace(hour=23, minute=59)) == base
    assert _label(publisher, at=DAY1 + timedelta(hours=-10, microseconds=1)) == base
    others = [
        _label(publisher, at=DAY2),
        _label(publisher, at=DAY1 - timedelta(hours=10, microseconds=1)),  # previous UTC day
        _label(publisher, network="mobile"),
        _label(publisher, asn=9199),
        _label(publisher, cc="UZ"),
        _label(publisher, "probe-b"),
        _label(Publisher(bytes(32))),  # another collector (or a rotated secret)
    ]
    assert base not in others and len(set(others)) == len(others)
    assert "probe-a" not in base


def test_a_utc_day_is_the_unit_whatever_the_offset() -> None:
    local = datetime.fromisoformat("2022-01-06T01:30:00+05:00")  # 2022-01-05 20:30 UTC
    assert utc_day(local) == "2022-01-05"


def test_a_short_secret_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        Publisher(b"short")


def test_every_wire_field_has_a_publication_decision() -> None:
    """A new field of the wire measurement is never published by accident."""
    wire = Measurement(
        id=uuid7(),
        probe_id="p",
        probe_version="0.1.0",
        vantage=Vantage("KZ", 1, "fixed"),
        target=TargetRef("t", "t.test", Category.PLATFORM),
        test=TestKind.DNS,
        started_at=DAY1,
        duration_ms=1.0,
        outcome="ok",
        round_id="r",
    ).to_dict()
    assert set(MEASUREMENT_FIELDS) == set(wire)
    assert set(Publisher(SECRET).measurement(wire)) == set(wire)


@pytest.mark.parametrize(
    ("resolver", "published"),
    [
        ("192.168.178.1:53", PRIVATE_RESOLVER),  # a home router
        ("[fd00::1]:53", PRIVATE_RESOLVER),
        ("tcp://10.1.2.3:53", PRIVATE_RESOLVER),
        ("127.0.0.53:53", PRIVATE_RESOLVER),  # systemd-resolved
        ("100.64.0.1:53", PRIVATE_RESOLVER),  # CGNAT
        ("https://10.0.0.1/dns-query", PRIVATE_RESOLVER),
        ("8.8.8.8:53", "8.8.8.8:53"),
        ("[2001:4860:4860::8888]:53", "[2001:4860:4860::8888]:53"),
        ("https://dns.google/dns-query", "https://dns.google/dns-query"),
    ],
)
def test_a_private_resolver_is_not_published(resolver: str, published: str) -> None:
    details = {"dns_resolver": resolver, "dns_answers": ["10.10.34.34"], "dns_system": True}
    public = public_details(details)
    assert public["dns_resolver"] == published
    assert public["dns_answers"] == ["10.10.34.34"]  # a bogon answer is evidence: kept


@pytest.mark.parametrize(
    ("version", "published"),
    [("0.1.0", "0.1.0"), ("0.3.1.dev4+g1a2b3c", "0.3.1"), ("1.2", "1.2"), ("git", "unknown")],
)
def test_a_local_build_string_is_cut_to_its_release(version: str, published: str) -> None:
    assert release_of(version) == published


def test_measurement_ids_share_nothing_but_their_millisecond() -> None:
    """Ids are published as they are: that is safe only while their 74 non-time bits are drawn
    anew for each id (probe/ids.py), not a per-process counter or a probe-specific prefix that
    would tie one probe's records together."""
    ids = [int(uuid7(unix_ms=1_641_376_800_000).replace("-", ""), 16) for _ in range(2000)]
    assert {i >> 80 for i in ids} == {1_641_376_800_000}
    rand_a = [(i >> 64) & 0xFFF for i in ids]
    rand_b = [i & ((1 << 62) - 1) for i in ids]
    assert len(set(rand_b)) == len(ids)
    assert len(set(rand_a)) > 1500  # 12 random bits: ~1,580 distinct of 2,000 expected
    steps = [b - a for a, b in itertools.pairwise(rand_b)]
    assert sum(1 for step in steps if 0 < step < 1 << 32) < 10  # no counter
