"""Awkward tag values (spaces, commas, =, quotes, newlines, any Unicode) and free text in fields,
through the API into both stores: each is stored exactly as sent or rejected with 422, never
split into other points."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector.app import create_app
from collector.settings import CollectorSettings, Limits
from collector.store import MeasurementQuery, Store
from probe.model import Category
from probe.targets import Target

OPERATOR = "operator-secret-0123456789"
BASE = datetime(2023, 3, 1, tzinfo=UTC)
_slot = itertools.count()

awkward = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(" ,=\"'\\\n\r\t=#{}[]")),
        st.characters(codec="utf-8"),
    ),
    min_size=0,
    max_size=30,
)


def _client(store: Store) -> TestClient:
    settings = CollectorSettings(
        operator_token=OPERATOR, limits=Limits(probe_batches_per_minute=100_000)
    )
    targets = [Target("example", "example.test", Category.CONTROL, "https://example.test/")]
    return TestClient(create_app(settings, store, targets=targets, clock=lambda: datetime.now(UTC)))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(network=awkward, target=awkward, free=st.text(max_size=40))
@example(network='fixed, cc="XX" asn=1', target="a b,c=d", free='line\n" ,= \\ end\\')
@example(network="mobile\nprobe_verdict,cc=XX verdict=1", target="x", free="")
@example(network="Қазақтелеком ✓ 🛰", target="ends with backslash\\", free="🛰\x00")
def test_values_are_stored_exactly_or_rejected(
    store: Store, records: Any, network: str, target: str, free: str
) -> None:
    client = _client(store)
    registered = client.post(
        "/v1/probes", json={"name": "p"}, headers={"Authorization": f"Bearer {OPERATOR}"}
    ).json()
    headers = {"Authorization": f"Bearer {registered['token']}"}
    at = BASE + timedelta(hours=next(_slot))
    probe = replace(records, probe_id=registered["probe_id"], network=network)
    verdict = probe.verdict(at=at, target=target)
    measurement = probe.measurement(at=at, target=target, details={"text": free, free: [free]})
    body = {
        "schema": "tyndau.batch/1",
        "measurements": [measurement.to_dict()],
        "verdicts": [verdict.to_dict()],
    }
    response = client.post("/v1/measurements", json=body, headers=headers)
    assert response.status_code in {200, 422}, response.text
    buckets = store.verdict_buckets(since=at, until=at + timedelta(hours=1), step_s=3600)
    stored = store.measurements(MeasurementQuery(since=at, until=at + timedelta(hours=1)))
    if response.status_code == 422:
        assert buckets == []
        assert stored.items == []
        return
    assert [(b.network, b.target, b.total) for b in buckets] == [(network, target, 1)]
    assert stored.items == [measurement.to_dict()]
    by_tag = store.measurements(
        MeasurementQuery(since=at, until=at + timedelta(hours=1), network=network, target=target)
    )
    assert len(by_tag.items) == 1


def test_awkward_but_printable_values_are_accepted(store: Store, records: Any) -> None:
    """The property above must not pass by rejecting everything: these must be stored."""
    client = _client(store)
    registered = client.post(
        "/v1/probes", json={"name": "p"}, headers={"Authorization": f"Bearer {OPERATOR}"}
    ).json()
    headers = {"Authorization": f"Bearer {registered['token']}"}
    values = ['fixed, cc="XX" asn=1', "a b,c=d", "Қазақтелеком ✓ 🛰", "it's", "x=y=z,,"]
    for index, value in enumerate(values):
        at = BASE - timedelta(days=index + 1)
        probe = replace(records, probe_id=registered["probe_id"], network=value)
        body = {
            "schema": "tyndau.batch/1",
            "verdicts": [probe.verdict(at=at, target=value).to_dict()],
        }
        assert client.post("/v1/measurements", json=body, headers=headers).status_code == 200
        buckets = store.verdict_buckets(since=at, until=at + timedelta(hours=1), step_s=3600)
        assert [(b.network, b.target) for b in buckets] == [(value, value)]
