"""The researchers' pages on a real collector (uvicorn on loopback) over a seeded SQLite store
(``seed``: fixed + mobile probes, a DNS block, a mobile shutdown backfilled
as offline, a retracted event, an ongoing one), read as HTML; tests/collector/test_web_browser.py
reads the same pages in headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.palette import LOOKS, CellState
from collector.records import Event, EventKind, EventState, Scope, VerdictBucket
from collector.settings import CollectorSettings
from collector.store import Store, open_store
from collector.web.charts import heatmap
from collector.web.html import serialise
from collector.web.views import RowGroup
from probe.ids import uuid7
from probe.model import (
    Category,
    Heartbeat,
    Measurement,
    TargetRef,
    Vantage,
    Verdict,
    VerdictKind,
)
from tests.support.ports import free_port
from tests.support.processes import stop
from tests.support.records import DNS_NXDOMAIN, heartbeat, measurement, verdict

OPERATOR = "operator-secret-0123456789"
END = datetime(2022, 1, 8, 0, 0, tzinfo=UTC)
START = END - timedelta(days=90)
DENSE = END - timedelta(days=2)  # rounds every 5 min from here, every 2 h before
BLOCK = (datetime(2022, 1, 6, 8, 0, tzinfo=UTC), datetime(2022, 1, 6, 11, 0, tzinfo=UTC))
SHUTDOWN = (datetime(2022, 1, 6, 14, 0, tzinfo=UTC), datetime(2022, 1, 6, 18, 0, tzinfo=UTC))
RETRACTED = (datetime(2022, 1, 7, 2, 0, tzinfo=UTC), datetime(2022, 1, 7, 2, 30, tzinfo=UTC))
ONGOING = datetime(2022, 1, 7, 20, 0, tzinfo=UTC)
MOBILE = Vantage("KZ", 9198, "mobile")
FIXED = Vantage("KZ", 21299, "fixed")
PROBES = (("probe-m1", MOBILE), ("probe-m2", MOBILE), ("probe-f1", FIXED))
TARGETS = (
    TargetRef("example", "example.test", Category.CONTROL),
    TargetRef("facebook", "facebook.test", Category.PLATFORM),
    TargetRef("telegram", "telegram.test", Category.PLATFORM),
    TargetRef("whatsapp", "whatsapp.test", Category.PLATFORM),
    TargetRef("youtube", "youtube.test", Category.PLATFORM),
)
# The four ranges every page is read at: (name, query of the country page)
RANGES = {
    "30m": {"since": "2022-01-06 15:00", "until": "2022-01-06 15:30"},
    "6h": {"since": "2022-01-06 12:00", "until": "2022-01-06 18:00"},
    "7d": {"range": "7d", "until": "2022-01-08 00:00"},
    "90d": {"range": "90d", "until": "2022-01-08 00:00"},
}
END_TEXT = "2022-01-08 00:00"
TICK = re.compile(r"^(\d{2}:\d{2}|\d{2} [A-Z][a-z]{2})$")


def rounds() -> Iterator[datetime]:
    at = START + timedelta(minutes=1)
    while at < END:
        yield at
        at += timedelta(minutes=5) if at >= DENSE else timedelta(hours=2)


def _judged(target: TargetRef, vantage: Vantage, at: datetime) -> tuple[VerdictKind, str]:
    if vantage is MOBILE and SHUTDOWN[0] <= at < SHUTDOWN[1]:
        return VerdictKind.OFFLINE, "generic_timeout_error"  # backfilled after the shutdown
    if target.name in {"telegram", "whatsapp"} and BLOCK[0] <= at < BLOCK[1]:
        return VerdictKind.BLOCKED, "dns_nxdomain_error"
    return VerdictKind.ACCESSIBLE, "ok"


def seed(store: Store) -> None:
    measurements: list[Measurement] = []
    verdicts: list[Verdict] = []
    heartbeats: list[Heartbeat] = []
    for at in rounds():
        ms = int(at.timestamp() * 1000)
        for probe, vantage in PROBES:
            round_id = uuid7(unix_ms=ms)
            heartbeats.append(heartbeat(uuid7(unix_ms=ms), probe, vantage, at, uptime_s=3600.0))
            for target in TARGETS:
                kind, outcome = _judged(target, vantage, at)
                m = measurement(
                    uuid7(unix_ms=ms),
                    probe,
                    vantage,
                    target,
                    at,
                    outcome=outcome,
                    round_id=round_id,
                    duration_ms=21.0,
                )
                measurements.append(m)
                verdicts.append(
                    verdict(
                        uuid7(unix_ms=ms),
                        probe,
                        vantage,
                        target,
                        at,
                        kind,
                        blocked=DNS_NXDOMAIN if kind is VerdictKind.BLOCKED else None,
                        round_id=round_id,
                        confidence=0.9,
                        measurement_ids=(m.id,),
                    )
                )
    store.write_batch(measurements=measurements, verdicts=verdicts, heartbeats=heartbeats)
    store.write_events(events())


def events() -> list[Event]:
    blocks = [
        Event(
            f"ev-block-{name}",
            EventKind.BLOCKING,
            Scope("KZ", None, None, 3),
            name,
            "dns",
            *BLOCK,
            confidence=0.9,
            state=EventState.RESOLVED,
            evidence={"rounds": 18, "blocked": 54, "methods": {"dns": 54}},
            updated_at=BLOCK[1] + timedelta(minutes=10),
        )
        for name in ("telegram", "whatsapp")
    ]
    shutdown = Event(
        "ev-shutdown-mobile",
        EventKind.SHUTDOWN,
        Scope("KZ", 9198, "mobile", 2),
        None,
        None,
        *SHUTDOWN,
        confidence=0.95,
        state=EventState.RESOLVED,
        evidence={"rounds": 24, "probes_before": 2, "opened_at": "2022-01-06T14:10:00+00:00"},
        updated_at=SHUTDOWN[1] + timedelta(minutes=30),
    )
    retracted = Event(
        "ev-retracted",
        EventKind.BLOCKING,
        Scope("KZ", 21299, "fixed", 1),
        "youtube",
        "tls",
        *RETRACTED,
        confidence=0.55,
        state=EventState.RESOLVED,
        evidence={"rounds": 3, "retracted": True},
        updated_at=RETRACTED[1],
    )
    ongoing = Event(
        "ev-ongoing",
        EventKind.THROTTLING,
        Scope("KZ", 9198, "mobile", 2),
        "youtube",
        "throttled",
        ONGOING,
        None,
        confidence=0.7,
        state=EventState.UPDATED,
        evidence={"rounds": 24},
        updated_at=END - timedelta(minutes=10),
    )
    return [*blocks, shutdown, retracted, ongoing]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web") / "collector.sqlite3"
    store = open_store(f"sqlite:{path}")
    try:
        seed(store)
    finally:
        store.close()
    return path


@pytest.fixture(scope="module")
def collector(
    db: Path, serve_collector: Callable[[Path], AbstractContextManager[str]]
) -> Iterator[str]:
    """A real collector (uvicorn) on 127.0.0.1 over the seeded store."""
    with serve_collector(db) as url:
        yield url


class Page(HTMLParser):
    """What the tests read of a page: cells, tick labels, table rows, links, alerts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.cells: dict[str, dict[str, str]] = {}  # id -> attributes of <a class=cell>
        self.ticks: list[str] = []  # the heatmap's
        self.signal_ticks: list[str] = []  # every signals chart's
        self.rows: dict[str, list[list[str]]] = {}  # table class -> rows of cell texts
        self.links: list[str] = []
        self.bands: list[dict[str, str]] = []  # the <rect> of each event band
        self.alerts: list[str] = []
        self.legend: list[str] = []
        self.options: dict[str, list[str]] = {}
        self.sources: list[str] = []  # every src= and href= of the page
        self._stack: list[tuple[str, dict[str, str]]] = []
        self._text: list[str] | None = None
        self._row: list[str] | None = None
        self._table = ""
        self._select = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        css = a.get("class", "").split()
        self.sources += [a[k] for k in ("src", "href") if k in a]
        if tag == "a":
            self.links.append(a.get("href", ""))
        if tag == "a" and "cell" in css:
            self.cells[a["id"]] = a
        if tag == "rect" and "band" in css:
            self.bands.append(a)
        if tag == "table":
            self._table = css[0] if css else ""
            self.rows.setdefault(self._table, [])
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in {"select", "datalist"}:
            self._select = a.get("name") or a.get("id", "")
            self.options[self._select] = []
        elif tag == "option" and self._select:
            self.options[self._select].append(a.get("value", ""))
        if (
            (tag in {"td", "th"} and self._row is not None)
            or (tag == "text" and "tick-label" in css)
            or (tag == "p" and a.get("role") == "alert")
            or (tag == "span" and self._stack and "key" in self._stack[-1][1].get("class", ""))
        ):
            self._text = []
        if tag not in {"meta", "link", "input", "br"}:
            self._stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            return
        _, a = self._stack.pop()
        css = a.get("class", "").split()
        text = "".join(self._text).strip() if self._text is not None else None
        if tag in {"td", "th"} and self._row is not None and text is not None:
            self._row.append(text)
            self._text = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = ""
        elif tag == "text" and "tick-label" in css and text is not None:
            figures = [x.get("class", "") for t, x in self._stack if t == "figure"]
            (self.ticks if figures == ["heatmap"] else self.signal_ticks).append(text)
            self._text = None
        elif tag == "p" and text is not None and self._row is None:
            self.alerts.append(text)
            self._text = None
        elif tag == "span" and text is not None and self._row is None:
            self.legend.append(text)
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def body(self, table: str) -> list[list[str]]:
        """A table's rows without its header row."""
        return self.rows.get(table, [])[1:]


def get(url: str, **params: str) -> Page:
    response = httpx.get(url, params=params or None)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return Page(response.text)


def cell(page: Page, network: str, target: str, at: datetime) -> dict[str, str]:
    return page.cells[f"cell-{network}-{target}-{int(at.timestamp())}"]


def test_overview_lists_the_country_with_ongoing_events_first(collector: str) -> None:
    page = get(f"{collector}/", range="7d", until="2022-01-08 00:00")
    [kz] = page.body("countries")
    assert kz[0] == "KZ"
    assert kz[1:3] == ["3", "3"]  # probes heard in the last hour and in the range
    assert kz[3] == "fixed, mobile"
    assert "country/KZ?since=2022-01-01+00%3A00&until=2022-01-08+00%3A00" in page.links
    events = page.body("events")
    assert [row[0] for row in events][:1] == ["Throttling"]  # the ongoing one first
    assert events[0][5:8] == ["ongoing", "70%", "ongoing, revised by later data"]
    retracted = next(row for row in events if row[1] == "youtube" and row[0] == "Blocking")
    assert retracted[7] == "retracted: later data did not confirm it"
    assert "event/ev-shutdown-mobile" in page.links


@pytest.mark.parametrize("name", list(RANGES))
def test_country_page_has_labelled_axes_at_every_range(collector: str, name: str) -> None:
    page = get(f"{collector}/country/KZ", **RANGES[name])
    assert 3 <= len(page.ticks) <= 12, page.ticks
    assert all(TICK.match(t) for t in page.ticks + page.signal_ticks), page.ticks
    assert len(page.signal_ticks) == 4 * len(page.ticks)  # fixed, mobile, and per ASN
    states = {c["data-state"] for c in page.cells.values()}
    if name != "90d":  # a day's cells mix the shutdown's offline verdicts with accessible ones
        assert CellState.OFFLINE.value in states, states
    assert CellState.ACCESSIBLE.value in states
    signals = [r for r in page.sources if r.endswith("uPlot.iife.min.js")]
    assert signals == ["../static/vendor/uPlot.iife.min.js"]


def test_the_30_minute_range_draws_the_shutdown_as_offline_on_mobile_only(collector: str) -> None:
    page = get(f"{collector}/country/KZ", **RANGES["30m"])
    assert page.ticks == ["15:00", "15:05", "15:10", "15:15", "15:20", "15:25", "15:30"]
    at = datetime(2022, 1, 6, 15, 5, tzinfo=UTC)
    assert cell(page, "mobile", "facebook", at)["data-state"] == "offline"
    assert cell(page, "mobile", "example", at)["data-state"] == "offline"
    assert cell(page, "fixed", "facebook", at)["data-state"] == "accessible"
    label = cell(page, "mobile", "facebook", at)["aria-label"]
    assert label == (
        "mobile: facebook, 2022-01-06 15:05–15:10 UTC: no accessible/blocked verdict "
        "(0 accessible, 0 blocked, 2 offline, 0 inconclusive)"
    )


def test_six_hours_show_the_block_and_day_labels_at_seven_days(collector: str) -> None:
    page = get(f"{collector}/country/KZ", since="2022-01-06 06:00", until="2022-01-06 12:00")
    at = datetime(2022, 1, 6, 9, 0, tzinfo=UTC)
    assert cell(page, "fixed", "whatsapp", at)["data-state"] == "blocked"
    assert cell(page, "mobile", "telegram", at)["data-state"] == "blocked"
    assert cell(page, "mobile", "youtube", at)["data-state"] == "accessible"
    assert page.ticks[:3] == ["06:00", "07:00", "08:00"]
    week = get(f"{collector}/country/KZ", **RANGES["7d"])
    assert "06 Jan" in week.ticks and "07 Jan" in week.ticks


def test_events_are_bands_linking_to_their_pages(collector: str) -> None:
    page = get(f"{collector}/country/KZ", since="2022-01-06 00:00", until="2022-01-08 00:00")
    kinds = sorted(b["class"] for b in page.bands)
    assert kinds == [
        "band blocking",
        "band blocking",
        "band blocking retracted",
        "band shutdown",
        "band throttling ongoing",
    ]
    assert {"../event/ev-shutdown-mobile", "../event/ev-retracted"} <= set(page.links)
    what = {row[0] for row in page.body("events")}
    assert what == {"Blocking", "Shutdown", "Throttling"}


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


def test_the_legend_names_every_state_with_its_colour(collector: str) -> None:
    page = get(f"{collector}/country/KZ", **RANGES["6h"])
    for look in LOOKS.values():
        assert look.label in page.legend
    assert "mostly blocked (1–49%)" in page.legend  # the bins say what they hold
    assert "shutdown event" in page.legend


def test_event_page_explains_and_lists_the_target_first(collector: str) -> None:
    page = get(f"{collector}/event/ev-block-whatsapp")
    facts = dict((r[0], r[1]) for r in page.rows["facts"])
    assert facts["What"] == "blocking of whatsapp"
    assert facts["Since"] == "2022-01-06 08:00 UTC"
    assert facts["Until"] == "2022-01-06 11:00 UTC"
    assert facts["Duration"] == "3 h"
    assert facts["Standing"] == "over"
    revisions = dict((r[0], r[1]) for r in page.rows["revisions"])
    assert revisions["resolved"] == "2022-01-06 11:10: over at 2022-01-06 11:00"
    evidence = dict((r[0], r[1]) for r in page.rows["evidence"])
    assert evidence["methods"] == "dns: 54"
    rows = page.body("measurements")
    assert rows, "no measurement listed"
    targets = [r[1] for r in rows]
    first_control = targets.index("example (control)")
    assert set(targets[:first_control]) == {"whatsapp"}
    assert set(targets[first_control:]) == {"example (control)"}
    assert rows[0][5] == "dns_nxdomain_error"  # the block's failures lead
    assert "ev-block-whatsapp.csv" in page.links and "ev-block-whatsapp.json" in page.links


def test_event_downloads_and_citation(collector: str) -> None:
    csv = httpx.get(f"{collector}/event/ev-shutdown-mobile.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("bucket_start,target,category,accessible")
    offline = [line for line in csv.text.splitlines() if line.startswith("2022-01-06T15:00")]
    assert offline and all(",0,0,2,0," in line for line in offline), offline[:2]
    answer = httpx.get(f"{collector}/event/ev-shutdown-mobile.json").json()
    assert answer["event"]["id"] == "ev-shutdown-mobile"
    assert answer["timeline"]["cc"] == "KZ"
    html = httpx.get(f"{collector}/event/ev-shutdown-mobile").text
    assert f"{collector}/event/ev-shutdown-mobile" in html  # the permalink is cited
    assert "Shutdown in KZ, AS9198, mobile, 2022-01-06 14:00–2022-01-06 18:00 UTC" in html
    assert httpx.get(f"{collector}/event/nope").status_code == 404


def test_an_events_revisions_say_when_it_opened_and_resolved(collector: str) -> None:
    page = get(f"{collector}/event/ev-shutdown-mobile")
    revisions = dict((r[0], r[1]) for r in page.rows["revisions"])
    assert revisions == {
        "opened": "2022-01-06 14:10: first detected",
        "resolved": "2022-01-06 18:30: over at 2022-01-06 18:00",
    }
    evidence = dict((r[0], r[1]) for r in page.rows["evidence"])
    assert evidence == {"probes before": "2", "rounds": "24"}  # opened_at is a revision


def test_a_retracted_event_says_so(collector: str) -> None:
    page = get(f"{collector}/event/ev-retracted")
    facts = dict((r[0], r[1]) for r in page.rows["facts"])
    assert facts["Standing"] == "retracted: later data did not confirm it"
    revisions = dict((r[0], r[1]) for r in page.rows["revisions"])
    assert revisions["retracted"].startswith("2022-01-07 02:30")


def test_measurement_page_shows_the_record_and_its_verdict(collector: str) -> None:
    event = get(f"{collector}/event/ev-block-whatsapp")
    link = next(x for x in event.links if x.startswith("../measurement/"))
    response = httpx.get(f"{collector}/event/{link}")
    assert response.status_code == 200
    assert "dns_nxdomain_error" in response.text
    assert "The verdict, explained" in response.text
    assert httpx.get(f"{collector}/measurement/not-an-id").status_code == 404
    assert httpx.get(f"{collector}/measurement/{uuid7()}").status_code == 404


def test_no_page_shows_a_probe_id(collector: str) -> None:
    pages = [httpx.get(f"{collector}/country/KZ", params=RANGES["6h"]).text]
    pages.append(httpx.get(f"{collector}/", params=RANGES["7d"]).text)
    event = httpx.get(f"{collector}/event/ev-block-whatsapp").text
    pages.append(event)
    link = next(x for x in Page(event).links if x.startswith("../measurement/"))
    pages.append(httpx.get(f"{collector}/event/{link}").text)
    for probe, _ in PROBES:
        assert not any(probe in html for html in pages), probe


def test_pages_load_nothing_from_another_origin(collector: str) -> None:
    for path, params in (
        ("/", RANGES["7d"]),
        ("/country/KZ", RANGES["6h"]),
        ("/event/ev-shutdown-mobile", {}),
    ):
        response = httpx.get(f"{collector}{path}", params=params)
        assert "default-src 'none'" in response.headers["content-security-policy"]
        page = Page(response.text)
        assert not [s for s in page.sources if "//" in s.split("?")[0]], page.sources
        assert "style=" not in response.text  # no inline style (CSP)
        assert not re.search(r"<script(?![^>]*\b(src|type=\"application/json\"))", response.text)


def test_old_single_page_links_open_the_country_page(collector: str) -> None:
    from collector.anomaly.alerts import timeline_link

    whatsapp = next(e for e in events() if e.id == "ev-block-whatsapp")
    page = get(timeline_link(whatsapp, f"{collector}/timeline", now=END))
    assert {c["data-target"] for c in page.cells.values()} == {"whatsapp"}
    assert "Blocking" in {row[0] for row in page.body("events")}
    legacy = get(f"{collector}/", cc="KZ", since="2022-01-06 06:00", until="2022-01-06 12:00")
    assert legacy.cells


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2022-01-06 18:00", "until": "2022-01-06 06:00"}, "until"),
        ({"since": "noon"}, "since"),
        ({"range": "fortnight"}, "range"),
        ({"step": "fortnight", "range": "6h"}, "step"),
        ({"step": "30s", "range": "24h"}, "step"),
        ({"asn": "AS9198"}, "asn"),
    ],
)
def test_bad_input_is_shown_next_to_the_form(
    collector: str, params: dict[str, str], field: str
) -> None:
    response = httpx.get(f"{collector}/country/KZ", params=params)
    assert response.status_code == 422
    page = Page(response.text)
    assert len(page.alerts) == 1
    assert page.alerts[0].startswith(f"{field}:"), page.alerts
    assert "<form" in response.text


def test_static_assets_are_served_with_the_vendored_chart_library(collector: str) -> None:
    css = httpx.get(f"{collector}/static/web.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = httpx.get(f"{collector}/static/vendor/uPlot.iife.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "uPlot" in js.text
    licence = httpx.get(f"{collector}/static/vendor/uPlot.LICENSE")
    assert "MIT License" in licence.text
    assert httpx.get(f"{collector}/static/../app.py").status_code == 404
    assert httpx.get(f"{collector}/static/secret.txt").status_code == 404


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


# ---- in headless Chromium: one browser for the module, driven over W3C WebDriver ----

CHROMIUM = shutil.which("chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"


class WebDriver:
    """A minimal W3C WebDriver client (https://www.w3.org/TR/webdriver2/) over chromedriver."""

    ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

    def __init__(self, base: str, session: str) -> None:
        self.base = f"{base}/session/{session}"

    def call(self, method: str, path: str, body: dict[str, object] | None = None) -> object:
        response = httpx.request(method, self.base + path, json=body, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def run(self, script: str) -> object:
        return self.call("POST", "/execute/sync", {"script": script, "args": []})

    def wait_for(self, script: str, *, seconds: float = 10) -> object:
        deadline = time.monotonic() + seconds
        while not (value := self.run(script)):
            assert time.monotonic() < deadline, f"timed out waiting for: {script}"
            time.sleep(0.05)
        return value

    def console(self) -> list[dict[str, object]]:
        """The browser's console messages since the last call (chromedriver's log endpoint)."""
        found = self.call("POST", "/se/log", {"type": "browser"})
        assert isinstance(found, list)
        return found

    def screenshot(self, path: Path) -> None:
        self.call("POST", "/window/rect", {"width": 1300, "height": 600})
        height = self.run("return document.documentElement.scrollHeight")
        assert isinstance(height, int)
        self.call("POST", "/window/rect", {"width": 1300, "height": min(height + 40, 4000)})
        shot = self.call("GET", "/screenshot")
        assert isinstance(shot, str)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """chromedriver on 127.0.0.1 driving headless Chromium; both torn down by the fixture."""
    driver = shutil.which("chromedriver")
    if driver is None or CHROMIUM is None:
        pytest.skip("LOUD SKIP: chromium-driver is not installed (deploy/setup-debian.sh has it)")
    tmp = tmp_path_factory.mktemp("chromium")
    port = free_port()
    log = (tmp / "chromedriver.log").open("wb")
    process = subprocess.Popen([driver, f"--port={port}"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    session = None
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "no chromedriver"
            try:
                if httpx.get(f"{base}/status", timeout=1).json()["value"]["ready"]:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--window-size=1300,900",
            f"--user-data-dir={tmp / 'profile'}",
        ]
        options = {"binary": CHROMIUM, "args": flags}
        capabilities = {
            "alwaysMatch": {"goog:chromeOptions": options, "goog:loggingPrefs": {"browser": "ALL"}}
        }
        created = httpx.post(f"{base}/session", json={"capabilities": capabilities}, timeout=60)
        assert created.status_code == 200, created.text
        session = created.json()["value"]["sessionId"]
        yield WebDriver(base, session)
    finally:
        if session is not None:
            httpx.delete(f"{base}/session/{session}", timeout=30)
        stop(process)
        log.close()


INSPECT = """
const ticks = [...document.querySelectorAll('figure.heatmap text.tick-label')];
return {
  ticks: ticks.map(t => t.textContent),
  tickBoxes: ticks.map(t => t.getBoundingClientRect().width),
  offline: document.querySelectorAll('a.cell[data-state=offline], rect.part-offline').length,
  cells: document.querySelectorAll('a.cell').length,
  islands: document.querySelectorAll('script.chart-data').length,
  plots: document.querySelectorAll('.uplot canvas').length,
  plotTicks: (window.tyndauCharts || []).map(u => u.axes[0]._values || []),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  origin: location.origin,
};
"""


def inspect(browser: WebDriver, url: str) -> dict[str, Any]:
    """Load ``url``, wait for the charts, return what the page drew and fetched."""
    browser.console()  # drop older messages
    browser.call("POST", "/url", {"url": url})
    browser.wait_for(
        "return document.readyState === 'complete' && document.querySelectorAll("
        "'script.chart-data').length === document.querySelectorAll('.uplot').length"
    )
    found = browser.run(INSPECT)
    assert isinstance(found, dict)
    found["console"] = browser.console()
    return found


def assert_clean(found: dict[str, Any]) -> None:
    """Nothing fetched from another origin, nothing said on the console above a notice."""
    foreign = [r for r in found["resources"] if not r.startswith(found["origin"] + "/")]
    assert foreign == []
    errors = [m for m in found["console"] if m["level"] in {"SEVERE", "WARNING"}]
    assert errors == [], errors


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RANGES))
def test_country_page_in_chromium(collector: str, browser: WebDriver, name: str) -> None:
    found = inspect(browser, f"{collector}/country/KZ?{urlencode(RANGES[name])}")
    assert_clean(found)
    assert found["plots"] == found["islands"] == 4  # uPlot drew every signals chart
    for labels in found["plotTicks"]:  # the interactive charts' own axis: 24-hour UTC too
        assert len(labels) >= 2 and all(TICK.match(t) for t in labels), labels
    assert 3 <= len(found["ticks"]) <= 12 and all(TICK.match(t) for t in found["ticks"])
    assert all(width > 0 for width in found["tickBoxes"])  # rendered, not just in the markup
    assert found["offline"] > 0  # the backfilled shutdown is drawn at every range
    assert any(r.endswith("/static/vendor/uPlot.iife.min.js") for r in found["resources"])
    browser.screenshot(ARTIFACTS / f"country-{name}.png")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RANGES))
def test_overview_in_chromium(collector: str, browser: WebDriver, name: str) -> None:
    params = {"range": name, "until": "2022-01-06 16:00" if name in {"30m", "6h"} else END_TEXT}
    found = inspect(browser, f"{collector}/?{urlencode(params)}")
    assert_clean(found)
    rows = browser.run("return document.querySelectorAll('table.countries tbody tr').length")
    assert rows == 1
    if name == "7d":
        browser.screenshot(ARTIFACTS / "overview.png")


@pytest.mark.slow
def test_event_and_measurement_pages_in_chromium(collector: str, browser: WebDriver) -> None:
    found = inspect(browser, f"{collector}/event/ev-shutdown-mobile")
    assert_clean(found)
    assert found["offline"] > 0 and found["plots"] == 2  # mobile, and AS9198 mobile
    browser.screenshot(ARTIFACTS / "event.png")
    link = browser.run("return document.querySelector('table.measurements a').href")
    assert isinstance(link, str)
    found = inspect(browser, link)
    assert_clean(found)
    text = browser.run("return document.getElementById('verdict').textContent")
    assert isinstance(text, str) and "offline" in text
    browser.screenshot(ARTIFACTS / "measurement.png")


@pytest.mark.slow
def test_clicking_a_cell_lists_its_measurements_failures_first(
    collector: str, browser: WebDriver
) -> None:
    inspect(browser, f"{collector}/country/KZ?{urlencode(RANGES['6h'])}")
    at = int(datetime(2022, 1, 6, 15, 0, tzinfo=UTC).timestamp())
    found = browser.call(
        "POST", "/element", {"using": "css selector", "value": f"#cell-mobile-whatsapp-{at}"}
    )
    assert isinstance(found, dict)
    browser.call("POST", f"/element/{found[WebDriver.ELEMENT]}/click", {})
    rows = browser.wait_for(
        "return document.querySelectorAll('table.measurements tbody tr').length"
    )
    assert rows == 2  # a 5-minute cell holds one round of each of the two mobile probes
    cells = browser.run(
        "return [...document.querySelectorAll('table.measurements tbody tr')]"
        ".map(r => [r.cells[1].textContent, r.cells[4].textContent])"
    )
    assert isinstance(cells, list)
    assert {outcome for _, outcome in cells} == {"generic_timeout_error"}
    assert not any(probe.startswith("probe-") for probe, _ in cells)  # pseudonyms only
    assert browser.run("return location.hash") == f"#cell-mobile-whatsapp-{at}"


def test_row_groups_are_the_apis_availability_series(db: Path) -> None:
    """The page sums its rows in one pass; they must equal collector/series.py's, per network."""
    from collector.series import availability_json, availability_series
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
