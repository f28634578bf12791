"""The HTTP API's reading side against a real SQLite store: the timeline and events, the
measurement pages and their cursor, health, metrics and the OpenAPI document."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.records import Event, EventKind, EventState, Scope
from collector.store import Store
from probe.model import TestKind, VerdictKind
from tests.support.api import api_client, batch, register_probe

T0 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)  # the records' default time


@pytest.fixture
def client(sqlite_store: Store) -> TestClient:
    return api_client(sqlite_store, now=T0 + timedelta(hours=1))


def test_timeline_and_events(client: TestClient, records: Any, sqlite_store: Store) -> None:
    probe_id, headers = register_probe(client)
    probe = replace(records, probe_id=probe_id)
    verdicts = [
        probe.verdict(at=T0 + timedelta(minutes=1)),
        probe.verdict(at=T0 + timedelta(minutes=2), verdict=VerdictKind.BLOCKED),
        probe.verdict(at=T0 + timedelta(minutes=6), verdict=VerdictKind.BLOCKED),
        probe.verdict(at=T0 + timedelta(minutes=7), target="telegram"),
    ]
    body = batch(records, probe_id, m=[], v=verdicts, h=[])
    assert client.post("/v1/measurements", json=body, headers=headers).status_code == 200
    event = Event(
        id="ev-1",
        kind=EventKind.BLOCKING,
        scope=Scope(cc="KZ", asn=9198),
        target="facebook",
        method="dns",
        start=T0 + timedelta(minutes=2),
        end=None,
        confidence=0.8,
        state=EventState.OPEN,
    )
    sqlite_store.write_events([event])
    params = {
        "cc": "KZ",
        "since": "2022-01-05T10:00:00Z",
        "until": "2022-01-05T11:00:00Z",
        "step": "5m",
    }
    timeline = client.get("/v1/timeline", params=params).json()
    facebook = next(s for s in timeline["series"] if s["target"] == "facebook")
    assert [(p["start"], p["availability"]) for p in facebook["points"]] == [
        ("2022-01-05T10:00:00.000000Z", 0.5),
        ("2022-01-05T10:05:00.000000Z", 0.0),
    ]
    assert [e["id"] for e in timeline["events"]] == ["ev-1"]
    only = client.get("/v1/timeline", params={**params, "target": "telegram"}).json()
    assert [s["target"] for s in only["series"]] == ["telegram"]
    assert only["events"] == []
    other_asn = client.get("/v1/timeline", params={**params, "asn": "48503"}).json()
    assert other_asn["events"] == []  # AS9198's blocking is not on another ASN's timeline
    mobile = client.get("/v1/timeline", params={**params, "asn": "9198", "network": "mobile"})
    assert [e["id"] for e in mobile.json()["events"]] == ["ev-1"]  # all of AS9198: mobile too
    assert client.get("/v1/timeline", params={**params, "step": "5x"}).status_code == 422
    backwards = {**params, "until": "2022-01-05T09:00:00Z"}
    assert client.get("/v1/timeline", params=backwards).status_code == 422
    events = client.get("/v1/events", params={k: params[k] for k in ("since", "until")})
    assert events.json()["events"][0]["state"] == "open"


def test_timeline_of_one_test(client: TestClient, records: Any) -> None:
    probe_id, headers = register_probe(client)
    probe = replace(records, probe_id=probe_id)
    measurements = [
        probe.measurement(at=T0 + timedelta(minutes=1)),
        probe.measurement(at=T0 + timedelta(minutes=2), outcome="dns_nxdomain_error"),
        probe.measurement(at=T0 + timedelta(minutes=3), test=TestKind.TCP),
    ]
    body = batch(records, probe_id, m=measurements, v=[], h=[])
    assert client.post("/v1/measurements", json=body, headers=headers).status_code == 200
    params = {
        "cc": "KZ",
        "since": "2022-01-05T10:00:00Z",
        "until": "2022-01-05T11:00:00Z",
        "step": "1h",
        "test": "dns",
    }
    series = client.get("/v1/timeline", params=params).json()["series"]
    assert len(series) == 1
    assert series[0]["test"] == "dns"
    assert series[0]["points"] == [
        {
            "start": "2022-01-05T10:00:00.000000Z",
            "ok": 1,
            "failed": 1,
            "probes": 1,
            "outcomes": {"dns_nxdomain_error": 1},
            "availability": 0.5,
        }
    ]
    assert client.get("/v1/timeline", params={**params, "test": "smtp"}).status_code == 422


def test_health_and_metrics(client: TestClient, records: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    probe_id, headers = register_probe(client)
    client.post("/v1/measurements", json=batch(records, probe_id), headers=headers)
    client.post("/v1/measurements", json=batch(records, probe_id))
    text = client.get("/metrics").text
    assert 'tyndau_ingested_records_total{kind="measurement"} 1' in text
    assert 'tyndau_rejected_requests_total{reason="unauthenticated"} 1' in text
    assert "tyndau_store_write_seconds_count 1" in text
    assert "tyndau_requests_in_flight 0" in text


def test_openapi_documents_the_api(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path in ("/v1/measurements", "/v1/probes", "/v1/timeline", "/v1/events", "/v1/control"):
        assert path in doc["paths"]
    assert "BatchIn" in doc["components"]["schemas"]


def test_measurement_pages_follow_the_cursor(client: TestClient, records: Any) -> None:
    probe_id, headers = register_probe(client)
    probe = replace(records, probe_id=probe_id)
    sent = [probe.measurement(at=T0 + timedelta(seconds=i), target=f"t{i}") for i in range(5)]
    body = batch(records, probe_id, m=sent, v=[], h=[])
    assert client.post("/v1/measurements", json=body, headers=headers).status_code == 200
    params: dict[str, Any] = {
        "since": "2022-01-05T00:00:00Z",
        "until": "2022-01-06T00:00:00Z",
        "limit": 2,
    }
    seen: list[str] = []
    while True:
        page = client.get("/v1/measurements", params=params).json()
        seen += [m["id"] for m in page["measurements"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [m.id for m in sent]
    bad = client.get("/v1/measurements", params={**params, "cursor": "not-a-cursor"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "cursor"]
