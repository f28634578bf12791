"""Wire model basics: ids are UUIDv7, times are UTC RFC 3339, dicts are JSON-ready."""

from __future__ import annotations

import json
import typing
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.evidence import (
    ControlEvidence,
    DnsEvidence,
    EvidenceError,
    HttpEvidence,
    InjectionEvidence,
    TcpEvidence,
    ThroughputEvidence,
    TlsEvidence,
)
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


STAGE_RECORDS = (
    DnsEvidence,
    ControlEvidence,
    InjectionEvidence,
    TcpEvidence,
    TlsEvidence,
    HttpEvidence,
    ThroughputEvidence,
)


def _records(record: Any) -> st.SearchStrategy[Any]:
    """Every field drawn from its type hint; floats finite (JSON has no NaN)."""
    finite = st.floats(allow_nan=False, allow_infinity=False)
    floats = {
        name: finite | st.none() if type(None) in typing.get_args(hint) else finite
        for name, hint in typing.get_type_hints(record).items()
        if hint is float or float in typing.get_args(hint)
    }
    json_objects = st.dictionaries(st.text(), st.integers() | st.text() | st.booleans())
    if record is ControlEvidence:  # the control result is a JSON object of its own
        floats["result"] = st.none() | json_objects
    return st.builds(record, **floats)


@pytest.mark.parametrize("record", STAGE_RECORDS, ids=lambda r: r.__name__)
@given(data=st.data())
def test_stage_records_flatten_to_prefixed_keys_and_back(record: Any, data: st.DataObject) -> None:
    example = data.draw(_records(record))
    wire = json.loads(json.dumps(example.to_dict()))
    assert all(key.startswith(f"{record.PREFIX}_") for key in wire)
    assert record.from_dict(wire) == example
    assert record.from_dict({"unrelated_key": 1}) == record()  # defaults, other keys ignored


def test_a_wrong_type_names_the_wire_key() -> None:
    with pytest.raises(EvidenceError, match="tcp_port"):
        TcpEvidence.from_dict({"tcp_port": "443"})
    with pytest.raises(EvidenceError, match="dns_answers"):
        DnsEvidence.from_dict({"dns_answers": [1]})
    with pytest.raises(EvidenceError, match="tls_chain_trusted"):
        TlsEvidence.from_dict({"tls_chain_trusted": "yes"})


def test_todays_wire_keys_are_kept() -> None:
    """The keys documented in docs/method.md before the records existed keep their names."""
    assert {"dns_primary", "dns_resolver", "dns_answers", "dns_extra_answers", "dns_t"} <= set(
        DnsEvidence().to_dict()
    )
    assert {"tcp_address", "tcp_port", "tcp_address_source"} <= set(TcpEvidence().to_dict())
    assert {"tls_stage", "tls_control_failure", "tls_leaf_sha256"} <= set(TlsEvidence().to_dict())
    assert {"http_url", "http_status", "http_blockpage"} <= set(HttpEvidence().to_dict())
    assert {"inj_address", "inj_answers"} <= set(InjectionEvidence().to_dict())
    assert {"tput_bps", "tput_control_bps"} <= set(ThroughputEvidence().to_dict())
    assert {"control_addresses", "control_reachable", "control_error"} <= set(
        ControlEvidence().to_dict()
    )
