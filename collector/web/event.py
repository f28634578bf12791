"""An event's page (a permalink): what, where, since when, evidence, revisions, the chart around
it, the measurements behind it, downloads and a citation line."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from collector.signals import Signals
from collector.web.charts import heatmap
from collector.web.html import (
    clock,
    data_island,
    data_table,
    duration,
    el,
    event_title,
    facts_table,
    probes_text,
    serialise,
    shell,
    status_words,
    where,
)
from collector.web.signals_chart import signals_chart, signals_json
from collector.web.views import RowGroup
from probe.model import parse_time

REVISION_KEYS = {"opened_at", "retracted"}  # evidence keys the revisions table shows
SHOWN_TARGET, SHOWN_CONTROL = 40, 20  # rows listed; the JSON API pages through the rest
FETCHED = 1000  # measurements read to pick them from


def render_event(
    event: dict[str, Any],
    doc: dict[str, Any],
    groups: list[RowGroup],
    signal_groups: list[Signals],
    measurements: list[dict[str, Any]],
    *,
    now: datetime,
    permalink: str,
) -> str:
    root = "../"
    html, main = shell(event_title(event), root)
    el(main, "p").append(_link(f"{root}country/{event['scope']['cc']}", "← the country's page"))
    _facts(main, event, now)
    _revisions(main, event)
    _evidence(main, event["evidence"])
    section = el(main, "section", id="timeline", aria_labelledby="chart-h")
    el(section, "h2", "Around the event", id="chart-h")
    scope = event["scope"]
    vantage = {"cc": scope["cc"], "asn": scope["asn"], "network": scope["network"]}
    for group in signal_groups:
        since, until = parse_time(doc["since"]), parse_time(doc["until"])
        signals_chart(section, group, since=since, until=until, step_s=int(doc["step_s"]))
        data_island(section, f"signals-{group.key}", signals_json(group))
    raw = heatmap(section, doc, groups, now=now, root=root, vantage=vantage)
    _measurements(main, event, measurements, root)
    _downloads(main, event, permalink, now)
    return serialise(html, raw)


def _link(href: str, text: str) -> ET.Element:
    node = ET.Element("a", {"href": href})
    node.text = text
    return node


def _facts(main: ET.Element, e: dict[str, Any], now: datetime) -> None:
    start = parse_time(e["start"])
    end = parse_time(e["end"]) if e["end"] else None
    lasted = duration(((end or now) - start).total_seconds())
    rows = (
        ("What", e["kind"].replace("_", " ") + (f" of {e['target']}" if e["target"] else "")),
        ("Method", e["method"] or "—"),
        ("Where", f"{where(e['scope'])}, seen by {probes_text(e['scope']['probes'])}"),
        ("Since", f"{clock(e['start'])} UTC"),
        ("Until", f"{clock(e['end'])} UTC" if e["end"] else "still ongoing"),
        ("Duration", lasted + ("" if end else " so far")),
        ("Confidence", f"{e['confidence']:.0%}"),
        ("Standing", status_words(e)),
        ("Event id", e["id"]),
    )
    facts_table(el(main, "section", id="facts"), "facts", rows)


def revisions(e: dict[str, Any]) -> list[tuple[str, str]]:
    """What is known of the event's history: the store keeps its latest revision only, with
    the time of that revision, and ``opened_at`` (in the evidence, collector/anomaly/lifecycle.py:
    when the event would first have been paged)."""
    opened = e.get("opened_at") or e.get("evidence", {}).get("opened_at")
    out = [("opened", f"{_moment(opened)}: first detected" if opened else "not recorded")]
    updated = clock(e["updated_at"]) if e.get("updated_at") else "not recorded"
    if e.get("evidence", {}).get("retracted"):
        out.append(("retracted", f"{updated}: later data did not confirm it"))
    elif e["end"] is not None:
        out.append(("resolved", f"{updated}: over at {clock(e['end'])}"))
    elif e["state"] == "updated":
        out.append(("updated", f"{updated}: onset, scope or evidence revised by later data"))
    else:
        out.append(("last checked", updated))
    return out


def _moment(text: Any) -> str:
    """A stored time as the page shows it; a value no parser reads is shown as stored."""
    try:
        return clock(str(text))
    except ValueError:
        return str(text)


def _revisions(main: ET.Element, e: dict[str, Any]) -> None:
    section = el(main, "section", id="revisions", aria_labelledby="revisions-h")
    el(section, "h2", "Revisions (UTC)", id="revisions-h")
    facts_table(section, "revisions", revisions(e))


def _evidence(main: ET.Element, evidence: dict[str, Any]) -> None:
    section = el(main, "section", id="evidence", aria_labelledby="evidence-h")
    el(section, "h2", "Evidence", id="evidence-h")
    if not evidence:
        el(section, "p", "The detector recorded no evidence detail.", class_="hint")
        return
    shown = sorted((k, v) for k, v in evidence.items() if k not in REVISION_KEYS)
    facts_table(section, "evidence", [(k.replace("_", " "), _evidence_text(v)) for k, v in shown])


def _evidence_text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in sorted(value.items())) or "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def ordered(event: dict[str, Any], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The target's failures first, then its other measurements, then the controls' (at most
    SHOWN_TARGET and SHOWN_CONTROL of each)."""

    def rank(m: dict[str, Any]) -> tuple[bool, str]:
        return (m["outcome"] == "ok", m["started_at"])

    controls = [m for m in found if m["target"]["category"] == "control"]
    own = [
        m
        for m in found
        if m["target"]["category"] != "control"
        and (event["target"] is None or m["target"]["name"] == event["target"])
    ]
    return sorted(own, key=rank)[:SHOWN_TARGET] + sorted(controls, key=rank)[:SHOWN_CONTROL]


def probe_of(m: dict[str, Any]) -> str:
    """The probe as the query layer publishes it (a pseudonym once collector/pseudonym.py
    applies), never a store's raw id."""
    for name in ("probe", "pseudonym", "probe_id"):
        if m.get(name):
            return str(m[name])
    return "—"


def _measurements(
    main: ET.Element, event: dict[str, Any], found: list[dict[str, Any]], root: str
) -> None:
    section = el(main, "section", id="measurements", aria_labelledby="measurements-h")
    shown = ordered(event, found)
    words = f"{len(shown)} of {len(found)}" + ("+" if len(found) >= FETCHED else "")
    el(section, "h2", f"Measurements behind it ({words})", id="measurements-h")
    if not found:
        el(
            section,
            "p",
            "No raw measurement in this range (a shutdown leaves none until the "
            "probes' outboxes drain).",
            class_="hint",
        )
        return
    heads = ("Started (UTC)", "Target", "Probe", "Vantage", "Test", "Outcome", "ms")
    body = data_table(section, "measurements", heads)
    for m in shown:
        control = m["target"]["category"] == "control"
        tr = el(body, "tr", class_="control" if control else None)
        cell = el(tr, "td")
        el(cell, "a", m["started_at"].replace("T", " ")[:19], href=f"{root}measurement/{m['id']}")
        v = m["vantage"]
        texts = (
            m["target"]["name"] + (" (control)" if control else ""),
            probe_of(m),
            f"{v['cc']} AS{v['asn']} {v['network']}",
            m["test"],
            m["outcome"],
            str(round(m["duration_ms"])),
        )
        for index, text in enumerate(texts):
            css = None
            if index == 4:
                css = "outcome-ok" if text == "ok" else "outcome-failed"
            el(tr, "td", text, class_=css)


def citation(event: dict[str, Any], permalink: str, now: datetime) -> str:
    return (
        f"tyndau, “{event_title(event)}, {clock(event['start'])}"
        f"{'–' + clock(event['end']) if event['end'] else ', ongoing'} UTC”, event {event['id']}, "
        f"{permalink} (retrieved {now:%Y-%m-%d %H:%M} UTC)."
    )


def _downloads(main: ET.Element, event: dict[str, Any], permalink: str, now: datetime) -> None:
    section = el(main, "section", id="downloads", aria_labelledby="downloads-h")
    el(section, "h2", "Downloads and citation", id="downloads-h")
    links = el(section, "p")
    links.append(_link(f"{event['id']}.json", "event and timeline (JSON)"))
    el(links, "span", " · ")
    links.append(_link(f"{event['id']}.csv", "timeline around it (CSV)"))
    el(section, "p", "Cite as:", class_="hint")
    el(section, "blockquote", citation(event, permalink, now), class_="citation")
