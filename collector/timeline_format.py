"""The timeline document as text: a terminal table (one glyph per bucket) and tidy CSV.

Pure functions of the ``GET /v1/timeline`` document (collector/timeline.py builds it); the
PNG is collector/chart.py's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from probe.model import format_minute, parse_time

TABLE_COLUMNS = 72  # buckets per table line: fits an 80-column terminal next to the names
NAME_WIDTH = 18
CSV_FIELDS = (
    "bucket_start",
    "target",
    "category",
    "accessible",
    "blocked",
    "offline",
    "inconclusive",
    "probes",
    "availability",
)
# One glyph per availability level; ASCII so that any terminal and any pager shows it.
GLYPHS = (("#", "accessible (100%)"), ("+", ">= 50%"), ("-", "> 0%"), ("X", "blocked (0%)"))
NO_DATA_GLYPH = "."
OFFLINE_GLYPH = "o"  # nothing judged, offline verdicts: the vantage was cut off (backfilled)


def bucket_starts(doc: dict[str, Any]) -> list[datetime]:
    """Every bucket start of the document's range, aligned as the stores align them (epoch)."""
    since, until = parse_time(doc["since"]), parse_time(doc["until"])
    step = int(doc["step_s"])
    first = int(since.timestamp()) // step * step
    starts = []
    moment = first
    while moment < until.timestamp():
        starts.append(datetime.fromtimestamp(moment, since.tzinfo))
        moment += step
    return starts


def glyph(availability: float | None, *, offline: int = 0) -> str:
    """The table's glyph for one bucket's availability (None: no accessible/blocked verdict;
    then ``offline`` verdicts make it the offline glyph, never "no data")."""
    if availability is None:
        return OFFLINE_GLYPH if offline else NO_DATA_GLYPH
    if availability >= 1.0:
        return GLYPHS[0][0]
    if availability >= 0.5:
        return GLYPHS[1][0]
    if availability > 0.0:
        return GLYPHS[2][0]
    return GLYPHS[3][0]


def format_table(doc: dict[str, Any]) -> str:
    """One line per target, one glyph per bucket (wrapped every TABLE_COLUMNS), then the events."""
    starts = bucket_starts(doc)
    by_target = {
        s["target"]: {
            parse_time(p["start"]): (p["availability"], int(p.get("offline", 0)))
            for p in s["points"]
        }
        for s in doc["series"]
    }
    step_text = _duration(int(doc["step_s"]))
    span = f"{_short(doc['since'])} to {_short(doc['until'])} UTC"
    out = [f"Availability per target, {doc['cc']}, {span}, step {step_text}"]
    legend = "  ".join(f"{g} {label}" for g, label in GLYPHS)
    out.append(f"legend: {legend}  {OFFLINE_GLYPH} vantage offline  {NO_DATA_GLYPH} no data")
    if not by_target:
        out.append("(no verdicts in this range)")
    for offset in range(0, len(starts) if by_target else 0, TABLE_COLUMNS):
        chunk = starts[offset : offset + TABLE_COLUMNS]
        out.append("")
        out.append(f"{'':{NAME_WIDTH}} {format_minute(chunk[0])} .. {format_minute(chunk[-1])} UTC")
        out.append(f"{'':{NAME_WIDTH}} {_ruler(chunk, int(doc['step_s']))}")
        for name, points in by_target.items():
            cells = "".join(_glyph_of(points.get(at)) for at in chunk)
            out.append(f"{name[:NAME_WIDTH]:{NAME_WIDTH}} {cells}")
    out.append("")
    out.append(f"events ({len(doc['events'])}):")
    if doc["events"]:
        out.append(f"  {'start':20} {'end':20} {'kind':15} {'method':8} {'target':14} where")
    for e in doc["events"]:
        scope = e["scope"]
        where = " ".join(
            x
            for x in (scope["cc"], f"AS{scope['asn']}" if scope["asn"] else "", scope["network"])
            if x
        )
        end = _short(e["end"]) if e["end"] else "ongoing"
        target = e["target"] or "(all)"
        out.append(
            f"  {_short(e['start']):20} {end:20} {e['kind']:15} {e['method'] or '-':8} "
            f"{target:14} {where}"
        )
    return "\n".join(out) + "\n"


def format_csv(doc: dict[str, Any]) -> str:
    """Tidy rows, one per (bucket, target) with data: for pandas, R or a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    rows = [
        {"bucket_start": p["start"], "target": s["target"], "category": s["category"], **p}
        for s in doc["series"]
        for p in s["points"]
    ]
    rows.sort(key=lambda r: (r["bucket_start"], r["target"]))
    for row in rows:
        value = row["availability"]
        row["availability"] = "" if value is None else f"{value:.4f}"
        writer.writerow({k: row[k] for k in CSV_FIELDS})
    return buffer.getvalue()


def _glyph_of(found: tuple[float | None, int] | None) -> str:
    return NO_DATA_GLYPH if found is None else glyph(found[0], offline=found[1])


def _ruler(chunk: Sequence[datetime], step_s: int) -> str:
    """Tick labels (``|10:00``) over the glyph columns, at least seven buckets apart."""
    major = next((m for m in (3600, 6 * 3600, 86400) if m >= 7 * step_s), 7 * 86400)
    pattern = "|%H:%M" if major < 86400 else "|%m-%d"
    ruler = ""
    for column, at in enumerate(chunk):
        label = at.strftime(pattern)
        fits = column + len(label) <= len(chunk)
        if int(at.timestamp()) % major == 0 and column >= len(ruler) and fits:
            ruler = ruler.ljust(column) + label
    return ruler


def _short(text: str) -> str:
    return format_minute(parse_time(text))


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
