"""The researchers' web page at ``/``: pick a vantage and a range, see events and availability.

Rendered on the server from the same document as ``GET /v1/timeline`` (collector/timeline.py),
with the chart as inline SVG: no JavaScript library, no CDN, no external font. A small script
(static/web.js) lists the raw measurements behind a chart cell from ``GET /v1/measurements``;
without it each cell is still a link to that API answer. HTML is built with ElementTree, which
escapes every text and attribute, so tag values from probes can never inject markup.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from collector.chart import (
    ACCESSIBLE_COLOUR,
    BLOCKED_COLOUR,
    EVENT_COLOURS,
    NO_DATA_COLOUR,
    PARTIAL_COLOUR,
    SHUTDOWN_COLOUR,
)
from collector.queries import StoreDep
from collector.records import EventKind, VerdictBucket
from collector.series import parse_step
from collector.store import Store, StoreError
from collector.store.codec import event_to_dict
from collector.timeline import TimelineInputError, TimelineQuery, document, parse_query
from probe.model import format_time, parse_time

STATIC = Path(__file__).parent / "static"
ASSETS = {"web.css": "text/css; charset=utf-8", "web.js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MOSTLY_BLOCKED_COLOUR = "#fc8d59"  # between chart.py's partial and blocked colours
AUTO_STEPS = (300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400)
MAX_CELLS = 100  # buckets per row when the step is chosen automatically
MAX_PAGE_CELLS = 1_000  # buckets per row the page draws at most (the API allows more)
DEFAULT_RANGE = timedelta(hours=24)
# Chart geometry in SVG user units (the SVG scales to the page width).
LABEL_W, PLOT_W, ROW_H, AXIS_H, PAD = 170, 1000, 26, 30, 8
router = APIRouter(include_in_schema=False)
Param = Annotated[str, Query(max_length=64)]


@dataclass(frozen=True, slots=True)
class Form:
    """The page's inputs as typed, echoed back into the form."""

    cc: str = ""
    asn: str = ""
    network: str = ""
    target: str = ""
    since: str = ""
    until: str = ""
    step: str = ""


def _form_time(text: str) -> str:
    """``datetime-local`` inputs have no offset; the form says UTC, so read them as UTC."""
    text = text.strip()
    return text if not text or text.endswith("Z") or "+" in text[10:] else text + "Z"


def _range(form: Form, now: datetime) -> tuple[str, str]:
    """The form's range as RFC 3339 texts; by default the last 24 hours up to the next hour."""
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    until = _form_time(form.until) or format_time(next_hour)
    try:
        default_since = format_time(parse_time(until) - DEFAULT_RANGE)
    except ValueError:
        default_since = format_time(next_hour - DEFAULT_RANGE)  # parse_query names the error
    return _form_time(form.since) or default_since, until


def _cells(since: str, until: str, step: str) -> float:
    try:
        return (parse_time(until) - parse_time(since)).total_seconds() / parse_step(step)
    except ValueError:
        return 0.0  # parse_query reports the bad value with its field name


def _query(form: Form, now: datetime) -> TimelineQuery:
    since, until = _range(form, now)
    asn = form.asn.strip()
    if asn and not asn.isdigit():
        raise TimelineInputError("asn", f"{form.asn!r} is not a number, e.g. 9198")
    step = form.step
    if step and _cells(since, until, step) > MAX_PAGE_CELLS:
        raise TimelineInputError("step", f"over {MAX_PAGE_CELLS} cells per row; use a larger step")
    if not step:  # the smallest step that keeps a row under MAX_CELLS cells
        try:
            span = (parse_time(until) - parse_time(since)).total_seconds()
        except ValueError:
            span = 0.0  # parse_query reports the bad time with its field name
        step = f"{next((s for s in AUTO_STEPS if span / s <= MAX_CELLS), AUTO_STEPS[-1])}s"
    return parse_query(
        cc=form.cc, since=since, until=until, step=step, asn=int(asn) if asn else None,
        network=form.network.strip(), target=form.target.strip(), prefix="",
    )  # fmt: skip


@router.get("/", response_class=HTMLResponse)
@router.get("/timeline", response_class=HTMLResponse)
async def page(
    store: StoreDep,
    cc: Param = "",
    asn: Param = "",
    network: Param = "",
    target: Param = "",
    since: Param = "",
    until: Param = "",
    step: Param = "",
) -> HTMLResponse:
    """The page; bad input is shown next to the form (422), never as a bare error."""
    form = Form(cc.upper(), asn, network, target, since, until, step)
    now = datetime.now(UTC)
    status, error, view, recent = 200, "", None, []
    if not form.cc:  # the landing page: fill the form with the default range
        since_text, until_text = _range(form, now)
        form = replace(
            form, since=form.since or since_text[:16], until=form.until or until_text[:16]
        )
    try:
        query = _query(form, now) if form.cc else None
        countries = await run_in_threadpool(_countries, store, form, now)
        if query is not None:
            view = await run_in_threadpool(_read_view, store, query)
        else:
            recent = await run_in_threadpool(_all_events, store, form, now)
    except TimelineInputError as exc:
        status, error, countries = 422, str(exc), []
    except StoreError as exc:
        status, error, countries = 503, f"storage is unavailable: {exc}", []
    body = render_page(form, countries, view, error, recent)
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(404, "no such asset")
    content = (STATIC / name).read_bytes()
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(content, media_type=ASSETS[name], headers=headers)


@dataclass(frozen=True, slots=True)
class View:
    """Everything the page shows for one query: the API document plus the form's choices."""

    query: TimelineQuery
    doc: dict[str, Any]
    asns: list[int]
    networks: list[str]
    targets: list[str]


def _countries(store: Store, form: Form, now: datetime) -> list[str]:
    """Countries with verdicts in the range (one bucket spanning it), for the country picker."""
    try:
        since, until = (parse_time(t) for t in _range(form, now))
    except ValueError:
        return []
    span = int((until - since).total_seconds())
    if span <= 0:
        return []
    return sorted({b.cc for b in store.verdict_buckets(since=since, until=until, step_s=span)})


def _all_events(store: Store, form: Form, now: datetime) -> list[dict[str, Any]]:
    """Every country's events in the range, for the landing page."""
    try:
        since, until = (parse_time(t) for t in _range(form, now))
    except ValueError:
        return []
    return (
        [event_to_dict(e) for e in store.events(since=since, until=until)] if since < until else []
    )


def _read_view(store: Store, query: TimelineQuery) -> View:
    buckets: list[VerdictBucket] = store.verdict_buckets(
        since=query.since, until=query.until, step_s=query.step_s, cc=query.cc
    )
    events = [
        e
        for e in store.events(since=query.since, until=query.until, cc=query.cc)
        if query.asn is None or e.scope.asn in {None, query.asn}
        if query.network is None or e.scope.network in {None, query.network}
    ]
    return View(
        query=query,
        doc=document(query, buckets, events),
        asns=sorted({b.asn for b in buckets}),
        networks=sorted({b.network for b in buckets}),
        targets=sorted({b.target for b in buckets}),
    )


def el(parent: ET.Element | None, tag: str, text: str = "", **attrs: Any) -> ET.Element:
    """A child element; ``attrs`` with ``_`` become ``-`` (``aria_label`` -> ``aria-label``)."""
    names = {k.rstrip("_").replace("_", "-"): str(v) for k, v in attrs.items() if v is not None}
    node = ET.Element(tag, names) if parent is None else ET.SubElement(parent, tag, names)
    if text:
        node.text = text
    return node


def render_page(
    form: Form,
    countries: list[str],
    view: View | None,
    error: str,
    recent: list[dict[str, Any]] | None = None,
) -> str:
    """The whole HTML document for ``view`` (None: nothing chosen yet)."""
    html = el(None, "html", lang="en")
    head = el(html, "head")
    el(head, "meta", charset="utf-8")
    el(head, "meta", name="viewport", content="width=device-width, initial-scale=1")
    where = "" if view is None else f" — {_where(view.query)}"
    el(head, "title", f"tyndau: availability{where}")
    el(head, "link", rel="stylesheet", href="static/web.css")  # relative: works under a prefix
    el(head, "script", src="static/web.js", defer="defer")
    body = el(html, "body")
    header = el(body, "header")
    el(header, "h1", "tyndau")
    el(header, "p", "Are platforms reachable from volunteers' vantage points? All times are UTC.")
    main = el(body, "main")
    _form(main, form, countries, view)
    if error:
        el(main, "p", error, role="alert", class_="error")
    elif view is None:
        el(main, "p", "Choose a country and a range, then press Show.", class_="hint")
        _events(main, recent or [], every_cc=True)
    if view is not None:
        _events(main, view.doc["events"])
        _chart(main, view)
        drill = el(main, "section", id="drill", aria_labelledby="drill-h")
        el(drill, "h2", "Measurements", id="drill-h")
        el(drill, "p", "Select a cell of the chart to list the raw measurements behind it.",
           id="drill-hint")  # fmt: skip
        el(drill, "div", id="drill-body", aria_live="polite")
    return "<!doctype html>\n" + ET.tostring(html, encoding="unicode", method="html")


def _where(query: TimelineQuery) -> str:
    asn = f"AS{query.asn}" if query.asn is not None else ""
    return " ".join(x for x in (query.cc, asn, query.network or "", query.target or "") if x)


def _form(main: ET.Element, form: Form, countries: list[str], view: View | None) -> None:
    box = el(main, "form", method="get", class_="filters", aria_label="What to show")
    field = el(box, "label", "Country", class_="field")
    el(field, "input", name="cc", value=form.cc, list="countries", required="required",
       pattern="[A-Za-z]{2}", size=4, placeholder="KZ", autocomplete="off")  # fmt: skip
    datalist = el(box, "datalist", id="countries")
    for code in countries:
        el(datalist, "option", value=code)
    asns = [(str(a), f"AS{a}") for a in (view.asns if view else [])]
    _select(box, "asn", "ASN", asns, form.asn, blank="all")
    networks = [(n, n) for n in (view.networks if view else [])]
    _select(box, "network", "Network", networks, form.network, blank="all")
    targets = [(t, t) for t in (view.targets if view else [])]
    _select(box, "target", "Target", targets, form.target, blank="all")
    for name, label in (("since", "From (UTC)"), ("until", "To (UTC)")):
        value = form.since if name == "since" else form.until
        if view is not None:
            moment = view.query.since if name == "since" else view.query.until
            value = moment.strftime("%Y-%m-%dT%H:%M")
        field = el(box, "label", label, class_="field")
        el(field, "input", type="datetime-local", name=name, value=value)
    steps = [("", "auto"), ("5m", "5 min"), ("15m", "15 min"), ("1h", "1 hour"), ("1d", "1 day")]
    _select(box, "step", "Step", steps, form.step)
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


def _events(main: ET.Element, events: list[dict[str, Any]], *, every_cc: bool = False) -> None:
    section = el(main, "section", id="events", aria_labelledby="events-h")
    title = "Events in every country" if every_cc else "Events"
    el(section, "h2", f"{title} ({len(events)})", id="events-h")
    if not events:
        el(section, "p", "No anomaly was detected in this range.")
        return
    table = el(section, "table", class_="events")
    row = el(el(table, "thead"), "tr")
    for name in ("Kind", "Target", "Method", "Where", "Start", "End", "Confidence", "State"):
        el(row, "th", name, scope="col")
    body = el(table, "tbody")
    for e in events:
        row = el(body, "tr", class_=f"event {e['kind']}")
        kind = el(row, "th", scope="row")
        el(kind, "a", e["kind"].replace("_", " "), href=_zoom(e), title="zoom in")
        scope = e["scope"]
        asn = f"AS{scope['asn']}" if scope["asn"] is not None else ""
        where = " ".join(x for x in (scope["cc"], asn, scope["network"] or "") if x)
        texts = (
            e["target"] or "all targets",
            e["method"] or "—",
            f"{where} ({scope['probes']} probe{'' if scope['probes'] == 1 else 's'})",
            _clock(e["start"]),
            _clock(e["end"]) if e["end"] else "ongoing",
            f"{e['confidence']:.0%}",
            e["state"],
        )
        for text in texts:
            el(row, "td", text)


def _zoom(event: dict[str, Any]) -> str:
    """This page narrowed to the event's vantage and target, an hour either side of it (an
    ongoing event: up to the next hour, the page's default end)."""
    scope, margin = event["scope"], timedelta(hours=1)
    end = parse_time(event["end"]) + margin if event["end"] else None
    params = {
        "cc": scope["cc"], "asn": scope["asn"], "network": scope["network"],
        "target": event["target"],
        "since": format_time(parse_time(event["start"]) - margin)[:16],
        "until": None if end is None else format_time(end)[:16],
    }  # fmt: skip
    return "?" + urlencode({k: v for k, v in params.items() if v is not None})


def _clock(text: str) -> str:
    return parse_time(text).strftime("%Y-%m-%d %H:%M")


def _colour(availability: float | None) -> str:
    if availability is None:
        return NO_DATA_COLOUR
    if availability >= 1.0:
        return ACCESSIBLE_COLOUR
    if availability >= 0.5:
        return PARTIAL_COLOUR
    return MOSTLY_BLOCKED_COLOUR if availability > 0.0 else BLOCKED_COLOUR


def _chart(main: ET.Element, view: View) -> None:
    query, doc = view.query, view.doc
    section = el(main, "section", id="timeline", aria_labelledby="chart-h")
    el(section, "h2", f"Availability per target, {_where(query)}", id="chart-h")
    rows = doc["series"]
    if not rows:
        el(section, "p", "No verdicts in this range.", class_="hint")
        return
    height = AXIS_H + ROW_H * len(rows) + PAD
    figure = el(section, "figure")
    summary = f"Availability of {len(rows)} targets from {_clock(doc['since'])} to " + _clock(
        doc["until"]
    )
    svg = el(
        figure, "svg", viewBox=f"0 0 {LABEL_W + PLOT_W} {height}",
        aria_label=summary + " UTC; each cell links to its measurements.",
        class_="chart",
    )  # fmt: skip
    span_s = (query.until - query.since).total_seconds()

    def x_of(at: datetime) -> float:
        share = (at - query.since).total_seconds() / span_s
        return round(LABEL_W + max(0.0, min(1.0, share)) * PLOT_W, 2)

    step = timedelta(seconds=query.step_s)
    base = {"cc": query.cc, "asn": query.asn, "network": query.network}
    for index, series in enumerate(rows):
        y = AXIS_H + index * ROW_H
        name = series["target"] + (" (control)" if series["category"] == "control" else "")
        el(svg, "text", name, x=LABEL_W - 8, y=y + ROW_H / 2 + 4, class_="label")
        el(svg, "rect", x=LABEL_W, y=y + 2, width=PLOT_W, height=ROW_H - 4, fill=NO_DATA_COLOUR)
        for point in series["points"]:
            start = parse_time(point["start"])
            lo, hi = max(start, query.since), min(start + step, query.until)
            params = {**base, "target": series["target"], "since": format_time(lo)}
            params |= {"until": format_time(hi), "limit": 100}
            href = "v1/measurements?" + urlencode({k: v for k, v in params.items() if v})
            label = _cell_label(series["target"], lo, hi, point)
            link = el(
                svg, "a", href=href, class_="cell", aria_label=label,
                id=f"cell-{series['target']}-{int(start.timestamp())}",
                data_target=series["target"], data_since=format_time(lo),
            )  # fmt: skip
            x0, x1 = x_of(lo), x_of(hi)
            rect = el(
                link, "rect", x=x0, y=y + 2, width=max(0.5, round(x1 - x0, 2)), height=ROW_H - 4,
                fill=_colour(point["availability"]),
            )  # fmt: skip
            el(rect, "title", label)
    _axis(svg, query, x_of, height)
    _event_marks(svg, doc, [s["target"] for s in rows], x_of)
    _legend(figure, query.step_s)


def _cell_label(target: str, lo: datetime, hi: datetime, point: dict[str, Any]) -> str:
    share = point["availability"]
    verdicts = f"{point['accessible']} accessible, {point['blocked']} blocked"
    extra = f", {point['offline']} offline, {point['inconclusive']} inconclusive"
    percent = "no accessible/blocked verdict" if share is None else f"{share:.0%} available"
    return f"{target}, {lo:%Y-%m-%d %H:%M}–{hi:%H:%M} UTC: {percent} ({verdicts}{extra})"


def _axis(svg: ET.Element, query: TimelineQuery, x_of: Any, height: int) -> None:
    span = (query.until - query.since).total_seconds()
    choices = (3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400)
    tick = next((c for c in choices if span / c <= 12), choices[-1])
    first = -(-int(query.since.timestamp()) // tick) * tick
    layer = el(svg, "g", class_="grid", aria_hidden="true")
    for moment in range(first, int(query.until.timestamp()), tick):
        at = datetime.fromtimestamp(moment, UTC)
        x = x_of(at)
        fmt = "%b %d" if moment % 86400 == 0 else "%H:%M"
        el(layer, "line", x1=x, x2=x, y1=AXIS_H - 6, y2=height - PAD, class_="tick")
        el(layer, "text", at.strftime(fmt), x=x, y=AXIS_H - 10, class_="tick-label")


def _event_marks(svg: ET.Element, doc: dict[str, Any], names: list[str], x_of: Any) -> None:
    """Shutdowns as dark bands across every row; other events outline their target's row."""
    until = parse_time(doc["until"])
    layer = el(svg, "g", class_="events-layer", aria_hidden="true")
    for e in doc["events"]:
        start, end = parse_time(e["start"]), parse_time(e["end"]) if e["end"] else until
        x0, x1 = x_of(start), x_of(min(end, until))
        if x1 <= x0:
            continue
        colour = EVENT_COLOURS.get(e["kind"], "#555555")
        if e["kind"] == EventKind.SHUTDOWN.value or e["target"] not in names:
            top, rows = AXIS_H, len(names)
        else:
            top, rows = AXIS_H + names.index(e["target"]) * ROW_H, 1
        bottom = top + rows * ROW_H
        if e["kind"] == EventKind.SHUTDOWN.value:
            el(layer, "rect", x=x0, y=top, width=x1 - x0, height=bottom - top,
               fill=SHUTDOWN_COLOUR, class_="shutdown")  # fmt: skip
            el(layer, "text", "shutdown", x=(x0 + x1) / 2, y=top + 16, class_="band-label")
        else:
            el(layer, "rect", x=x0, y=top + 1, width=x1 - x0, height=bottom - top - 2,
               fill="none", stroke=colour, class_=f"event-mark {e['kind']}")  # fmt: skip


def _legend(figure: ET.Element, step_s: int) -> None:
    caption = el(figure, "figcaption", class_="legend")
    items = (
        (ACCESSIBLE_COLOUR, "accessible (100%)"),
        (PARTIAL_COLOUR, "50–99%"),
        (MOSTLY_BLOCKED_COLOUR, "1–49%"),
        (BLOCKED_COLOUR, "blocked (0%)"),
        (NO_DATA_COLOUR, "no data"),
        (SHUTDOWN_COLOUR, "shutdown"),
        (EVENT_COLOURS[EventKind.BLOCKING.value], "blocking event (outline)"),
    )
    minutes = step_s // 60
    size = f"{minutes} min" if minutes < 60 else f"{minutes // 60} h"
    el(caption, "span", f"one cell = {size if step_s % 60 == 0 else f'{step_s} s'}", class_="key")
    for colour, text in items:
        item = el(caption, "span", class_="key")
        swatch = el(item, "svg", viewBox="0 0 12 12", width=12, height=12, aria_hidden="true")
        el(swatch, "rect", width=12, height=12, fill=colour, stroke="#888888")
        el(item, "span", text)
