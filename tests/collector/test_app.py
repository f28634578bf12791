"""The HTTP API's ingest side against a real SQLite store (and a dead InfluxDB for the 503
path): enrolment, authentication, bodies, the strict schema, limits."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.settings import CollectorSettings, Limits
from collector.store import Store, open_store
from probe.model import Category
from probe.targets import Target
from tests.support.api import OPERATOR, api_client, batch, bearer, register_probe
from tests.support.ports import free_port

NOW = datetime(2022, 1, 5, 11, 0, tzinfo=UTC)  # an hour after the records' T0
TARGETS = [Target("example", "example.test", Category.CONTROL, "https://example.test/")]


def make_client(store: Store, **limits: Any) -> TestClient:
    return api_client(store, now=NOW, targets=TARGETS, **limits)


@pytest.fixture
def client(sqlite_store: Store) -> TestClient:
    return make_client(sqlite_store)


def test_registration_needs_the_operator_token(client: TestClient) -> None:
    assert client.post("/v1/probes", json={"name": "x"}).status_code == 401
    wrong = {"Authorization": "Bearer not-the-operator-token"}
    assert client.post("/v1/probes", json={"name": "x"}, headers=wrong).status_code == 401
    probe_id, headers = register_probe(client)
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
    client = TestClient(create_app(settings, sqlite_store, targets=TARGETS, clock=lambda: NOW))
    codes = [client.post("/v1/probes", json={"name": "v"}).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    limited = client.post("/v1/probes", json={"name": "v"})
    assert int(limited.headers["Retry-After"]) >= 1


def test_ingest_is_durable_idempotent_and_reads_back(
    client: TestClient, records: Any, sqlite_store: Store
) -> None:
    probe_id, headers = register_probe(client)
    body = batch(records, probe_id)
    first = client.post("/v1/measurements", json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 3, "duplicates": 0}
    again = client.post("/v1/measurements", json=body, headers=headers)
    assert again.json() == {"accepted": 0, "duplicates": 3}
    page = client.get(
        "/v1/measurements",
        params={"since": "2022-01-05T00:00:00Z", "until": "2022-01-06T00:00:00Z"},
        headers=bearer(OPERATOR),  # public reads get pseudonyms
    ).json()
    assert page["measurements"] == body["measurements"]
    assert page["next_cursor"] is None


def test_gzip_bodies(client: TestClient, records: Any) -> None:
    probe_id, headers = register_probe(client)
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
    probe_id, headers = register_probe(client)
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
    probe_id, headers = register_probe(client)
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
    probe_id, headers = register_probe(client)
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

    probe = replace(records, probe_id=probe_id)
    future = batch(records, probe_id, m=[probe.measurement(at=NOW + timedelta(minutes=6))])
    assert ("body", "measurements", 0, "started_at") in _detail_locs(post(future))
    near = batch(records, probe_id, m=[probe.measurement(at=NOW + timedelta(minutes=4))])
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
    probe_id, headers = register_probe(client)
    codes = [
        client.post("/v1/measurements", json=batch(records, probe_id), headers=headers)
        for _ in range(3)
    ]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert int(codes[2].headers["Retry-After"]) >= 1


def test_store_down_answers_503_with_retry_after(records: Any) -> None:
    dead = open_store(f"influxdb:http://127.0.0.1:{free_port()}?db=t&mode=v1")
    client = make_client(dead)
    response = client.post("/v1/probes", json={"name": "x"}, headers=bearer(OPERATOR))
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


def test_control_is_only_for_listed_targets(client: TestClient) -> None:
    _, headers = register_probe(client)
    assert client.post("/v1/control", json={"target": "example"}).status_code == 401
    response = client.post("/v1/control", json={"target": "evil.test"}, headers=headers)
    assert response.status_code == 404
    url = client.post("/v1/control", json={"target": "https://evil.test/"}, headers=headers)
    assert url.status_code == 404


def test_registration_body_is_capped(client: TestClient) -> None:
    huge = {"name": "x" * 100_000}
    response = client.post("/v1/probes", json=huge, headers=bearer(OPERATOR))
    assert response.status_code == 413
