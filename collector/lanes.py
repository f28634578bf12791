"""Event bands in lanes that never overlap: the one layout rule the web page's SVG heatmap
(collector/web/charts.py) and the PNG chart (collector/chart.py) share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime


def assign_lanes(spans: Iterable[tuple[datetime, datetime]]) -> list[int]:
    """A lane per (start, end) span, in the order given (callers pass start order): the first
    lane whose last band ended by the span's start, else a new lane below the others."""
    ends: list[datetime] = []
    lanes = []
    for start, end in spans:
        lane = next((i for i, last in enumerate(ends) if last <= start), len(ends))
        if lane < len(ends):
            ends[lane] = end
        else:
            ends.append(end)
        lanes.append(lane)
    return lanes
