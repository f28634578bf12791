"""Matplotlib drawing of collector/chart.py's Timeline (Agg backend, no display).

Imported only when a PNG is drawn, so importing collector.chart costs nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot as plt
from matplotlib.patches import Patch, Rectangle

from collector.chart import (
    BOTTOM_IN,
    DPI,
    GAP_IN,
    LANE_IN,
    LEFT_IN,
    RIGHT_IN,
    ROW_IN,
    STRIP_IN,
    TOP_IN,
    WIDTH_IN,
    Chart,
    Timeline,
)
from collector.palette import EVENT_COLOURS, LOOKS, SIGNAL_COLOURS, CellState
from collector.timeaxis import midnights, ticks

HATCH_INK = {CellState.OFFLINE: "#ffffff"}  # hatching drawn white on the dark offline colour


def draw(timeline: Timeline, path: Path) -> Chart:
    rows = max(len(timeline.rows), 1)
    lanes = max(timeline.lanes(), default=-1) + 1
    plot_in = ROW_IN * rows + LANE_IN * lanes
    height_in = TOP_IN + STRIP_IN + GAP_IN + plot_in + BOTTOM_IN
    fig = plt.figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    try:
        width = (WIDTH_IN - LEFT_IN - RIGHT_IN) / WIDTH_IN
        left = LEFT_IN / WIDTH_IN
        main = fig.add_axes((left, BOTTOM_IN / height_in, width, plot_in / height_in))
        strip_bottom = (BOTTOM_IN + plot_in + GAP_IN) / height_in
        strip = fig.add_axes((left, strip_bottom, width, STRIP_IN / height_in), sharex=main)
        units = lanes * LANE_IN / ROW_IN + len(timeline.rows or [None])
        first = lanes * LANE_IN / ROW_IN
        _rows(main, timeline, first, units)
        _events(main, timeline, first)
        _strip(strip, timeline)
        for ax in (main, strip):
            _time_axis(ax, timeline)
        strip.tick_params(labelbottom=False)
        strip.set_xlabel("")
        fig.suptitle(timeline.title(), x=0.01, ha="left", fontsize=12, fontweight="bold")
        _legend(fig, timeline)
        fig.canvas.draw()
        box, sbox = main.get_window_extent(), strip.get_window_extent()
        w, h = fig.canvas.get_width_height()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=DPI, format="png")
    finally:
        plt.close(fig)
    return Chart(
        path=path,
        width_px=w,
        height_px=h,
        plot_box=(box.x0, h - box.y1, box.x1, h - box.y0),
        since=timeline.since,
        until=timeline.until,
        first_row=first,
        units=units,
        strip_box=(sbox.x0, h - sbox.y1, sbox.x1, h - sbox.y0),
        tick_labels=tuple(t.get_text() for t in main.get_xticklabels()),
    )


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # matplotlib's date epoch: x is days since it


def _x(at: datetime) -> float:
    return (at - EPOCH).total_seconds() / 86400.0


def _rows(ax: Any, timeline: Timeline, first: float, units: float) -> None:
    width = timeline.step_s / 86400.0
    ax.set_ylim(units, 0)
    ax.set_xlim(_x(timeline.since), _x(timeline.until))
    ax.set_facecolor("#ffffff")
    names = []
    for index, row in enumerate(timeline.rows):
        y = first + index
        ax.add_patch(
            Rectangle(
                (_x(timeline.since), y + 0.08),
                _x(timeline.until) - _x(timeline.since),
                0.84,
                facecolor=LOOKS[CellState.NO_DATA].colour,
                linewidth=0,
                zorder=1,
            )
        )
        by_state: dict[CellState, list[tuple[float, float]]] = defaultdict(list)
        for cell in row.cells:
            by_state[cell.state].append((_x(cell.start), width))
        for state, spans in by_state.items():
            look = LOOKS[state]
            ax.broken_barh(
                spans,
                (y + 0.08, 0.84),
                facecolors=look.colour,
                linewidth=0,
                antialiased=False,
                zorder=2,
            )
            if look.hatch:
                ax.broken_barh(
                    spans,
                    (y + 0.08, 0.84),
                    facecolors="none",
                    linewidth=0,
                    hatch=look.hatch,
                    edgecolor=HATCH_INK.get(state, "#000000"),
                    alpha=0.45,
                    zorder=3,
                )
        names.append(row.name + (" (control)" if row.control else ""))
    ax.set_yticks([first + i + 0.5 for i in range(len(names))], names)
    for label, row in zip(ax.get_yticklabels(), timeline.rows, strict=True):
        if row.control:
            label.set_style("italic")
    ax.tick_params(axis="y", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _events(ax: Any, timeline: Timeline, first: float) -> None:
    names = [r.name for r in timeline.rows]
    lane_h = LANE_IN / ROW_IN
    for span, lane in zip(timeline.events, timeline.lanes(), strict=True):
        end = span.end or min(timeline.now or timeline.until, timeline.until)
        lo, hi = max(span.start, timeline.since), min(end, timeline.until)
        if hi <= lo:
            continue
        colour = EVENT_COLOURS.get(span.kind, "#555555")
        x, w = _x(lo), _x(hi) - _x(lo)
        y = lane * lane_h + 0.1 * lane_h
        fill, line = ("none", "--") if span.retracted else (colour, "-")
        band = Rectangle(
            (x, y),
            w,
            lane_h * 0.8,
            facecolor=fill,
            edgecolor=colour,
            linestyle=line,
            linewidth=1.2,
            zorder=5,
        )
        ax.add_patch(band)
        words = span.kind.replace("_", " ") + (f" {span.target}" if span.target else "")
        words += " (retracted)" if span.retracted else "" if span.end else " (ongoing)"
        dark = span.retracted or span.kind in {"blocking", "throttling"}
        ax.text(
            x + w / 2,
            y + lane_h * 0.45,
            words,
            ha="center",
            va="center",
            fontsize=7.5,
            color="#000000" if dark else "#ffffff",
            zorder=6,
            clip_on=True,
        )
        if span.retracted:
            continue
        rows = (names.index(span.target), 1) if span.target in names else (0, len(names))
        ax.add_patch(
            Rectangle(
                (x, first + rows[0]),
                w,
                rows[1],
                facecolor="none",
                edgecolor=colour,
                linestyle=(0, (4, 2)),
                linewidth=1.6,
                zorder=4,
            )
        )


def _strip(ax: Any, timeline: Timeline) -> None:
    """Probes measured and up (lines) and the offline share (area, right axis)."""
    points = timeline.strip
    step = timedelta(seconds=timeline.step_s)
    xs = [_x(p.start + step / 2) for p in points]
    expected = max((p.measured for p in points), default=0)
    ax.axhline(expected, color=SIGNAL_COLOURS["expected"], linestyle=":", linewidth=1.2)
    lines = (  # (counts, signal colour, line style, legend)
        ([p.measured for p in points], "heard", "-", "probes measured"),
        ([p.up for p in points], "up", "--", "probes up (not offline)"),
    )
    for counts, signal, style, label in lines:
        ax.plot(
            xs, counts, color=SIGNAL_COLOURS[signal], linewidth=1.6, linestyle=style, label=label
        )
    ax.set_ylim(0, max(expected, 1) * 1.15)
    ax.set_ylabel("probes", fontsize=8)
    share = ax.twinx()
    share.bar(
        [_x(p.start) for p in points],
        [100 * (p.offline_share or 0) for p in points],
        width=timeline.step_s / 86400.0,
        align="edge",
        color=SIGNAL_COLOURS["offline"],
        alpha=0.35,
        linewidth=0,
    )
    share.set_ylim(0, 100)
    share.set_ylabel("offline %", fontsize=8)
    share.tick_params(labelsize=7)
    ax.tick_params(labelsize=7)
    ax.set_title(
        "signals: probes expected (dotted), measured, up; offline share (grey)",
        fontsize=8,
        loc="left",
    )


def _time_axis(ax: Any, timeline: Timeline) -> None:
    marks = ticks(timeline.since, timeline.until, max_ticks=12)
    ax.set_xticks([_x(t.at) for t in marks], [t.label for t in marks])
    for label, tick in zip(ax.get_xticklabels(), marks, strict=True):
        if tick.midnight:
            label.set_fontweight("bold")
    ax.grid(axis="x", color="#9a9a9a", linewidth=0.5, alpha=0.6)
    for day in midnights(timeline.since, timeline.until):
        ax.axvline(_x(day), color="#111111", linewidth=1.0, alpha=0.7, zorder=7)
    ax.set_xlim(_x(timeline.since), _x(timeline.until))
    ax.set_xlabel("time (UTC)")


def _legend(fig: Any, timeline: Timeline) -> None:
    states = [LOOKS[s] for s in CellState]
    handles = [
        Patch(facecolor=look.colour, edgecolor="#999999", hatch=look.hatch, label=look.label)
        for look in states
    ]
    for kind in sorted({e.kind for e in timeline.events}):
        handles.append(
            Patch(
                facecolor=EVENT_COLOURS.get(kind, "#555555"),
                label=f"{kind.replace('_', ' ')} event",
            )
        )
    fig.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.01, 0.01),
        ncol=4,
        frameon=False,
        fontsize=8.5,
    )
