"""An outage timeline as a PNG: a signals strip over one row per target, events in lanes above.

Input is plain data (the dataclasses below), so the picture is a pure function of it; the
drawing lives in collector/chart_render.py, which imports matplotlib only when called. The
layout follows the web page's (collector/web/charts.py): time runs left to right in UTC with
24-hour labels (collector/timeaxis.py), cells take the colour-blind-safe states of
collector/palette.py (offline vantages drawn as their own state, hatching as a second cue),
and ongoing events end at "now", not at the chart's edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from collector.availability import Series
from collector.lanes import assign_lanes
from collector.palette import LOOKS, CellState, cell_state
from collector.records import Event
from collector.signals import up_and_share
from probe.model import format_minute, parse_time

ACCESSIBLE_COLOUR = LOOKS[CellState.ACCESSIBLE].colour
BLOCKED_COLOUR = LOOKS[CellState.BLOCKED].colour
OFFLINE_COLOUR = LOOKS[CellState.OFFLINE].colour
NO_DATA_COLOUR = LOOKS[CellState.NO_DATA].colour
WIDTH_IN, DPI = 12.0, 100
ROW_IN, LANE_IN, STRIP_IN = 0.38, 0.24, 1.1
TOP_IN, GAP_IN, BOTTOM_IN, LEFT_IN, RIGHT_IN = 0.6, 0.45, 1.25, 1.8, 0.5


@dataclass(frozen=True, slots=True)
class Cell:
    """One bucket of one target: its state and share of accessible verdicts (None: unjudged)."""

    start: datetime
    state: CellState
    availability: float | None = None


@dataclass(frozen=True, slots=True)
class TargetRow:
    name: str
    cells: tuple[Cell, ...]
    control: bool = False


@dataclass(frozen=True, slots=True)
class StripPoint:
    """The signals of one bucket: probes that measured, of them not offline, offline share."""

    start: datetime
    measured: int
    up: int
    offline_share: float | None


@dataclass(frozen=True, slots=True)
class EventSpan:
    """An anomaly event; ``target`` None spans every row, ``end`` None is ongoing."""

    kind: str
    target: str | None
    start: datetime
    end: datetime | None
    retracted: bool = False


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything one chart shows; times are UTC, ``step_s`` is the bucket width, ``now`` is
    where an ongoing event's band stops (None: the chart's end)."""

    cc: str
    since: datetime
    until: datetime
    step_s: int
    rows: tuple[TargetRow, ...]
    events: tuple[EventSpan, ...] = ()
    strip: tuple[StripPoint, ...] = ()
    asn: int | None = None
    network: str | None = None
    now: datetime | None = None

    def title(self) -> str:
        asn = f"AS{self.asn}" if self.asn is not None else ""
        where = " ".join(p for p in (self.cc, asn, self.network or "every network") if p)
        span = f"{format_minute(self.since)} to {format_minute(self.until)} UTC"
        return f"Availability per target, {where}, {span}"

    def lanes(self) -> list[int]:
        """A lane per event so that bands never overlap (greedy, in start order); an ongoing
        event ends at "now", or at the chart's edge when no "now" is given."""
        return assign_lanes((e.start, e.end or self.now or self.until) for e in self.events)


@dataclass(frozen=True, slots=True)
class Chart:
    """The written PNG and where its rows lie, so a reader can find a cell's pixel."""

    path: Path
    width_px: int
    height_px: int
    plot_box: tuple[float, float, float, float] = field(repr=False)  # left, top, right, bottom
    since: datetime = field(repr=False)
    until: datetime = field(repr=False)
    first_row: float = field(repr=False)  # the plot's y units above row 0: the event lanes
    units: float = field(repr=False)  # the plot's height in rows
    strip_box: tuple[float, float, float, float] = field(repr=False, default=(0, 0, 0, 0))
    tick_labels: tuple[str, ...] = field(repr=False, default=())  # the time axis, left to right

    def lane_pixel(self, at: datetime, lane: int) -> tuple[int, int]:
        """Image (x, y) of moment ``at`` in the middle of event lane ``lane``."""
        left, top, right, bottom = self.plot_box
        x = left + (at - self.since) / (self.until - self.since) * (right - left)
        lane_rows = LANE_IN / ROW_IN
        y = top + (lane + 0.5) * lane_rows / self.units * (bottom - top)
        return round(x), round(y)

    def pixel_of(self, at: datetime, row: int) -> tuple[int, int]:
        """Image (x, y) of moment ``at`` in the middle of target row ``row`` (0 = top row)."""
        left, top, right, bottom = self.plot_box
        share = (at - self.since) / (self.until - self.since)
        x = left + share * (right - left)
        y = top + (self.first_row + row + 0.5) / self.units * (bottom - top)
        return round(x), round(y)


def _cells(points: Sequence[Any]) -> tuple[Cell, ...]:
    return tuple(
        Cell(
            p.start,
            cell_state(
                accessible=p.accessible,
                blocked=p.blocked,
                offline=p.offline,
                inconclusive=p.inconclusive,
            ),
            p.availability,
        )
        for p in points
    )


def timeline_from_series(
    series: Sequence[Series],
    events: Sequence[Event],
    *,
    cc: str,
    since: datetime,
    until: datetime,
    step_s: int,
    asn: int | None = None,
    network: str | None = None,
    now: datetime | None = None,
) -> Timeline:
    """Chart data from availability series (collector/availability.py) and events."""
    ordered = sorted(series, key=lambda s: (s.category == "control", s.target))  # controls last
    rows = tuple(TargetRow(s.target, _cells(s.points), s.category == "control") for s in ordered)
    spans = tuple(
        EventSpan(e.kind.value, e.target, e.start, e.end, bool(e.evidence.get("retracted")))
        for e in sorted(events, key=lambda e: (e.start, e.id))
    )
    strip = strip_of(
        [
            (p.start, p.probes, p.offline, p.accessible + p.blocked + p.offline + p.inconclusive)
            for s in series
            for p in s.points
        ]
    )
    return Timeline(cc, since, until, step_s, rows, spans, strip, asn, network, now)


def timeline_from_api(
    doc: dict[str, Any],
    *,
    asn: int | None = None,
    network: str | None = None,
    now: datetime | None = None,
) -> Timeline:
    """Chart data from a ``GET /v1/timeline`` answer (the same as from the records)."""
    series = [
        Series(
            str(s["target"]),
            str(s["category"]),
            [_point(p) for p in s["points"]],
        )
        for s in doc["series"]
    ]
    from collector.store.codec import event_from_dict

    events = [event_from_dict(_full_event(e)) for e in doc.get("events", [])]
    return timeline_from_series(
        series,
        events,
        cc=str(doc["cc"]),
        since=parse_time(doc["since"]),
        until=parse_time(doc["until"]),
        step_s=int(doc["step_s"]),
        asn=asn,
        network=network,
        now=now,
    )


def _point(p: dict[str, Any]) -> Any:
    from collector.availability import Point

    return Point(
        parse_time(p["start"]),
        int(p.get("accessible", 0)),
        int(p.get("blocked", 0)),
        int(p.get("offline", 0)),
        int(p.get("inconclusive", 0)),
        int(p.get("probes", 0)),
    )


def _full_event(e: dict[str, Any]) -> dict[str, Any]:
    """An event of the document with defaults for what a trimmed document may leave out."""
    scope = {"cc": "", "asn": None, "network": None, "probes": 0} | e.get("scope", {})
    defaults: dict[str, Any] = {
        "method": None,
        "confidence": 0.0,
        "state": "open",
        "evidence": {},
        "updated_at": None,
    }
    return defaults | e | {"scope": scope}


def strip_of(points: Sequence[tuple[datetime, int, int, int]]) -> tuple[StripPoint, ...]:
    """Per bucket, from (start, probes, offline, verdicts) of every target: probes measured
    (the most of any target), up (not offline) and the offline share."""
    acc: dict[datetime, list[int]] = {}
    for start, probes, offline, total in points:
        slot = acc.setdefault(start, [0, 0, 0])
        slot[0] = max(slot[0], probes)
        slot[1] += offline
        slot[2] += total
    out = []
    for start, (probes, offline, total) in sorted(acc.items()):
        up, share = up_and_share(probes, offline, total)
        out.append(StripPoint(start, probes, up, share))
    return tuple(out)


def render_timeline(timeline: Timeline, path: Path) -> Chart:
    """Draw ``timeline`` into a PNG at ``path`` and return where things are in it."""
    if timeline.until <= timeline.since:
        raise ValueError("timeline: until must be after since")
    if timeline.step_s <= 0:
        raise ValueError("timeline: step_s must be positive seconds")
    from collector.chart_render import draw

    return draw(timeline, path)


__all__ = [
    "Cell",
    "Chart",
    "EventSpan",
    "StripPoint",
    "TargetRow",
    "Timeline",
    "render_timeline",
    "strip_of",
    "timeline_from_api",
    "timeline_from_series",
]
