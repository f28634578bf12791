"""The researchers' pages on a real collector (uvicorn on loopback) over the seeded test site
(tests/support/website.py), read as HTML; test_web_browser.py reads the same pages in headless
Chromium, test_web_views.py checks what the pages compute."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from collector.palette import LOOKS, CellState
from probe.ids import uuid7
from tests.support.website import (
    END,
    PROBES,
    RANGES,
    TICK,
    Page,
    cell,
    events,
    get,
)


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
