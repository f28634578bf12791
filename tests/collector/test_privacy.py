"""Volunteer safety in public data (issue 18): nothing a public reader gets links one probe's
records across days or networks, and no public answer holds a probe id; the operator still reads
and filters by real ids. Public endpoints are enumerated from the app's route table and the web
pages are crawled, so a new route or link is checked without editing this file."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from collector.app import create_app
from collector.pseudonym import Publisher
from collector.records import Event, EventKind, EventState, Scope
from collector.settings import CollectorSettings
from collector.store import Store
from collector.store.influx import InfluxStore
from collector.store.sqlite import SqliteStore
from probe.ids import uuid7
from tests.support.api import OPERATOR, bearer, register_probe

DAY1 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
MIDNIGHT = datetime(2022, 1, 6, tzinfo=UTC)
SINCE, UNTIL = "2022-01-04T00:00:00Z", "2022-01-08T00:00:00Z"
# Values for the path parameters of GET routes; a route with another parameter fails the test
# until it is added here, so no public route escapes the check.
STATIC = Path(__file__).parents[2] / "collector" / "static"
STATIC_FILES = sorted(
    str(p.relative_to(STATIC)) for p in STATIC.rglob("*") if p.is_file() and p.suffix != ".map"
)
PATH_VALUES: dict[str, list[str]] = {
    "name": STATIC_FILES,
    "path": STATIC_FILES,
    "cc": ["KZ"],
    "event_id": ["ev-1"],
}
PUBLIC_QUERY = {"cc": "KZ", "since": SINCE, "until": UNTIL, "step": "1h"}
MAX_PAGES = 300


# -- the store keeps one secret ------------------------------------------------------------------


def _reopen(store: Store) -> Store:
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path)
    assert isinstance(store, InfluxStore)
    return InfluxStore(store.url, database=store.database)


def test_the_publication_secret_is_made_once_and_kept(store: Store) -> None:
    first = store.publication_secret()
    assert len(first) == 32
    assert store.publication_secret() == first
    other = _reopen(store)  # a restart, or a second replica on the same store
    try:
        assert other.publication_secret() == first
    finally:
        other.close()


def test_replicas_starting_on_an_empty_store_agree(store: Store) -> None:
    other = _reopen(store)
    try:
        assert other.publication_secret() == store.publication_secret()
    finally:
        other.close()


# -- public answers ------------------------------------------------------------------------------


class Fleet:
    """Probe A (moves from a fixed line to mobile, reports on two days, once across midnight)
    and probe B (same place and configuration as A), sent through the real ingest API."""

    def __init__(self, client: TestClient, records: Any) -> None:
        self.client = client
        self.a, self.a_headers = register_probe(client, "volunteer")
        self.b, self.b_headers = register_probe(client, "volunteer")
        self.a_fixed = replace(records, probe_id=self.a)
        self.a_mobile = replace(records, probe_id=self.a, network="mobile", asn=9199)
        self.b_fixed = replace(records, probe_id=self.b)
        self.rounds: dict[str, str] = {}
        # A: two rounds on day 1 (fixed), one across midnight (fixed), one on day 2 (mobile)
        self.send(self.a_fixed, self.a_headers, "a-day1-r1", DAY1, targets=("facebook", "x"))
        self.send(self.a_fixed, self.a_headers, "a-day1-r2", DAY1 + timedelta(minutes=5))
        self.send(
            self.a_fixed, self.a_headers, "a-midnight", MIDNIGHT - timedelta(seconds=2), step_s=4
        )
        self.send(self.a_mobile, self.a_headers, "a-day2-r1", DAY2)
        # B: same vantage, same days
        self.send(self.b_fixed, self.b_headers, "b-day1", DAY1 + timedelta(seconds=30))
        self.send(self.b_fixed, self.b_headers, "b-day2", DAY2 + timedelta(seconds=30))
        event = Event(
            id="ev-1",
            kind=EventKind.SHUTDOWN,
            scope=Scope(cc="KZ", asn=9198, network="fixed", probes=2),
            target=None,
            method=None,
            start=DAY1,
            end=DAY1 + timedelta(hours=2),
            confidence=0.9,
            state=EventState.RESOLVED,
            evidence={"probes_before": 2, "probes_during": 0},
        )
        client.app.state.ctx.store.write_events([event])  # type: ignore[attr-defined]

    def send(
        self,
        probe: Any,
        headers: dict[str, str],
        name: str,
        at: datetime,
        *,
        targets: tuple[str, ...] = ("facebook",),
        step_s: float = 1.0,
    ) -> None:
        round_id = uuid7(unix_ms=int(at.timestamp() * 1000))
        self.rounds[name] = round_id
        version = "0.1.0.dev7+g5eed" if probe.probe_id == self.a else "0.1.0"
        resolver = "192.168.178.1:53" if probe.probe_id == self.a else "192.168.1.1:53"
        measurements = []
        for i, target in enumerate(targets * 2):
            m = probe.measurement(
                at=at + timedelta(seconds=step_s * i),
                target=target,
                details={"dns_resolver": resolver, "dns_answers": ["198.18.0.10"]},
            )
            measurements.append(replace(m, round_id=round_id, probe_version=version))
        verdicts = [replace(probe.verdict(at=at), round_id=round_id)]
        beats = [probe.heartbeat(at=at)]
        body = {
            "schema": "tyndau.batch/1",
            "measurements": [m.to_dict() for m in measurements],
            "verdicts": [v.to_dict() for v in verdicts],
            "heartbeats": [h.to_dict() for h in beats],
        }
        answer = self.client.post("/v1/measurements", json=body, headers=headers)
        assert answer.status_code == 200, answer.text

    def secrets(self) -> list[str]:
        """Strings no public answer may contain: probe ids and real round ids."""
        return [self.a, self.b, *self.rounds.values()]


@pytest.fixture
def fleet(store: Store, records: Any) -> Fleet:
    settings = CollectorSettings(operator_token=OPERATOR)
    app = create_app(settings, store, targets=[], clock=lambda: DAY2 + timedelta(days=1))
    return Fleet(TestClient(app), records)


def _public_measurements(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"since": SINCE, "until": UNTIL, "limit": 3} | params
    for _ in range(50):
        page = client.get("/v1/measurements", params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        found += body["measurements"]
        if body["next_cursor"] is None:
            return found
        query["cursor"] = body["next_cursor"]
    raise AssertionError("paging did not end")


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, value) of every scalar in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, f"{path}[]")
    else:
        yield path, json.dumps(value)


def _values(records: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {leaf for r in records for leaf in _leaves(r)}


def _truth(fleet: Fleet) -> dict[str, dict[str, Any]]:
    """The operator's view, by measurement id: who really sent each published record."""
    operator = bearer(OPERATOR)
    params: dict[str, Any] = {"since": SINCE, "until": UNTIL, "limit": 1000}
    answer = fleet.client.get("/v1/measurements", params=params, headers=operator)
    assert answer.status_code == 200, answer.text
    return {m["id"]: m for m in answer.json()["measurements"]}


def _round_of(fleet: Fleet, real: dict[str, Any]) -> str:
    return next(name for name, rid in fleet.rounds.items() if rid == real["round_id"])


def test_public_measurements_carry_pseudonyms_that_do_not_link(fleet: Fleet) -> None:
    published = _public_measurements(fleet.client)
    truth = _truth(fleet)
    assert sorted(m["id"] for m in published) == sorted(truth)
    text = json.dumps(published)
    for secret in fleet.secrets():
        assert secret not in text
    by_round: dict[str, list[dict[str, Any]]] = {}
    for m in published:
        by_round.setdefault(_round_of(fleet, truth[m["id"]]), []).append(m)
    evening = [m for m in by_round["a-midnight"] if m["started_at"] < "2022-01-06"]
    morning = [m for m in by_round["a-midnight"] if m["started_at"] >= "2022-01-06"]
    assert evening and morning
    a_day1 = by_round["a-day1-r1"] + by_round["a-day1-r2"] + evening
    # one probe, one UTC day, one network: one pseudonym (three rounds alike)
    (a1,) = {m["probe_id"] for m in a_day1}
    (a_after_midnight,) = {m["probe_id"] for m in morning}
    (a_mobile,) = {m["probe_id"] for m in by_round["a-day2-r1"]}
    (b1,) = {m["probe_id"] for m in by_round["b-day1"]}
    (b2,) = {m["probe_id"] for m in by_round["b-day2"]}
    # the same probe after midnight (same network) and on day 2 (mobile): unrelated names
    assert len({a1, a_after_midnight, a_mobile, b1, b2}) == 5
    # the round across midnight is published as two unrelated rounds; others stay apart
    (evening_round,) = {m["round_id"] for m in evening}
    (morning_round,) = {m["round_id"] for m in morning}
    assert evening_round != morning_round
    assert len({m["round_id"] for m in a_day1}) == 3


def test_no_published_value_singles_out_a_probe_across_days_or_networks(fleet: Fleet) -> None:
    """Whatever A's records of day 1 and of day 2 share, B's records hold too: nothing in the
    published form (ids, versions, resolvers, rounds) links A's days to each other."""
    published = _public_measurements(fleet.client)
    truth = _truth(fleet)
    a_records = [m for m in published if truth[m["id"]]["probe_id"] == fleet.a]
    b_records = [m for m in published if truth[m["id"]]["probe_id"] == fleet.b]
    day1 = [m for m in a_records if m["started_at"] < "2022-01-06"]
    day2 = [m for m in a_records if m["started_at"] >= "2022-01-06"]
    mobile = [m for m in a_records if m["vantage"]["network"] == "mobile"]
    assert day1 and day2 and mobile and b_records
    for later in (day2, mobile):
        linking = (_values(day1) & _values(later)) - _values(b_records)
        assert linking == set(), f"fields that link probe A across days: {sorted(linking)}"


def test_public_reads_refuse_probe_id_filters_and_foreign_tokens(fleet: Fleet) -> None:
    params = {"since": SINCE, "until": UNTIL, "probe_id": fleet.a}
    refused = fleet.client.get("/v1/measurements", params=params)
    assert refused.status_code == 403
    assert refused.json()["detail"][0]["loc"] == ["query", "probe_id"]
    assert fleet.a not in refused.text
    probe_token = fleet.client.get("/v1/measurements", params=params, headers=fleet.a_headers)
    assert probe_token.status_code == 401
    assert "operator token" in probe_token.json()["detail"]


def test_the_operator_reads_and_filters_by_real_ids(fleet: Fleet) -> None:
    operator = bearer(OPERATOR)
    params: dict[str, Any] = {"since": SINCE, "until": UNTIL, "probe_id": fleet.a, "limit": 1000}
    answer = fleet.client.get("/v1/measurements", params=params, headers=operator)
    assert answer.status_code == 200, answer.text
    items = answer.json()["measurements"]
    assert len(items) == 4 + 2 + 2 + 2
    assert {m["probe_id"] for m in items} == {fleet.a}
    assert {m["round_id"] for m in items} == {fleet.rounds[n] for n in fleet.rounds if n[0] == "a"}
    assert {m["probe_version"] for m in items} == {"0.1.0.dev7+g5eed"}  # exactly as sent
    assert {m["details"]["dns_resolver"] for m in items} == {"192.168.178.1:53"}


def test_the_pseudonym_is_the_publishers(fleet: Fleet, store: Store) -> None:
    """The API's pseudonym is what Publisher.label_measurement (the OONI export's
    ``label_probe``) gives for the same record, so every public output names a probe alike."""
    operator = bearer(OPERATOR)
    params: dict[str, Any] = {"since": SINCE, "until": UNTIL, "limit": 1000}
    real = fleet.client.get("/v1/measurements", params=params, headers=operator).json()
    public = _public_measurements(fleet.client, limit=1000)
    publisher = Publisher(store.publication_secret())
    by_id = {m["id"]: m for m in public}
    for m in real["measurements"]:
        assert by_id[m["id"]]["probe_id"] == publisher.label_measurement(m)
        assert by_id[m["id"]] == publisher.measurement(m)


# -- every public route and page -----------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"href", "src", "data-src", "data-href", "action"} and value:
                self.links.append(value)


def _get_urls(client: TestClient, record_ids: list[str]) -> list[str]:
    """Every GET route of the app, path parameters filled from PATH_VALUES (``record_id``:
    the stored measurements' ids)."""
    values_of = PATH_VALUES | {"record_id": record_ids}
    urls: list[str] = []
    for route in client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, Route) or "GET" not in (route.methods or set()):
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        if not names:
            urls.append(route.path)
            continue
        missing = [n for n in names if n not in values_of]
        assert not missing, f"{route.path}: add values for {missing} to PATH_VALUES"
        template = re.sub(r"{(\w+):\w+}", r"{\1}", route.path)
        for values in itertools.product(*(values_of[n] for n in names)):
            urls.append(template.format_map(dict(zip(names, values, strict=True))))
    return urls


def _crawl(client: TestClient, starts: list[str]) -> dict[str, bytes]:
    """Fetch each start URL without a token, with and without the usual query, then every
    same-site link the HTML pages hold (drill-downs, downloads, charts), at most MAX_PAGES."""
    seen: dict[str, bytes] = {}
    queue = [u for s in starts for u in (s, f"{s}?{_encode(PUBLIC_QUERY)}")]
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        if url in seen:
            continue
        answer = client.get(url)
        assert answer.status_code < 500, f"{url}: {answer.status_code} {answer.text[:200]}"
        seen[url] = answer.content
        if "html" in answer.headers.get("content-type", ""):
            parser = _Links()
            parser.feed(answer.text)
            for link in parser.links:
                target = urljoin("http://testserver" + url, link)
                parts = urlsplit(target)
                if parts.netloc == "testserver":
                    queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


def _encode(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


def test_no_public_answer_contains_a_probe_id(fleet: Fleet) -> None:
    urls = _get_urls(fleet.client, sorted(_truth(fleet)))
    for path in ("/v1/measurements", "/v1/timeline", "/v1/events", "/"):
        assert path in urls  # the table is read, not guessed
    pages = _crawl(fleet.client, urls)
    published = re.compile(rb"p-[0-9a-f]{20}")
    assert any(published.search(body) for body in pages.values())  # records were shown
    leaks = [
        (url, secret)
        for url, body in pages.items()
        for secret in fleet.secrets()
        if secret.encode() in body
    ]
    assert leaks == []


def test_timeline_outputs_hold_no_probe_id(fleet: Fleet, store: Store, tmp_path: Any) -> None:
    """``tyndau timeline`` (table, CSV, JSON, PNG notes) reads aggregates only."""
    from collector.chart import render_timeline, timeline_from_api
    from collector.timeline import format_csv, format_table, parse_query, read_timeline

    query = parse_query(cc="KZ", since=SINCE, until=UNTIL, step="1h")
    doc = read_timeline(store, query)
    texts = [json.dumps(doc), format_csv(doc), format_table(doc)]
    chart = render_timeline(timeline_from_api(doc), tmp_path / "t.png")
    png = chart.path.read_bytes()
    for secret in fleet.secrets():
        assert all(secret not in text for text in texts)
        assert secret.encode() not in png


def _store_url(store: Store) -> str:
    if isinstance(store, SqliteStore):
        return f"sqlite:{store.path}"
    assert isinstance(store, InfluxStore)
    return f"influxdb:{store.url}?db={store.database}"


def test_the_ooni_export_names_probes_by_pseudonym(
    fleet: Fleet, store: Store, tmp_path: Path
) -> None:
    from probe.cli import main

    out = tmp_path / "ooni.jsonl"
    assert main(["export", "ooni", "--store", _store_url(store), "--output", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines
    text = out.read_text()
    for secret in fleet.secrets():
        assert secret not in text
    public = {m["probe_id"] for m in _public_measurements(fleet.client, limit=1000)}
    labels = {line["report_id"].rsplit("_", 1)[1] for line in lines}
    assert labels <= public  # the API's pseudonyms, not new ones
    assert "192.168.178.1" not in text
