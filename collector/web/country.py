"""A country's page: signals per network and per ASN, availability per target, events."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from collector.web.charts import heatmap
from collector.web.html import clock, data_island, el, serialise, shell
from collector.web.overview import events_table, quick_ranges
from collector.web.ranges import Form, typed
from collector.web.signals_chart import signals_chart, signals_json
from collector.web.views import CountryView

STEPS = (("", "auto"), ("5m", "5 min"), ("15m", "15 min"), ("1h", "1 hour"), ("1d", "1 day"))


def render_country(
    cc: str, form: Form, view: CountryView | None, error: str, *, now: datetime, root: str
) -> str:
    html, main = shell(f"{cc}: signals, availability and events", root)
    el(main, "p", "").append(_back(root))
    quick_ranges(main, form, "")
    _form(main, form, view)
    if error:
        el(main, "p", error, role="alert", class_="error")
    if view is None:
        return serialise(html)
    query = view.query
    el(main, "p", f"From {clock(query.since)} to {clock(query.until)} UTC.", class_="hint")
    events_table(main, view.doc["events"], root=root)
    section = el(main, "section", id="signals", aria_labelledby="signals-h")
    el(section, "h2", "Signals per network and per ASN", id="signals-h")
    el(
        section,
        "p",
        "Probes expected, heard and up, and the share of offline verdicts: a network "
        "that goes dark shows here even when no event was detected.",
        class_="hint",
    )
    if not view.signals:
        el(section, "p", "No probe reported in this range.", class_="hint")
    for group in view.signals:
        signals_chart(section, group, since=query.since, until=query.until, step_s=query.step_s)
        data_island(section, f"signals-{group.key}", signals_json(group))
    chart = el(main, "section", id="timeline", aria_labelledby="chart-h")
    el(chart, "h2", "Availability per target", id="chart-h")
    vantage = {"cc": query.cc, "asn": query.asn, "network": query.network}
    raw = heatmap(chart, view.doc, view.groups, now=now, root=root, vantage=vantage)
    drill = el(main, "section", id="drill", aria_labelledby="drill-h")
    el(drill, "h2", "Measurements", id="drill-h")
    el(
        drill,
        "p",
        "Select a cell of the chart to list the raw measurements behind it.",
        id="drill-hint",
    )
    el(drill, "div", id="drill-body", aria_live="polite", data_root=root)
    return serialise(html, raw)


def _back(root: str) -> ET.Element:
    link = ET.Element("a", {"href": root or "./"})
    link.text = "← every country"
    return link


def _form(main: ET.Element, form: Form, view: CountryView | None) -> None:
    box = el(main, "form", method="get", class_="filters", aria_label="What to show")
    asns = [(str(a), f"AS{a}") for a in (view.asns if view else [])]
    _select(box, "asn", "ASN", asns, form.asn, blank="all")
    networks = view.networks if view else []
    _select(box, "network", "Network", [(n, n) for n in networks], form.network, blank="all")
    targets = view.targets if view else []
    _select(box, "target", "Target", [(t, t) for t in targets], form.target, blank="all")
    for name, label in (("since", "From (UTC)"), ("until", "To (UTC)")):
        value = form.since if name == "since" else form.until
        if view is not None:
            value = typed(view.query.since if name == "since" else view.query.until)
        field = el(box, "label", label, class_="field")
        el(
            field,
            "input",
            type="text",
            name=name,
            value=value,
            inputmode="numeric",
            size=16,
            placeholder="2022-01-05 06:00",
            pattern=r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?Z?",
            title="24-hour UTC time, e.g. 2022-01-05 06:00",
        )
    _select(box, "step", "Step", list(STEPS), form.step)
    el(box, "button", "Show", type="submit")


def _select(
    box: ET.Element,
    name: str,
    label: str,
    options: list[tuple[str, str]],
    chosen: str,
    *,
    blank: str | None = None,
) -> None:
    field = el(box, "label", label, class_="field")
    select = el(field, "select", name=name)
    values = ([("", blank)] if blank is not None else []) + options
    if chosen and chosen not in {v for v, _ in values}:
        values.append((chosen, chosen))  # keep what was asked even if the range has no data
    for value, text in values:
        el(select, "option", text, value=value, selected="selected" if value == chosen else None)
