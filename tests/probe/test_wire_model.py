"""Wire model basics: ids are UUIDv7, times are UTC RFC 3339, dicts are JSON-ready."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.ids import uuid7
from probe.model import (
    Category,
    Measurement,
    TargetRef,
    TestKind,
    Vantage,
    format_time,
    parse_time,
)


def test_uuid7_version_variant_and_order() -> None:
    ids = [uuid7(unix_ms=1_641_297_600_000 + i) for i in range(50)]
    assert ids == sorted(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert len(set(uuid7() for _ in range(1000))) == 1000


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_time_round_trip(at: datetime) -> None:
    assert parse_time(format_time(at)) == at


def test_times_must_carry_an_offset() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_time("2022-01-05T10:30:00")
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2022, 1, 5))
    almaty = timezone(timedelta(hours=6))
    assert format_time(datetime(2022, 1, 5, 16, 30, tzinfo=almaty)) == "2022-01-05T10:30:00.000000Z"


def test_measurement_to_dict_is_json() -> None:
    m = Measurement(
        id=uuid7(),
        probe_id="p1",
        probe_version="0.1.0",
        vantage=Vantage("KZ", 9198, "mobile"),
        target=TargetRef("facebook", "facebook.com", Category.PLATFORM),
        test=TestKind.DNS,
        started_at=datetime(2022, 1, 5, 10, 30, tzinfo=UTC),
        duration_ms=12.5,
        outcome="dns_nxdomain_error",
        round_id=uuid7(),
        details={"dns_rcode": "NXDOMAIN"},
    )
    data = json.loads(json.dumps(m.to_dict()))
    assert data["started_at"] == "2022-01-05T10:30:00.000000Z"
    assert data["vantage"] == {"cc": "KZ", "asn": 9198, "network": "mobile"}
    assert data["target"]["category"] == "platform"
    assert data["schema"] == "tyndau.measurement/1"
