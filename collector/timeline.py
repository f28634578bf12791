"""``tyndau timeline``: availability per target over time, with the events, for researchers.

The data is the document ``GET /v1/timeline`` answers (collector/queries.py), read either from a
store directly or from a collector's API, then printed as a terminal table, tidy CSV, JSON or a
PNG chart (collector/chart.py). Availability is accessible / (accessible + blocked) per bucket,
as collector/series.py defines it.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collector.records import Event, VerdictBucket
from collector.series import (
    availability_json,
    availability_series,
    event_concerns,
    parse_step,
)
from collector.store.codec import event_to_dict
from probe.cli import CommandError
from probe.model import format_time, parse_time

if TYPE_CHECKING:
    from collector.store import Store

MAX_BUCKETS = 5_000  # the API's limit (collector/queries.py), so both paths accept the same input
API_TIMEOUT_S = 30.0
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


class TimelineInputError(ValueError):
    """A timeline parameter is wrong; ``name`` is the flag or query field to fix."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"{name}: {problem}")


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    """What to show: one country, optionally one ASN / network / target, a range and a step."""

    cc: str
    since: datetime
    until: datetime
    step_s: int
    asn: int | None = None
    network: str | None = None
    target: str | None = None

    def api_params(self) -> dict[str, str]:
        """The query string of ``GET /v1/timeline`` asking for the same data."""
        params = {
            "cc": self.cc,
            "since": format_time(self.since),
            "until": format_time(self.until),
            "step": f"{self.step_s}s",
        }
        optional = {"asn": self.asn, "network": self.network, "target": self.target}
        params.update({k: str(v) for k, v in optional.items() if v is not None})
        return params


def parse_query(
    *,
    cc: str,
    since: str,
    until: str,
    step: str,
    asn: int | None = None,
    network: str | None = None,
    target: str | None = None,
    prefix: str = "--",
) -> TimelineQuery:
    """Check and convert user input; TimelineInputError names the flag (``prefix`` + name)."""
    code = cc.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise TimelineInputError(f"{prefix}cc", f"{cc!r} is not a country code; use e.g. KZ")
    start = _parse_moment(since, f"{prefix}since")
    end = _parse_moment(until, f"{prefix}until")
    if end <= start:
        raise TimelineInputError(f"{prefix}until", f"must be after {prefix}since")
    try:
        step_s = parse_step(step)
    except ValueError as exc:
        raise TimelineInputError(f"{prefix}step", str(exc)) from None
    if (end - start).total_seconds() / step_s > MAX_BUCKETS:
        raise TimelineInputError(
            f"{prefix}step", f"{step!r} makes more than {MAX_BUCKETS} buckets; use a larger step"
        )
    if asn is not None and not 0 <= asn <= 4_294_967_295:
        raise TimelineInputError(f"{prefix}asn", f"{asn} is not an AS number (0..4294967295)")
    return TimelineQuery(code, start, end, step_s, asn, network or None, target or None)


def _parse_moment(text: str, name: str) -> datetime:
    try:
        return parse_time(text.strip())
    except ValueError as exc:
        problem = str(exc) if "offset" in str(exc) else f"{text!r} is not an RFC 3339 time"
        raise TimelineInputError(name, f"{problem}; use e.g. 2022-01-05T10:00:00Z") from None


def document(
    query: TimelineQuery, buckets: Sequence[VerdictBucket], events: Sequence[Event]
) -> dict[str, Any]:
    """The ``GET /v1/timeline`` document from a store's buckets and events (pure)."""
    series = availability_series(
        list(buckets), asn=query.asn, network=query.network, target=query.target
    )
    return {
        "cc": query.cc,
        "since": format_time(query.since),
        "until": format_time(query.until),
        "step_s": query.step_s,
        "test": None,
        "events": [
            event_to_dict(e)
            for e in events
            if event_concerns(e, asn=query.asn, network=query.network, target=query.target)
        ],
        "series": [availability_json(s) for s in series],
    }


def read_timeline(store: Store, query: TimelineQuery) -> dict[str, Any]:
    """Read ``query`` from a Store (collector/store) into the API's document."""
    buckets = store.verdict_buckets(
        since=query.since, until=query.until, step_s=query.step_s, cc=query.cc
    )
    events = store.events(since=query.since, until=query.until, cc=query.cc)
    return document(query, buckets, events)


def fetch_timeline(api_url: str, query: TimelineQuery) -> dict[str, Any]:
    """Ask a collector's ``GET /v1/timeline``; TimelineInputError/RuntimeError say what failed."""
    import httpx

    url = api_url.rstrip("/") + "/v1/timeline"
    try:
        response = httpx.get(url, params=query.api_params(), timeout=API_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"--api: cannot read {url}: {exc}") from None
    if response.status_code == 422:
        raise TimelineInputError("--api", f"the collector refused the query: {_detail(response)}")
    if response.status_code != 200:
        raise RuntimeError(f"--api: {url} answered {response.status_code}: {_detail(response)}")
    try:
        doc: dict[str, Any] = response.json()
    except ValueError:
        raise RuntimeError(f"--api: {url} did not answer JSON; is it a tyndau collector?") from None
    return doc


def _detail(response: Any) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        return str(response.text)[:200]
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg', '')}" for d in detail
        )
    return str(detail)


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


def glyph(availability: float | None) -> str:
    """The table's glyph for one bucket's availability (None: no accessible/blocked verdict)."""
    if availability is None:
        return NO_DATA_GLYPH
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
        s["target"]: {parse_time(p["start"]): p["availability"] for p in s["points"]}
        for s in doc["series"]
    }
    step_text = _duration(int(doc["step_s"]))
    span = f"{_short(doc['since'])} to {_short(doc['until'])} UTC"
    out = [f"Availability per target, {doc['cc']}, {span}, step {step_text}"]
    legend = "  ".join(f"{g} {label}" for g, label in GLYPHS)
    out.append(f"legend: {legend}  {NO_DATA_GLYPH} no data")
    if not by_target:
        out.append("(no verdicts in this range)")
    for offset in range(0, len(starts) if by_target else 0, TABLE_COLUMNS):
        chunk = starts[offset : offset + TABLE_COLUMNS]
        out.append("")
        out.append(f"{'':{NAME_WIDTH}} {_clock(chunk[0])} .. {_clock(chunk[-1])} UTC")
        out.append(f"{'':{NAME_WIDTH}} {_ruler(chunk, int(doc['step_s']))}")
        for name, points in by_target.items():
            cells = "".join(glyph(points.get(at)) for at in chunk)
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


def _clock(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def _short(text: str) -> str:
    return _clock(parse_time(text))


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def default_store_url() -> str:
    """The collector's default store URL (collector/settings.py), when no flag names one."""
    from collector.settings import CollectorSettings

    default = next(f.default for f in fields(CollectorSettings) if f.name == "store")
    return str(default)


def _store_url(args: argparse.Namespace) -> tuple[str, str | None]:
    if args.store:
        return args.store, None
    if args.config is not None:
        from collector.settings import load_collector_settings

        settings = load_collector_settings(args.config)
        return settings.store, settings.influx_token
    return default_store_url(), None


def _read(args: argparse.Namespace, query: TimelineQuery) -> dict[str, Any]:
    if args.api:
        if args.store or args.config:
            raise CommandError("--api reads a collector's API: drop --store/--config")
        try:
            return fetch_timeline(args.api, query)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
    from collector.store import StoreError, open_store

    url, token = _store_url(args)
    scheme, _, path = url.partition(":")
    if scheme == "sqlite" and path != ":memory:" and not Path(path).is_file():
        flag = "--store" if args.store else "--config" if args.config else "the default store"
        raise CommandError(
            f"{flag}: no SQLite store at {path}; name one with --store sqlite:PATH, "
            "--config collector.toml or read a collector with --api URL"
        )  # reading must not create an empty database
    try:
        store = open_store(url, influx_token=token)
    except StoreError as exc:
        raise CommandError(f"--store: {exc}") from None
    try:
        return read_timeline(store, query)
    except StoreError as exc:
        raise CommandError(f"cannot read the store {url.split('?')[0]}: {exc}") from None
    finally:
        store.close()


def main(args: argparse.Namespace) -> int:
    """Handler of ``tyndau timeline`` (flags declared in probe/cli.py)."""
    try:
        query = parse_query(
            cc=args.cc, since=args.since, until=args.until, step=args.step,
            asn=args.asn, network=args.network, target=args.target,
        )  # fmt: skip
        doc = _read(args, query)
    except TimelineInputError as exc:
        raise CommandError(str(exc)) from None
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        sys.stdout.write(format_csv(doc))
    elif args.format == "png":
        from collector.chart import render_timeline, timeline_from_api

        path: Path = args.output or Path("timeline.png")
        chart = render_timeline(timeline_from_api(doc, asn=query.asn, network=query.network), path)
        print(chart.path)
    else:
        sys.stdout.write(format_table(doc))
    return 0
