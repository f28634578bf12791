"""Render an outage timeline as a PNG: one strip per target, events shaded, shutdowns in grey.

Input is plain data (the dataclasses below) so the picture is a pure function of it; matplotlib
is imported inside ``render_timeline`` (Agg backend, no display) so importing this module costs
nothing. The layout follows IODA's and OONI Explorer's timelines: time runs left to right in
UTC, one row per target, colour = share of accessible verdicts (collector/series.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector.records import Event, EventKind
from collector.series import Series

ACCESSIBLE_COLOUR = "#1a9850"  # availability 1.0
PARTIAL_COLOUR = "#fee08b"  # availability 0.5
BLOCKED_COLOUR = "#d73027"  # availability 0.0
NO_DATA_COLOUR = "#f0f0f0"
SHUTDOWN_COLOUR = "#3a3a3a"
EVENT_COLOURS = {
    EventKind.BLOCKING.value: "#7b3294",
    EventKind.THROTTLING.value: "#e66101",
    EventKind.PLATFORM_OUTAGE.value: "#2c7bb6",
    EventKind.SHUTDOWN.value: SHUTDOWN_COLOUR,
}
WIDTH_IN, DPI = 12.0, 100
ROW_IN, CHROME_IN = 0.42, 1.75  # height per target row; title, axis and legend


@dataclass(frozen=True, slots=True)
class TargetRow:
    """One target's availability per bucket: (bucket start, share accessible or None)."""

    name: str
    cells: tuple[tuple[datetime, float | None], ...]


@dataclass(frozen=True, slots=True)
class EventSpan:
    """An anomaly event to shade; ``target`` None spans every row, ``end`` None is ongoing."""

    kind: str
    target: str | None
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Band:
    """A period with the vantage cut off (a shutdown), drawn dark grey across every row."""

    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything one chart shows; times are UTC, ``step_s`` is the bucket width."""

    cc: str
    since: datetime
    until: datetime
    step_s: int
    rows: tuple[TargetRow, ...]
    events: tuple[EventSpan, ...] = ()
    shutdowns: tuple[Band, ...] = ()
    asn: int | None = None
    network: str | None = None

    def title(self) -> str:
        where = " ".join(
            part
            for part in (
                self.cc,
                f"AS{self.asn}" if self.asn is not None else "",
                self.network or "",
            )
            if part
        )
        span = f"{_stamp(self.since)} to {_stamp(self.until)} UTC"
        return f"Availability per target, {where}, {span}"


@dataclass(frozen=True, slots=True)
class Chart:
    """The written PNG and where its plot area lies, so a reader can find a cell's pixel."""

    path: Path
    width_px: int
    height_px: int
    plot_box: tuple[float, float, float, float] = field(repr=False)  # left, top, right, bottom
    since: datetime = field(repr=False)
    until: datetime = field(repr=False)
    row_count: int = field(repr=False)

    def pixel_of(self, at: datetime, row: int) -> tuple[int, int]:
        """Image (x, y) of moment ``at`` in the middle of target row ``row`` (0 = top row)."""
        left, top, right, bottom = self.plot_box
        share = (at - self.since) / (self.until - self.since)
        x = left + share * (right - left)
        y = top + (row + 0.5) / self.row_count * (bottom - top)
        return round(x), round(y)


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
) -> Timeline:
    """Build chart data from availability series and events: shutdown events become bands."""
    rows = tuple(
        TargetRow(s.target, tuple((p.start, p.availability) for p in s.points)) for s in series
    )
    bands = tuple(Band(e.start, e.end) for e in events if e.kind is EventKind.SHUTDOWN)
    spans = tuple(
        EventSpan(e.kind.value, e.target, e.start, e.end)
        for e in events
        if e.kind is not EventKind.SHUTDOWN
    )
    return Timeline(cc, since, until, step_s, rows, spans, bands, asn, network)


def timeline_from_api(
    doc: dict[str, Any], *, asn: int | None = None, network: str | None = None
) -> Timeline:
    """Build chart data from a ``GET /v1/timeline`` answer (collector/queries.py's shape)."""
    rows = tuple(
        TargetRow(
            str(s["target"]),
            tuple((_parse_time(p["start"]), p["availability"]) for p in s["points"]),
        )
        for s in doc["series"]
    )
    kinds = [(e, str(e["kind"])) for e in doc.get("events", [])]
    return Timeline(
        cc=str(doc["cc"]),
        since=_parse_time(doc["since"]),
        until=_parse_time(doc["until"]),
        step_s=int(doc["step_s"]),
        rows=rows,
        events=tuple(
            EventSpan(kind, e["target"], _parse_time(e["start"]), _parse_end(e["end"]))
            for e, kind in kinds
            if kind != EventKind.SHUTDOWN.value
        ),
        shutdowns=tuple(
            Band(_parse_time(e["start"]), _parse_end(e["end"]))
            for e, kind in kinds
            if kind == EventKind.SHUTDOWN.value
        ),
        asn=asn,
        network=network,
    )


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _parse_end(text: str | None) -> datetime | None:
    return None if text is None else _parse_time(text)


def render_timeline(timeline: Timeline, path: Path) -> Chart:
    """Draw ``timeline`` into a PNG at ``path`` and return where things are in it."""
    if timeline.until <= timeline.since:
        raise ValueError("timeline: until must be after since")
    if timeline.step_s <= 0:
        raise ValueError("timeline: step_s must be positive seconds")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates as mdates
    from matplotlib import pyplot as plt

    rows = timeline.rows or (TargetRow("(no data)", ()),)
    fig = plt.figure(figsize=(WIDTH_IN, CHROME_IN + ROW_IN * len(rows)), dpi=DPI)
    try:
        ax = fig.add_axes(_axes_rect(len(rows)))
        _draw(ax, timeline, rows, mdates)
        fig.suptitle(timeline.title(), x=0.01, ha="left", fontsize=12, fontweight="bold")
        _legend(fig, timeline)
        fig.canvas.draw()
        box = ax.get_window_extent()
        width, height = fig.canvas.get_width_height()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=DPI, format="png")
    finally:
        plt.close(fig)
    return Chart(
        path=path,
        width_px=width,
        height_px=height,
        plot_box=(box.x0, height - box.y1, box.x1, height - box.y0),
        since=timeline.since,
        until=timeline.until,
        row_count=len(rows),
    )


def _axes_rect(row_count: int) -> tuple[float, float, float, float]:
    """Fixed margins in inches (label column left, title above, axis and legend below)."""
    height = CHROME_IN + ROW_IN * row_count
    left, right, top, bottom = 1.6, 0.3, 0.55, 1.2
    return (
        left / WIDTH_IN,
        bottom / height,
        (WIDTH_IN - left - right) / WIDTH_IN,
        (height - top - bottom) / height,
    )


def _draw(ax: Any, timeline: Timeline, rows: Sequence[TargetRow], mdates: Any) -> None:
    from matplotlib.colors import LinearSegmentedColormap

    cmap = LinearSegmentedColormap.from_list(
        "availability", [BLOCKED_COLOUR, PARTIAL_COLOUR, ACCESSIBLE_COLOUR]
    )
    x0, x1 = mdates.date2num(timeline.since), mdates.date2num(timeline.until)
    width = timeline.step_s / 86400.0
    count = len(rows)
    ax.set_xlim(x0, x1)
    ax.set_ylim(count, 0)
    ax.set_facecolor(NO_DATA_COLOUR)
    for index, row in enumerate(rows):
        cells = [(mdates.date2num(at), value) for at, value in row.cells if value is not None]
        if cells:
            ax.broken_barh(
                [(x, width) for x, _ in cells],
                (index + 0.08, 0.84),
                facecolors=[cmap(min(1.0, max(0.0, v))) for _, v in cells],
                linewidth=0,
                antialiased=False,
            )
    for span in timeline.events:
        colour = EVENT_COLOURS.get(span.kind, "#555555")
        clipped = _clip(span.start, span.end, timeline)
        if clipped is None:
            continue
        start, end = clipped
        names = [r.name for r in rows]
        if span.target is not None and span.target in names:
            top, height = names.index(span.target), 1.0
        else:
            top, height = 0, float(count)
        ax.add_patch(_rect(mdates, start, end, top, height, colour, hatch=True))
    for band in timeline.shutdowns:
        clipped = _clip(band.start, band.end, timeline)
        if clipped is not None:
            ax.add_patch(_rect(mdates, *clipped, 0, float(count), SHUTDOWN_COLOUR, hatch=False))
            middle = clipped[0] + (clipped[1] - clipped[0]) / 2
            ax.text(
                mdates.date2num(middle), 0.04, "shutdown", color="white", ha="center",
                va="top", fontsize=8, zorder=5, clip_on=True,
            )  # fmt: skip
    ax.set_yticks([i + 0.5 for i in range(count)], [r.name for r in rows])
    ax.tick_params(axis="y", length=0)
    locator = mdates.AutoDateLocator(tz=UTC, minticks=6, maxticks=14)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlabel("time (UTC)")
    ax.grid(axis="x", color="white", linewidth=0.6, alpha=0.7)
    ax.set_axisbelow(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _rect(
    mdates: Any,
    start: datetime,
    end: datetime,
    top: float,
    height: float,
    colour: str,
    *,
    hatch: bool,
) -> Any:
    from matplotlib.patches import Rectangle

    x = mdates.date2num(start)
    w = mdates.date2num(end) - x
    if hatch:
        return Rectangle(
            (x, top), w, height, facecolor="none", edgecolor=colour, hatch="///",
            linewidth=1.4, zorder=3,
        )  # fmt: skip
    return Rectangle((x, top), w, height, facecolor=colour, linewidth=0, zorder=4)


def _clip(
    start: datetime, end: datetime | None, timeline: Timeline
) -> tuple[datetime, datetime] | None:
    """Clip a span to the chart; an ongoing span (no end) runs to the chart's right edge."""
    lo = max(start, timeline.since)
    hi = min(end or timeline.until, timeline.until)
    return (lo, hi) if hi > lo else None


def _legend(fig: Any, timeline: Timeline) -> None:
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=ACCESSIBLE_COLOUR, label="accessible (100%)"),
        Patch(facecolor=PARTIAL_COLOUR, label="partly blocked (50%)"),
        Patch(facecolor=BLOCKED_COLOUR, label="blocked (0%)"),
        Patch(facecolor=NO_DATA_COLOUR, edgecolor="#999999", label="no data"),
        Patch(facecolor=SHUTDOWN_COLOUR, label="shutdown"),
    ]
    for kind in sorted({e.kind for e in timeline.events}):
        colour = EVENT_COLOURS.get(kind, "#555555")
        label = f"{kind.replace('_', ' ')} event"
        handles.append(Patch(facecolor="none", edgecolor=colour, hatch="///", label=label))
    fig.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.01, 0.01),
        ncol=len(handles),
        frameon=False,
        fontsize=9,
    )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


__all__ = [
    "Band",
    "Chart",
    "EventSpan",
    "TargetRow",
    "Timeline",
    "render_timeline",
    "timeline_from_api",
    "timeline_from_series",
]
