"""The availability heatmap as server-drawn SVG, and the time axis every page chart shares.

Drawn on the server so that it shows without JavaScript. Cells keep their state in
``data-state`` and a second cue (SVG hatching) beside the colour; time labels come from
collector/timeaxis.py; the signals strips are in collector/web/signals_chart.py.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode

from collector.lanes import assign_lanes
from collector.palette import EVENT_COLOURS, LOOKS, CellState, cell_state
from collector.timeaxis import midnights, ticks
from collector.web.html import clock, el, event_title, status_words
from collector.web.views import RowGroup
from probe.model import format_time, parse_time

LABEL_W, PLOT_W, AXIS_H, ROW_H, LANE_H, PAD = 190, 1000, 30, 24, 20, 8
XOf = Callable[[datetime], float]
PATTERNS = {  # state -> (pattern id, the path drawn in a 6x6 tile)
    CellState.MOSTLY_ACCESSIBLE: ("hatch-light", "M0,6 L6,0"),
    CellState.MOSTLY_BLOCKED: ("hatch", "M0,6 L6,0 M-1,1 L1,-1 M5,7 L7,5"),
    CellState.BLOCKED: ("cross", "M0,6 L6,0 M0,0 L6,6"),
    CellState.OFFLINE: ("dots", "M2,2 h1 v1 h-1 Z M5,5 h1 v1 h-1 Z"),
}


def x_scale(since: datetime, until: datetime) -> XOf:
    span = (until - since).total_seconds()

    def x_of(at: datetime) -> float:
        share = (at - since).total_seconds() / span
        return round(LABEL_W + max(0.0, min(1.0, share)) * PLOT_W, 2)

    return x_of


def canvas(figure: ET.Element, height: float, label: str) -> ET.Element:
    """A chart's ``<svg>``: the label column and the plot, ``height`` high, named for readers."""
    view_box = f"0 0 {LABEL_W + PLOT_W} {height}"
    return el(figure, "svg", viewBox=view_box, class_="chart", role="img", aria_label=label)


def _defs(svg: ET.Element) -> None:
    """Per hatched state a pattern of the hatching alone (``dots`` also marks partly offline
    cells) and one with the state's colour under it (``fill-blocked``), so a cell is one rect."""
    defs = el(svg, "defs")
    for state, (name, path) in PATTERNS.items():
        ink = "#ffffff" if state is CellState.OFFLINE else "#000000"
        for pattern_id, colour in ((name, None), (f"fill-{name}", LOOKS[state].colour)):
            pattern = el(
                defs, "pattern", id=pattern_id, width=6, height=6, patternUnits="userSpaceOnUse"
            )
            if colour is not None:
                el(pattern, "rect", width=6, height=6, fill=colour)
            el(pattern, "path", d=path, stroke=ink, stroke_width=1, stroke_opacity=0.55)


def axis(svg: ET.Element, since: datetime, until: datetime, x_of: XOf, bottom: float) -> None:
    """Tick labels along the top, lines down to ``bottom``; midnights drawn darker."""
    layer = el(svg, "g", class_="grid", aria_hidden="true")
    for day in midnights(since, until):
        el(layer, "line", x1=x_of(day), x2=x_of(day), y1=AXIS_H - 8, y2=bottom, class_="day")
    for tick in ticks(since, until):
        x = x_of(tick.at)
        el(layer, "line", x1=x, x2=x, y1=AXIS_H - 6, y2=bottom, class_="tick")
        css = "tick-label day-label" if tick.midnight else "tick-label"
        if x - LABEL_W < 18:
            css += " first"
        elif LABEL_W + PLOT_W - x < 18:
            css += " last"
        el(layer, "text", tick.label, x=x, y=AXIS_H - 11, class_=css)
    el(layer, "text", "UTC", x=LABEL_W - 30, y=AXIS_H - 11, class_="axis-unit")


def _lanes(events: Sequence[dict[str, Any]], now: datetime) -> list[int]:
    """A lane per event so that bands never overlap (greedy, in start order; ongoing: to now)."""
    return assign_lanes(
        (parse_time(e["start"]), parse_time(e["end"]) if e["end"] else now) for e in events
    )


GROUP_H = 20


def heatmap(
    parent: ET.Element,
    doc: dict[str, Any],
    groups: Sequence[RowGroup],
    *,
    now: datetime,
    root: str,
    vantage: dict[str, Any],
) -> dict[str, str]:
    """Availability per target (platforms first, controls after), one block of rows per
    network, under lanes of event bands. Returns the cells' markup by the marker (an XML
    comment) it replaces: pass it to ``serialise``."""
    since, until = parse_time(doc["since"]), parse_time(doc["until"])
    events = sorted(doc["events"], key=lambda e: (e["start"], e["id"]))
    lanes = _lanes(events, now)
    top = AXIS_H + (max(lanes, default=-1) + 1) * LANE_H
    titled = len(groups) > 1
    layout = []  # (group, its first row's y, its rows in order)
    y = top
    for group in groups:
        rows = sorted(group.series, key=lambda s: (s["category"] == "control", s["target"]))
        y += GROUP_H if titled else 0
        layout.append((group, y, rows))
        y += ROW_H * len(rows)
    count = sum(len(rows) for _, _, rows in layout)
    height = max(y, top + ROW_H) + PAD
    figure = el(parent, "figure", class_="heatmap")
    summary = f"Availability of {count} rows, {clock(since)} to {clock(until)} UTC"
    svg = canvas(figure, height, summary)
    _defs(svg)
    x_of = x_scale(since, until)
    step = timedelta(seconds=int(doc["step_s"]))
    if not count:
        el(svg, "text", "No verdicts in this range.", x=LABEL_W + 8, y=top + 16, class_="label")
    columns: dict[str, Column] = {}
    cells: list[str] = []
    for group, first, rows in layout:
        if titled:
            el(svg, "text", f"{group.network} network", x=8, y=first - 6, class_="group-label")
        where = {**vantage, "network": group.network or vantage.get("network")}
        prefix = f"{group.network}-" if titled else ""
        for index, series in enumerate(rows):
            row_y = first + index * ROW_H
            control = series["category"] == "control"
            name = series["target"] + (" (control)" if control else "")
            el(
                svg,
                "text",
                name,
                x=LABEL_W - 8,
                y=row_y + ROW_H / 2 + 4,
                class_="label control" if control else "label",
            )
            el(
                svg,
                "rect",
                x=LABEL_W,
                y=row_y + 2,
                width=PLOT_W,
                height=ROW_H - 4,
                fill=LOOKS[CellState.NO_DATA].colour,
                class_="row-bg",
            )
            params = {k: v for k, v in {**where, "target": series["target"]}.items() if v}
            row = Row(
                series["target"],
                prefix,
                f"{root}v1/measurements?{urlencode(params)}&",
                str(row_y + 2),
            )
            for point in series["points"]:
                column = columns.get(point["start"])
                if column is None:
                    column = columns[point["start"]] = _column(
                        point["start"], since, until, step, x_of
                    )
                cells.append(_cell(row, column, point))
    marker = f"cells-{uuid.uuid4().hex}"
    svg.append(ET.Comment(marker))
    raw = {marker: "".join(cells)}
    for event, lane in zip(events, lanes, strict=True):
        _band(svg, event, lane, now=now, until=until, x_of=x_of, root=root)
        for group, first, rows in layout:
            if event["scope"]["network"] in (None, group.network) or group.network is None:
                names = [s["target"] for s in rows]
                _shade(svg, event, names, first, now, until, x_of)
    axis(svg, since, until, x_of, height - PAD)
    legend(figure, int(doc["step_s"]))
    return raw


@dataclass(frozen=True, slots=True)
class Row:
    target: str
    prefix: str  # the network's name and "-" when the rows are grouped by network
    href: str  # the drill-down's query up to the range
    y: str

    @property
    def escaped_target(self) -> str:
        return escape(self.target)

    @property
    def escaped_id(self) -> str:
        return escape(f"{self.prefix}{self.target}")


@dataclass(frozen=True, slots=True)
class Column:
    """What every cell of one bucket shares, computed once per page (a page has thousands)."""

    lo: datetime
    x: str
    width: str
    query: str  # since, until and limit for the drill-down
    stamp: int
    words: str  # ``2022-01-05 09:00–09:15 UTC``


def _column(
    start_text: str, since: datetime, until: datetime, step: timedelta, x_of: XOf
) -> Column:
    start = parse_time(start_text)
    lo, hi = max(start, since), min(start + step, until)
    x0, x1 = x_of(lo), x_of(hi)
    query = urlencode({"since": format_time(lo), "until": format_time(hi), "limit": 100})
    words = f"{lo:%Y-%m-%d %H:%M}–{hi:%H:%M} UTC"
    return Column(lo, str(x0), str(max(0.5, round(x1 - x0, 2))), query, int(lo.timestamp()), words)


CELL_H = str(ROW_H - 4)


def _cell(row: Row, column: Column, point: dict[str, Any]) -> str:
    """One bucket of one row as markup: a link to its measurements, its colour (with the
    hatching in its pattern), its counts. Built as text, every value escaped, because a page
    holds thousands of cells and ElementTree's serialiser is the page's slowest part."""
    state = cell_state(
        accessible=point["accessible"],
        blocked=point["blocked"],
        offline=point["offline"],
        inconclusive=point["inconclusive"],
    )
    label = _label(row.target, column.words, point)
    if row.prefix:
        label = f"{row.prefix[:-1]}: {label}"
    fill = f"url(#fill-{PATTERNS[state][0]})" if state in PATTERNS else LOOKS[state].colour
    box = f'x="{column.x}" y="{row.y}" width="{column.width}" height="{CELL_H}"'
    dots = ""
    if point["offline"] and state is not CellState.OFFLINE:  # partly offline: dots on top
        dots = f'<rect {box} fill="url(#dots)" class="cue part-offline"></rect>'
    return (
        f'<a href="{escape(row.href + column.query)}" class="cell" aria-label="{escape(label)}" '
        f'id="cell-{row.escaped_id}-{column.stamp}" data-target="{row.escaped_target}" '
        f'data-state="{state.value}"><rect {box} fill="{fill}" class="fill"></rect>{dots}</a>'
    )


def _label(target: str, words: str, point: dict[str, Any]) -> str:
    share = point["availability"]
    percent = "no accessible/blocked verdict" if share is None else f"{share:.0%} available"
    counts = (
        f"{point['accessible']} accessible, {point['blocked']} blocked, "
        f"{point['offline']} offline, {point['inconclusive']} inconclusive"
    )
    return f"{target}, {words}: {percent} ({counts})"


def cell_label(target: str, lo: datetime, hi: datetime, point: dict[str, Any]) -> str:
    """A cell's words: target, bucket, availability and the verdict counts."""
    return _label(target, f"{lo:%Y-%m-%d %H:%M}–{hi:%H:%M} UTC", point)


def _band(
    svg: ET.Element,
    e: dict[str, Any],
    lane: int,
    *,
    now: datetime,
    until: datetime,
    x_of: XOf,
    root: str,
) -> None:
    """The event's band in its lane: to "now" while ongoing, dashed when retracted."""
    start = parse_time(e["start"])
    end = parse_time(e["end"]) if e["end"] else min(now, until)
    x0, x1 = x_of(start), x_of(end)
    if x1 <= x0:
        x1 = x0 + 1
    y = AXIS_H + lane * LANE_H + 2
    retracted = bool(e.get("evidence", {}).get("retracted"))
    css = " ".join(
        [
            "band",
            e["kind"],
            *(["retracted"] if retracted else []),
            *(["ongoing"] if not e["end"] else []),
        ]
    )
    title = f"{event_title(e)}: {clock(e['start'])} to {clock(e['end']) if e['end'] else 'now'}"
    title += f" UTC, {status_words(e)}, confidence {e['confidence']:.0%}"
    link = el(svg, "a", href=f"{root}event/{e['id']}", class_="band-link", aria_label=title)
    colour = EVENT_COLOURS.get(e["kind"], "#555555")
    rect = el(
        link,
        "rect",
        x=x0,
        y=y,
        width=round(x1 - x0, 2),
        height=LANE_H - 4,
        fill="none" if retracted else colour,
        stroke=colour,
        class_=css,
    )
    el(rect, "title", title)
    words = e["kind"].replace("_", " ") + (f" {e['target']}" if e["target"] else "")
    words += " (retracted)" if retracted else "" if e["end"] else " (ongoing)"
    if x1 - x0 > 7 * len(words):
        el(
            link,
            "text",
            words,
            x=x0 + 4,
            y=y + LANE_H - 8,
            class_="band-label dark" if retracted else "band-label",
        )


def _shade(
    svg: ET.Element,
    e: dict[str, Any],
    names: list[str],
    top: float,
    now: datetime,
    until: datetime,
    x_of: XOf,
) -> None:
    """An outline over the rows the event concerns (its target's, or all for a shutdown)."""
    if e.get("evidence", {}).get("retracted") or not names:
        return
    start = parse_time(e["start"])
    end = parse_time(e["end"]) if e["end"] else min(now, until)
    x0, x1 = x_of(start), x_of(end)
    if x1 <= x0:
        return
    first, count = (names.index(e["target"]), 1) if e["target"] in names else (0, len(names))
    el(
        svg,
        "rect",
        x=x0,
        y=top + first * ROW_H + 1,
        width=round(x1 - x0, 2),
        height=count * ROW_H - 2,
        class_=f"shade {e['kind']}",
        stroke=EVENT_COLOURS.get(e["kind"], "#555555"),
        aria_hidden="true",
    )


def legend(figure: ET.Element, step_s: int) -> None:
    caption = el(figure, "figcaption", class_="legend")
    el(caption, "span", f"one cell = {_size(step_s)}", class_="key")
    for state, look in LOOKS.items():
        item = el(caption, "span", class_="key", data_state=state.value)
        swatch = el(item, "svg", viewBox="0 0 14 14", width=14, height=14, aria_hidden="true")
        fill = f"url(#fill-{PATTERNS[state][0]})" if state in PATTERNS else look.colour
        el(swatch, "rect", width=14, height=14, fill=fill, class_="swatch")
        el(item, "span", look.label)
    for kind, colour in EVENT_COLOURS.items():
        item = el(caption, "span", class_="key")
        swatch = el(item, "svg", viewBox="0 0 14 14", width=14, height=14, aria_hidden="true")
        el(swatch, "rect", width=14, height=8, y=3, fill=colour)
        el(item, "span", f"{kind.replace('_', ' ')} event")


def _size(step_s: int) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if step_s % size == 0:
            return f"{step_s // size} {unit}"
    return f"{step_s} s"
