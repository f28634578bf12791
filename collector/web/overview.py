"""The overview page at ``/``: every country with probes, ongoing events first, recent events."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from collector.web.html import (
    KIND_WORDS,
    clock,
    data_table,
    el,
    event_title,
    probes_text,
    serialise,
    shell,
    status_words,
    where,
)
from collector.web.ranges import QUICK_RANGES, Form, typed
from collector.web.views import Overview

COUNTRY_HEADS = (
    "Country",
    "Probes heard, last hour",
    "Probes heard (most in a day of the range)",
    "Networks",
    "ASNs",
    "Targets",
    "Ongoing events",
    "Events in the range",
)
EVENT_HEADS = (
    "What",
    "Target",
    "Method",
    "Where",
    "Start (UTC)",
    "End (UTC)",
    "Confidence",
    "Standing",
)


def render_overview(view: Overview | None, form: Form, error: str) -> str:
    html, main = shell("Where are platforms reachable?", "")
    quick_ranges(main, form, "")
    if error:
        el(main, "p", error, role="alert", class_="error")
    if view is None:
        return serialise(html)
    el(main, "p", f"From {clock(view.since)} to {clock(view.until)} UTC.", class_="hint")
    section = el(main, "section", id="countries", aria_labelledby="countries-h")
    el(section, "h2", f"Countries with probes ({len(view.countries)})", id="countries-h")
    if not view.countries:
        el(section, "p", "No probe reported in this range.", class_="hint")
    else:
        body = data_table(section, "countries", COUNTRY_HEADS)
        span = {"since": typed(view.since), "until": typed(view.until)}
        for r in view.countries:
            tr = el(body, "tr", class_="has-ongoing" if r.ongoing else None)
            cell = el(tr, "th", scope="row")
            el(cell, "a", r.cc, href=f"country/{r.cc}?{urlencode(span)}")
            for value in (
                r.heard_last_hour,
                r.heard_range,
                ", ".join(sorted(r.networks)),
                len(r.asns),
                len(r.targets),
                r.ongoing,
                r.events,
            ):
                el(tr, "td", str(value))
    events_table(main, view.events, root="", title="Events, ongoing first")
    return serialise(html)


def quick_ranges(main: ET.Element, form: Form, base: str) -> None:
    """Links to the same page over the last 30 min .. 90 days (up to the form's end)."""
    nav = el(main, "nav", class_="ranges", aria_label="Range")
    el(nav, "span", "Show the last:")
    for key, words in QUICK_RANGES.items():
        params = {k: v for k, v in _kept(form).items() if v} | {"range": key}
        current = "page" if form.range == key else None
        el(nav, "a", words, href=f"{base}?{urlencode(params)}", aria_current=current)


def _kept(form: Form) -> dict[str, str]:
    return {"asn": form.asn, "network": form.network, "target": form.target, "until": form.until}


def events_table(
    parent: ET.Element, events: list[dict[str, Any]], *, root: str, title: str = "Events"
) -> None:
    section = el(parent, "section", id="events", aria_labelledby="events-h")
    el(section, "h2", f"{title} ({len(events)})", id="events-h")
    if not events:
        el(section, "p", "No anomaly was detected in this range.", class_="hint")
        return
    body = data_table(section, "events", EVENT_HEADS)
    for e in events:
        retracted = bool(e.get("evidence", {}).get("retracted"))
        css = f"event {e['kind']}" + (" retracted" if retracted else "")
        tr = el(body, "tr", class_=css)
        kind = el(tr, "th", scope="row")
        el(
            kind,
            "a",
            KIND_WORDS.get(e["kind"], e["kind"]),
            href=f"{root}event/{e['id']}",
            title=event_title(e),
        )
        texts = (
            e["target"] or "all targets",
            e["method"] or "—",
            f"{where(e['scope'])} ({probes_text(e['scope']['probes'])})",
            clock(e["start"]),
            clock(e["end"]) if e["end"] else "ongoing",
            f"{e['confidence']:.0%}",
            status_words(e),
        )
        for text in texts:
            el(tr, "td", text)
