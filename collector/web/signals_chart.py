"""The signals strips (probes expected, heard, up; offline share) as server-drawn SVG, and the
data static/web.js hands to uPlot to make them interactive (zoom by dragging, counts on hover)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.palette import SIGNAL_COLOURS
from collector.signals import Signals
from collector.web.charts import AXIS_H, LABEL_W, PAD, PLOT_W, axis, canvas, x_scale
from collector.web.html import el

SIGNAL_H = 96


def signals_chart(
    parent: ET.Element, group: Signals, *, since: datetime, until: datetime, step_s: int
) -> None:
    """One group's probes expected / heard / up and offline share, as lines over the range."""
    figure = el(parent, "figure", class_="signals", id=f"signals-{group.key}", data_key=group.key)
    el(figure, "figcaption", f"{group.label}: probes expected {group.expected}", class_="title")
    height = AXIS_H + SIGNAL_H + PAD
    svg = canvas(figure, height, f"Signals of {group.label}")
    x_of = x_scale(since, until)
    peak = max(group.expected, 1)
    base = AXIS_H + SIGNAL_H

    def y_of(count: float) -> float:
        return round(base - count / peak * (SIGNAL_H - 6), 2)

    step = timedelta(seconds=step_s)
    area = ["M"]
    for p in group.points:
        share = p.offline_share or 0.0
        lo, hi = x_of(max(p.start, since)), x_of(min(p.start + step, until))
        area.append(f"{lo},{base} {lo},{y_of(share * peak)} {hi},{y_of(share * peak)} {hi},{base}")
    if len(area) > 1:
        el(
            svg,
            "path",
            d=" ".join(area) + " Z",
            fill=SIGNAL_COLOURS["offline"],
            class_="offline-area",
        )
    el(
        svg,
        "line",
        x1=LABEL_W,
        x2=LABEL_W + PLOT_W,
        y1=y_of(group.expected),
        y2=y_of(group.expected),
        stroke=SIGNAL_COLOURS["expected"],
        class_="expected",
    )
    for name, value in (("heard", "heard"), ("up", "up")):
        points = " ".join(
            f"{x_of(p.start + step / 2)},{y_of(getattr(p, value))}" for p in group.points
        )
        el(
            svg,
            "polyline",
            points=points,
            fill="none",
            stroke=SIGNAL_COLOURS[name],
            class_=f"line {name}",
        )
    for p in group.points:
        lo, hi = x_of(max(p.start, since)), x_of(min(p.start + step, until))
        offline = "no verdict" if p.offline_share is None else f"{p.offline_share:.0%} offline"
        text = (
            f"{p.start:%Y-%m-%d %H:%M} UTC: {p.heard} heard, {p.measured} measured, "
            f"{p.up} up, {offline}"
        )
        hover = el(
            svg,
            "rect",
            x=lo,
            y=AXIS_H,
            width=max(0.5, round(hi - lo, 2)),
            height=SIGNAL_H,
            class_="hover",
        )
        el(hover, "title", text)
    for count in (peak, 0):
        el(svg, "text", str(count), x=LABEL_W - 8, y=y_of(count) + 4, class_="label")
    axis(svg, since, until, x_of, base)
    key = el(figure, "p", class_="signal-key")
    for name, words in (
        ("expected", "expected (most probes in the range)"),
        ("heard", "heard (heartbeats)"),
        ("up", "up (verdicts not offline)"),
        ("offline", "offline share (area, 0–100%)"),
    ):
        item = el(key, "span", class_=f"key signal-{name}")
        el(item, "span", "", class_="swatch-line")
        el(item, "span", words)


def signals_json(group: Signals) -> dict[str, Any]:
    """The data web.js hands to uPlot: seconds since the epoch and one list per line."""
    return {
        "label": group.label,
        "expected": group.expected,
        "t": [int(p.start.astimezone(UTC).timestamp()) for p in group.points],
        "heard": [p.heard for p in group.points],
        "measured": [p.measured for p in group.points],
        "up": [p.up for p in group.points],
        "offline": [
            None if p.offline_share is None else round(p.offline_share, 4) for p in group.points
        ],
    }
