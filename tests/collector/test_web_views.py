"""What the researchers' pages compute, without a browser: event bands, markup from probes'
tag values shown as text, row groups equal to the API's series, the day cache."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.records import VerdictBucket
from collector.settings import CollectorSettings
from collector.store import open_store
from collector.web.charts import heatmap
from collector.web.html import serialise
from collector.web.views import RowGroup
from probe.ids import uuid7
from probe.model import Category, TargetRef, Vantage, Verdict, VerdictKind
from tests.support.records import verdict
from tests.support.website import OPERATOR, SHUTDOWN


def test_an_ongoing_event_ends_at_now_not_at_the_chart_edge() -> None:
    since, until = datetime(2022, 1, 7, 18, 0, tzinfo=UTC), datetime(2022, 1, 8, 6, 0, tzinfo=UTC)
    event = {
        "id": "e",
        "kind": "throttling",
        "scope": {"cc": "KZ", "asn": None, "network": None, "probes": 2},
        "target": "youtube",
        "method": "throttled",
        "start": "2022-01-07T20:00:00Z",
        "end": None,
        "confidence": 0.7,
        "state": "open",
        "evidence": {},
        "updated_at": None,
    }
    doc = {
        "since": "2022-01-07T18:00:00Z",
        "until": "2022-01-08T06:00:00Z",
        "step_s": 3600,
        "events": [event],
        "series": [],
    }
    box = ET.Element("div")
    now = datetime(2022, 1, 8, 0, 0, tzinfo=UTC)  # half-way between the start and the edge
    raw = heatmap(box, doc, [RowGroup(None, [])], now=now, root="", vantage={"cc": "KZ"})
    band = next(r for r in box.iter("rect") if "band" in r.get("class", ""))
    x0, width = float(band.get("x", "")), float(band.get("width", ""))
    span = (until - since).total_seconds()
    start = datetime(2022, 1, 7, 20, 0, tzinfo=UTC)
    assert x0 + width == pytest.approx(190 + 1000 * (now - since).total_seconds() / span, abs=0.02)
    assert x0 == pytest.approx(190 + 1000 * (start - since).total_seconds() / span, abs=0.01)
    assert "(ongoing)" in serialise(box, raw)


def test_tag_values_from_probes_cannot_inject_markup(tmp_path: Path) -> None:
    store = open_store(f"sqlite:{tmp_path / 'c.sqlite3'}")
    try:
        evil = '<script>alert("x")</script>'
        at = SHUTDOWN[0] - timedelta(minutes=3)
        vantage = Vantage("KZ", 1, '"><img src=x onerror=alert(1)>')
        store.write_batch(
            verdicts=[
                verdict(
                    uuid7(),
                    "p",
                    vantage,
                    TargetRef(evil, "x.test", Category.PLATFORM),
                    at,
                    confidence=0.9,
                )
            ]
        )
        client = TestClient(
            create_app(CollectorSettings(operator_token=OPERATOR), store, targets=[])
        )
        response = client.get(
            "/country/KZ", params={"since": "2022-01-06 13:00", "until": "2022-01-06 14:00"}
        )
    finally:
        store.close()
    assert response.status_code == 200
    tags = Tags(response.text)
    assert tags.names.count("script") == 2 + 2  # uPlot, web.js, a data island per signal chart
    assert "img" not in tags.names
    assert evil in tags.texts  # shown as text, in the target picker and the chart's labels
    assert not any(name.startswith("on") for name in tags.attributes)


class Tags(HTMLParser):
    """Every element and attribute name a browser would build from the page, and the texts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.names: list[str] = []
        self.attributes: set[str] = set()
        self.texts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.append(tag)
        self.attributes |= {name for name, _ in attrs}

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def test_row_groups_are_the_apis_availability_series(db: Path) -> None:
    """The page sums its rows in one pass; they must equal collector/availability.py's, per
    network."""
    from collector.availability import availability_json, availability_series
    from collector.timeline import parse_query
    from collector.web.views import row_groups

    store = open_store(f"sqlite:{db}")
    try:
        query = parse_query(
            cc="KZ", since="2022-01-06T06:00:00Z", until="2022-01-06T20:00:00Z", step="15m"
        )
        verdicts = store.verdict_buckets(since=query.since, until=query.until, step_s=900, cc="KZ")
    finally:
        store.close()
    groups = row_groups(verdicts, query, ["fixed", "mobile"])
    assert [g.network for g in groups] == ["fixed", "mobile"]
    for group in groups:
        expected = availability_series(verdicts, network=group.network)
        assert group.series == [availability_json(s) for s in expected]
    [whole] = row_groups(verdicts, query, ["fixed"])
    assert whole.series == [availability_json(s) for s in availability_series(verdicts)]


def test_the_day_cache_answers_as_the_store_and_rereads_a_day_written_to(tmp_path: Path) -> None:
    from collector.web.cache import DayCache

    store = open_store(f"sqlite:{tmp_path / 'c.sqlite3'}")
    try:
        at = datetime(2022, 1, 6, 9, 1, tzinfo=UTC)
        target = TargetRef("x", "x.test", Category.PLATFORM)

        def at_(moment: datetime, kind: VerdictKind) -> Verdict:
            return verdict(uuid7(), "p", Vantage("KZ", 1, "fixed"), target, moment, kind)

        store.write_batch(verdicts=[at_(at, VerdictKind.ACCESSIBLE)])
        cache = DayCache()
        since, until = datetime(2022, 1, 4, 6, tzinfo=UTC), datetime(2022, 1, 8, 6, tzinfo=UTC)

        def read() -> list[VerdictBucket]:
            return cache.verdict_buckets(store, since=since, until=until, step_s=3600, cc="KZ")

        direct = store.verdict_buckets(since=since, until=until, step_s=3600, cc="KZ")
        assert read() == direct and cache.misses == 3  # three whole days, two edges read fresh
        assert read() == direct and cache.hits == 3
        store.write_batch(verdicts=[at_(at + timedelta(hours=1), VerdictKind.BLOCKED)])
        again = read()  # the day written to is read again; the others come from the cache
        assert again == store.verdict_buckets(since=since, until=until, step_s=3600, cc="KZ")
        assert again != direct and (cache.hits, cache.misses) == (5, 4)
    finally:
        store.close()
