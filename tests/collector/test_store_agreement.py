"""Differential test: random records written to SQLite and to a real InfluxDB give identical
buckets, events and pages (DESIGN decision 3: both back-ends answer alike)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.store import MeasurementQuery, OutcomeQuery, open_store
from probe.model import TestKind, VerdictKind
from tests.support.influxd import InfluxServer

T0 = datetime(2022, 1, 5, tzinfo=UTC)
pytestmark = pytest.mark.influx

record_specs = st.lists(
    st.tuples(
        st.integers(0, 3 * 3600 - 1),  # seconds after T0
        st.sampled_from(["probe-a", "probe-b", "probe-c"]),
        st.sampled_from([("KZ", 9198, "fixed"), ("KZ", 48503, "mobile"), ("UZ", 8193, "fixed")]),
        st.sampled_from(["facebook", "telegram"]),
        st.sampled_from(list(VerdictKind)),
        st.sampled_from([TestKind.DNS, TestKind.TCP]),
        st.sampled_from(["ok", "ok", "dns_nxdomain_error", "connection_reset"]),
    ),
    max_size=40,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=record_specs, step_s=st.sampled_from([60, 300, 3600]), cc=st.sampled_from([None, "KZ"])
)
def test_sqlite_and_influx_agree(
    influxd: InfluxServer, records: Any, specs: list[Any], step_s: int, cc: str | None
) -> None:
    sqlite = open_store("sqlite::memory:")
    influx = open_store(f"influxdb:{influxd.url}?db=a{uuid.uuid4().hex[:12]}")
    try:
        measurements, verdicts, heartbeats = [], [], []
        for index, (
            offset,
            probe_id,
            (country, asn, network),
            target,
            kind,
            test,
            outcome,
        ) in enumerate(specs):
            at = T0 + timedelta(seconds=offset, microseconds=index)
            maker = replace(records, probe_id=probe_id, cc=country, asn=asn, network=network)
            verdicts.append(maker.verdict(at=at, target=target, verdict=kind))
            measurements.append(maker.measurement(at=at, target=target, test=test, outcome=outcome))
            heartbeats.append(maker.heartbeat(at=at))
        for store in (sqlite, influx):
            store.write_batch(measurements=measurements, verdicts=verdicts, heartbeats=heartbeats)
        window = {"since": T0, "until": T0 + timedelta(hours=3), "step_s": step_s, "cc": cc}
        assert sqlite.verdict_buckets(**window) == influx.verdict_buckets(**window)
        assert sqlite.heartbeat_buckets(**window) == influx.heartbeat_buckets(**window)
        outcomes = OutcomeQuery(**window)
        assert sqlite.measurement_buckets(outcomes) == influx.measurement_buckets(outcomes)
        query = MeasurementQuery(since=T0, until=T0 + timedelta(hours=3), cc=cc, limit=1000)
        assert sqlite.measurements(query).items == influx.measurements(query).items
    finally:
        sqlite.close()
        influx.close()
