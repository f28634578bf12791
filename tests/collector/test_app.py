"""The HTTP API against a real SQLite store (and a dead InfluxDB for the 503 path)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.records import Event, EventKind, EventState, Scope
from collector.settings import CollectorSettings, Limits
from collector.store import Store, open_store
from probe.model import Category, TestKind, VerdictKind
from probe.targets import Target
from tests.support.ports import free_port

T0 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
OPERATOR = "operator-secret-0123456789"
TARGETS = [
    Target("example", "example.test", Category.CONTROL, "https://example.test/"),
]


def clock() -> datetime:
    return T0 + timedelta(hours=1)


def make_client(store: Store, **limits: Any) -> TestClient:
    settings = CollectorSettings(operator_token=OPERATOR, limits=replace(Limits(), **limits))
    return TestClient(create_app(settings, store, targets=TARGETS, clock=clock))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:{tmp_path / 'c.sqlite3'}")
    yield store
    store.close()


@pytest.fixture
def client(sqlite_store: Store) -> TestClient:
    return make_client(sqlite_store)


def register(client: TestClient, name: str = "almaty-1") -> tuple[str, dict[str, str]]:
    response = client.post(
        "/v1/probes", json={"name": name}, headers={"Authorization": f"Bearer {OPERATOR}"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["probe_id"], {"Authorization": f"Bearer {body['token']}"}


def batch(records: Any, probe_id: str, **items: list[Any]) -> dict[str, Any]:
    probe = replace(records, probe_id=probe_id)
    return {
        "schema": "tyndau.batch/1",
        "measurements": [m.to_dict() for m in items.get("m", [probe.measurement()])],
        "verdicts": [v.to_dict() for v in items.get("v", [probe.verdict()])],
        "heartbeats": [h.to_dict() for h in items.get("h", [probe.heartbeat()])],
    }


def test_registration_needs_the_operator_token(client: TestClient) -> None:
    assert client.post("/v1/probes", json={"name": "x"}).status_code == 401
    wrong = {"Authorization": "Bearer not-the-operator-token"}
    assert client.post("/v1/probes", json={"name": "x"}, headers=wrong).status_code == 401
    probe_id, headers = register(client)
    assert len(headers["Authorization"]) > 40
    assert probe_id


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"name": "a\\ud800"}', "valid string"),  # a lone surrogate: once a 500
        (b'{"name": "a\\nb"}', "character '\\n' is not allowed here"),
        (b'{"name": " volunteer"}', "no leading or trailing whitespace"),
    ],
)
def test_registration_rejects_a_name_no_tag_can_hold(
    client: TestClient, content: bytes, message: str
) -> None:
    headers = {"Authorization": f"Bearer {OPERATOR}", "Content-Type": "application/json"}
    response = client.post("/v1/probes", content=content, headers=headers)
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "name"]
    assert message in problem["msg"]


def test_open_registration_is_rate_limited(sqlite_store: Store) -> None:
    settings = CollectorSettings(
        operator_token=OPERATOR,
        open_registration=True,
        limits=Limits(registrations_per_hour=2),
    )
    client = TestClient(create_app(settings, sqlite_store, targets=TARGETS, clock=clock))
    codes = [client.post("/v1/probes", json={"name": "v"}).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    limited = client.post("/v1/probes", json={"name": "v"})
    assert int(limited.headers["Retry-After"]) >= 1


def test_ingest_is_durable_idempotent_and_reads_back(
    client: TestClient, records: Any, sqlite_store: Store
) -> None:
    probe_id, headers = register(client)
    body = batch(records, probe_id)
    first = client.post("/v1/measurements", json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 3, "duplicates": 0}
    again = client.post("/v1/measurements", json=body, headers=headers)
    assert again.json() == {"accepted": 0, "duplicates": 3}
    page = client.get(
        "/v1/measurements",
        params={"since": "2022-01-05T00:00:00Z", "until": "2022-01-06T00:00:00Z"},
        headers={"Authorization": f"Bearer {OPERATOR}"},  # public reads get pseudonyms
    ).json()
    assert page["measurements"] == body["measurements"]
    assert page["next_cursor"] is None


def test_gzip_bodies(client: TestClient, records: Any) -> None:
    probe_id, headers = register(client)
    raw = json.dumps(batch(records, probe_id)).encode()
    gz = {**headers, "Content-Encoding": "gzip", "Content-Type": "application/json"}
    ok = client.post("/v1/measurements", content=gzip.compress(raw), headers=gz)
    assert ok.status_code == 200, ok.text
    assert ok.json()["accepted"] == 3
    broken = client.post("/v1/measurements", content=b"not gzip at all", headers=gz)
    assert broken.status_code == 400
    assert "gzip" in broken.json()["detail"]
    br = {**headers, "Content-Encoding": "br", "Content-Type": "application/json"}
    assert client.post("/v1/measurements", content=raw, headers=br).status_code == 415


def test_body_limits(sqlite_store: Store, records: Any) -> None:
    client = make_client(sqlite_store, max_body_bytes=4096, max_batch_records=2)
    probe_id, headers = register(client)
    bomb = gzip.compress(b" " * 10_000_000)  # 10 MB of spaces in ~10 kB
    assert len(bomb) < 4096 * 4
    gz = {**headers, "Content-Encoding": "gzip", "Content-Type": "application/json"}
    assert client.post("/v1/measurements", content=bomb[:4000], headers=gz).status_code in {
        400,
        413,
    }
    small_bomb = gzip.compress(b" " * 1_000_000)
    assert len(small_bomb) < 4096
    assert client.post("/v1/measurements", content=small_bomb, headers=gz).status_code == 413
    big = {"schema": "tyndau.batch/1", "measurements": [], "pad": "x" * 5000}
    assert client.post("/v1/measurements", json=big, headers=headers).status_code == 413
    three = batch(records, probe_id)
    too_long = client.post("/v1/measurements", json=three, headers=headers)
    assert too_long.status_code == 413
    assert "at most 2" in too_long.json()["detail"]


def test_probe_token_is_required_and_bound_to_its_records(client: TestClient, records: Any) -> None:
    probe_id, headers = register(client)
    body = batch(records, probe_id)
    assert client.post("/v1/measurements", json=body).status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert client.post("/v1/measurements", json=body, headers=bad).status_code == 401
    other = batch(records, "someone-else")
    response = client.post("/v1/measurements", json=other, headers=headers)
    assert response.status_code == 422
    locs = [tuple(e["loc"]) for e in response.json()["detail"]]
    assert ("body", "measurements", 0, "probe_id") in locs


def _detail_locs(response: Any) -> list[tuple[Any, ...]]:
    assert response.status_code == 422, response.text
    return [tuple(e["loc"]) for e in response.json()["detail"]]


def test_strict_schema_names_the_field(client: TestClient, records: Any) -> None:
    probe_id, headers = register(client)
    post = lambda body: client.post("/v1/measurements", json=body, headers=headers)  # noqa: E731

    unknown = batch(records, probe_id)
    unknown["measurements"][0]["vantage"]["city"] = "Almaty"
    assert ("body", "measurements", 0, "vantage", "city") in _detail_locs(post(unknown))

    wrong_type = batch(records, probe_id)
    wrong_type["measurements"][0]["vantage"]["asn"] = "9198"
    assert ("body", "measurements", 0, "vantage", "asn") in _detail_locs(post(wrong_type))

    missing = batch(records, probe_id)
    del missing["verdicts"][0]["id"]
    assert ("body", "verdicts", 0, "id") in _detail_locs(post(missing))

    naive = batch(records, probe_id)
    naive["heartbeats"][0]["at"] = "2022-01-05T10:00:00"
    assert ("body", "heartbeats", 0, "at") in _detail_locs(post(naive))

    future = batch(records, probe_id, m=[replace(records, probe_id=probe_id).measurement(
        at=clock() + timedelta(minutes=6)
    )])  # fmt: skip
    assert ("body", "measurements", 0, "started_at") in _detail_locs(post(future))
    near = batch(records, probe_id, m=[replace(records, probe_id=probe_id).measurement(
        at=clock() + timedelta(minutes=4)
    )])  # fmt: skip
    assert post(near).status_code == 200

    bad_outcome = batch(records, probe_id)
    bad_outcome["measurements"][0]["outcome"] = "made_up_failure"
    assert ("body", "measurements", 0, "outcome") in _detail_locs(post(bad_outcome))

    newline = batch(records, probe_id)
    newline["verdicts"][0]["vantage"]["network"] = "fixed\nprobe_test,cc=XX"
    assert ("body", "verdicts", 0, "vantage", "network") in _detail_locs(post(newline))

    assert post({"schema": "tyndau.batch/2"}).status_code == 422
    not_json = client.post(
        "/v1/measurements",
        content=b"{",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422


def test_probe_rate_limit_answers_429_with_retry_after(sqlite_store: Store, records: Any) -> None:
    client = make_client(sqlite_store, probe_batches_per_minute=2)
    probe_id, headers = register(client)
    codes = [
        client.post("/v1/measurements", json=batch(records, probe_id), headers=headers)
        for _ in range(3)
    ]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert int(codes[2].headers["Retry-After"]) >= 1


def test_store_down_answers_503_with_retry_after(records: Any) -> None:
    dead = open_store(f"influxdb:http://127.0.0.1:{free_port()}?db=t&mode=v1")
    client = make_client(dead)
    response = client.post(
        "/v1/probes", json={"name": "x"}, headers={"Authorization": f"Bearer {OPERATOR}"}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    ingest = client.post(
        "/v1/measurements",
        json=batch(records, "p"),
        headers={"Authorization": "Bearer some-token"},
    )
    assert ingest.status_code == 503
    assert "Retry-After" in ingest.headers
    assert client.get("/healthz").status_code == 503
    dead.close()


def test_timeline_and_events(client: TestClient, records: Any, sqlite_store: Store) -> None:
    probe_id, headers = register(client)
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
    probe_id, headers = register(client)
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
    probe_id, headers = register(client)
    client.post("/v1/measurements", json=batch(records, probe_id), headers=headers)
    client.post("/v1/measurements", json=batch(records, probe_id))
    text = client.get("/metrics").text
    assert 'tyndau_ingested_records_total{kind="measurement"} 1' in text
    assert 'tyndau_rejected_requests_total{reason="unauthenticated"} 1' in text
    assert "tyndau_store_write_seconds_count 1" in text
    assert "tyndau_requests_in_flight 0" in text


def test_control_is_only_for_listed_targets(client: TestClient) -> None:
    _, headers = register(client)
    assert client.post("/v1/control", json={"target": "example"}).status_code == 401
    response = client.post("/v1/control", json={"target": "evil.test"}, headers=headers)
    assert response.status_code == 404
    url = client.post("/v1/control", json={"target": "https://evil.test/"}, headers=headers)
    assert url.status_code == 404


def test_openapi_documents_the_api(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path in ("/v1/measurements", "/v1/probes", "/v1/timeline", "/v1/events", "/v1/control"):
        assert path in doc["paths"]
    assert "BatchIn" in doc["components"]["schemas"]


def test_registration_body_is_capped(client: TestClient) -> None:
    huge = {"name": "x" * 100_000}
    response = client.post("/v1/probes", json=huge, headers={"Authorization": f"Bearer {OPERATOR}"})
    assert response.status_code == 413


def test_measurement_pages_follow_the_cursor(client: TestClient, records: Any) -> None:
    probe_id, headers = register(client)
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
