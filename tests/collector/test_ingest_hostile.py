"""Hostile and malformed ingest bodies get a 4xx naming the field, never a 500 or a 503.

Each test runs through the real app on both stores (SQLite and a real influxd), because the
defects they pin down (issue 14, items 1-6) differed between the back-ends.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.settings import CollectorSettings
from collector.store import Store
from probe.targets import Target
from tests.support.api import OPERATOR, batch, register_probe

T0 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
WINDOW = {"since": "2022-01-05T00:00:00Z", "until": "2022-01-06T00:00:00Z"}
TARGETS: list[Target] = []


@pytest.fixture
def api(store: Store) -> TestClient:
    settings = CollectorSettings(operator_token=OPERATOR)
    app = create_app(settings, store, targets=TARGETS, clock=lambda: T0 + timedelta(hours=1))
    return TestClient(app, raise_server_exceptions=False)


def _post_raw(api: TestClient, headers: dict[str, str], body: bytes, **extra: str) -> Any:
    return api.post(
        "/v1/measurements",
        content=body,
        headers={**headers, "Content-Type": "application/json", **extra},
    )


def _locs(response: Any) -> list[tuple[Any, ...]]:
    assert response.status_code == 422, response.text
    return [tuple(e["loc"]) for e in response.json()["detail"]]


def test_a_body_that_is_not_utf8_is_a_422(api: TestClient) -> None:
    _, headers = register_probe(api)
    answer = _post_raw(api, headers, b"\xff\xfe\x00garbage")
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_typed_floats_are_a_422(api: TestClient, records: Any, token: str) -> None:
    probe_id, headers = register_probe(api)
    text = json.dumps(batch(records, probe_id))
    assert '"duration_ms": 12.5' in text
    bad = text.replace('"duration_ms": 12.5', f'"duration_ms": {token}')
    answer = _post_raw(api, headers, bad.encode())
    assert ("body", "measurements", 0, "duration_ms") in _locs(answer)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_in_details_are_refused_naming_the_path(
    api: TestClient, records: Any, token: str
) -> None:
    probe_id, headers = register_probe(api)
    body = batch(records, probe_id)
    body["measurements"][0]["details"] = {"answers": ["198.18.0.1"], "t": [1.5, "@"]}
    text = json.dumps(body).replace('"@"', token)
    answer = _post_raw(api, headers, text.encode())
    assert ("body", "measurements", 0, "details") in _locs(answer)
    assert "details.t.1" in answer.json()["detail"][0]["msg"]
    assert api.get("/v1/measurements", params=WINDOW).json()["measurements"] == []


@pytest.mark.parametrize(
    ("group", "path", "value"),
    [
        ("heartbeats", ("outbox_depth",), 2**63),
        ("heartbeats", ("dropped", "measurement"), 2**63),
        ("heartbeats", ("outbox_depth",), 2**70),
        ("measurements", ("vantage", "asn"), 2**63),
    ],
)
def test_integers_beyond_64_bits_are_a_422_never_a_503(
    api: TestClient, records: Any, group: str, path: tuple[str, ...], value: int
) -> None:
    probe_id, headers = register_probe(api)
    body = batch(records, probe_id)
    item = body[group][0]
    for key in path[:-1]:
        item = item.setdefault(key, {})
    item[path[-1]] = value
    answer = _post_raw(api, headers, json.dumps(body).encode())
    assert ("body", group, 0, *path) in _locs(answer)


def test_the_largest_int64_is_stored(api: TestClient, records: Any) -> None:
    probe_id, headers = register_probe(api)
    body = batch(records, probe_id)
    body["heartbeats"][0]["outbox_depth"] = 2**63 - 1
    answer = _post_raw(api, headers, json.dumps(body).encode())
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "value",
    [
        1641376800,
        "2022-01-05t10:00:00Z",
        "2022-01-05T10:00:00z",
        "2022-01-05T10:00:00.1234567Z",
        "2022-01-05 10:00:00Z",
        "20220105T100000Z",
    ],
)
def test_started_at_must_be_an_rfc3339_string(api: TestClient, records: Any, value: Any) -> None:
    probe_id, headers = register_probe(api)
    body = batch(records, probe_id)
    body["measurements"][0]["started_at"] = value
    body["heartbeats"][0]["at"] = value
    locs = _locs(_post_raw(api, headers, json.dumps(body).encode()))
    assert ("body", "measurements", 0, "started_at") in locs
    assert ("body", "heartbeats", 0, "at") in locs


@pytest.mark.parametrize(
    "value", ["2022-01-05T10:00:00.123456Z", "2022-01-05T15:00:00.5+05:00", "2022-01-05T10:00:00Z"]
)
def test_rfc3339_times_with_up_to_six_fraction_digits_are_exact(
    api: TestClient, records: Any, value: str
) -> None:
    probe_id, headers = register_probe(api)
    body = batch(records, probe_id)
    body["measurements"][0]["started_at"] = value
    answer = _post_raw(api, headers, json.dumps(body).encode())
    assert answer.status_code == 200, answer.text
    stored = api.get("/v1/measurements", params=WINDOW).json()["measurements"][0]
    sent = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert datetime.fromisoformat(stored["started_at"].replace("Z", "+00:00")) == sent


def test_gzip_with_trailing_bytes_is_refused(api: TestClient, records: Any) -> None:
    probe_id, headers = register_probe(api)
    packed = gzip.compress(json.dumps(batch(records, probe_id)).encode())
    gz = {"Content-Encoding": "gzip"}
    assert _post_raw(api, headers, packed + b"garbage", **gz).status_code == 400
    assert _post_raw(api, headers, packed + packed, **gz).status_code == 400
    assert _post_raw(api, headers, packed, **gz).status_code == 200


@pytest.mark.parametrize("value", ["a\nb", "a\x00b", "a\\b", " a"])
@pytest.mark.parametrize("name", ["network", "target", "test", "probe_id"])
def test_query_filters_are_validated_like_tags(api: TestClient, name: str, value: str) -> None:
    answer = api.get("/v1/measurements", params={**WINDOW, name: value})
    assert answer.status_code == 422, answer.text
    assert ["query", name] == answer.json()["detail"][0]["loc"]


def test_same_id_rule_through_the_api(api: TestClient, records: Any) -> None:
    """One id, one probe: a re-send is a duplicate; other content under the id is a 409 for
    that record only, and another probe's id is refused, never stored twice or dropped."""
    first_id, first = register_probe(api, "first")
    other_id, other = register_probe(api, "other")
    body = batch(records, first_id)
    assert _post_raw(api, first, json.dumps(body).encode()).json()["accepted"] == 3
    resent = _post_raw(api, first, json.dumps(body).encode())
    assert resent.status_code == 200
    assert resent.json() == {"accepted": 0, "duplicates": 3}

    changed = json.loads(json.dumps(body))
    changed["measurements"][0]["outcome"] = "connection_reset"
    conflict = _post_raw(api, first, json.dumps(changed).encode())
    assert conflict.status_code == 409, conflict.text
    detail = conflict.json()["detail"]
    assert [tuple(d["loc"]) for d in detail] == [("body", "measurements", 0, "id")]

    stolen = json.loads(json.dumps(body))
    for group in ("measurements", "verdicts", "heartbeats"):
        stolen[group][0]["probe_id"] = other_id
    refused = _post_raw(api, other, json.dumps(stolen).encode())
    assert refused.status_code == 409, refused.text
    assert len(refused.json()["detail"]) == 3

    listed = api.get("/v1/measurements", params=WINDOW).json()["measurements"]
    assert [(m["id"], m["outcome"]) for m in listed] == [(body["measurements"][0]["id"], "ok")]


def test_a_batch_the_store_refuses_is_a_422_without_the_stores_words(
    tmp_path: Any, records: Any
) -> None:
    """The app's side of item 3: StoreRefusedError is the client's 422, its text only logged."""
    from collector.store import StoreRefusedError
    from collector.store.sqlite import SqliteStore

    class Refusing(SqliteStore):
        def write_batch(self, **records: Any) -> Any:
            raise StoreRefusedError("influxdb /write refused: unable to parse 'secret internals'")

    store = Refusing(tmp_path / "c.sqlite3")
    settings = CollectorSettings(operator_token=OPERATOR)
    app = create_app(settings, store, targets=TARGETS, clock=lambda: T0 + timedelta(hours=1))
    api = TestClient(app, raise_server_exceptions=False)
    probe_id, headers = register_probe(api)
    answer = _post_raw(api, headers, json.dumps(batch(records, probe_id)).encode())
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body"]
    assert "internals" not in answer.text
    store.close()
