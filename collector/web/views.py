"""What the pages read from the store: plain data, computed off the event loop.

Every probe identity a page shows comes from the query layer's records (collector/queries.py,
where published pseudonyms replace probe ids), never straight from the store.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.records import Event, VerdictBucket
from collector.signals import Signals, signals
from collector.store import Store
from collector.store.codec import event_to_dict
from collector.timeline import TimelineQuery, bucket_starts, document
from collector.web.cache import DAY_S, DayCache
from probe.model import format_time

EVER = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC))


@dataclass(frozen=True, slots=True)
class RowGroup:
    """Heatmap rows of one network (``network`` None: every network summed)."""

    network: str | None
    series: list[dict[str, Any]]


def row_groups(
    verdicts: list[VerdictBucket], query: TimelineQuery, networks: list[str]
) -> list[RowGroup]:
    """One group per network when the page is not narrowed to one, so that a mobile-only
    shutdown is not hidden by the fixed network's accessible verdicts. The rows are
    collector/availability.py's availability series (the API's JSON shape), summed in one pass."""
    split = query.network is None and len(networks) >= 2
    sums: dict[tuple[str | None, str, str], dict[datetime, list[int]]] = defaultdict(dict)
    for b in verdicts:
        if (query.asn is not None and b.asn != query.asn) or (
            query.network is not None and b.network != query.network
        ):
            continue
        if query.target is not None and b.target != query.target:
            continue
        key = (b.network if split else query.network, b.target, b.category)
        acc = sums[key].get(b.start)
        if acc is None:
            acc = sums[key][b.start] = [0, 0, 0, 0, 0]
        acc[0] += b.accessible
        acc[1] += b.blocked
        acc[2] += b.offline
        acc[3] += b.inconclusive
        acc[4] += b.probes
    texts: dict[datetime, str] = {}
    groups: dict[str | None, list[dict[str, Any]]] = (
        {n: [] for n in networks} if split else {query.network: []}
    )
    for (network, target, category), points in sorted(sums.items(), key=lambda kv: kv[0][1:]):
        rows = []
        for start, (ok, blk, off, inc, probes) in sorted(points.items()):
            text = texts.get(start) or texts.setdefault(start, format_time(start))
            judged = ok + blk
            rows.append(
                {
                    "start": text,
                    "accessible": ok,
                    "blocked": blk,
                    "offline": off,
                    "inconclusive": inc,
                    "probes": probes,
                    "availability": None if judged == 0 else ok / judged,
                }
            )
        groups[network].append({"target": target, "category": category, "points": rows})
    return [RowGroup(n, series) for n, series in groups.items()]


@dataclass(frozen=True, slots=True)
class CountryView:
    """One country's page: the timeline document, its signals and the form's choices."""

    query: TimelineQuery
    doc: dict[str, Any]
    signals: list[Signals]
    asns: list[int]
    networks: list[str]
    targets: list[str]
    groups: list[RowGroup]


def country_view(
    store: Store, query: TimelineQuery, *, summed: bool = False, cache: DayCache | None = None
) -> CountryView:
    """The page's data; ``summed``: also the document's series summed over every network when
    the rows are grouped by network (the downloads need them, the page does not)."""
    days = cache or DayCache(max_entries=0)
    since, until, step_s, cc = query.since, query.until, query.step_s, query.cc
    verdicts = days.verdict_buckets(store, since=since, until=until, step_s=step_s, cc=cc)
    heartbeats = days.heartbeat_buckets(store, since=since, until=until, step_s=step_s, cc=cc)
    events = store.events(since=query.since, until=query.until, cc=query.cc)
    networks = sorted({b.network for b in verdicts})
    groups = row_groups(verdicts, query, networks)
    doc = document(query, [], events)
    if len(groups) == 1:
        doc["series"] = groups[0].series
    elif summed:
        doc = document(query, verdicts, events)
    starts = bucket_starts(doc)
    return CountryView(
        query=query,
        doc=doc,
        signals=signals(verdicts, heartbeats, starts),
        asns=sorted({b.asn for b in verdicts}),
        networks=networks,
        targets=sorted({b.target for b in verdicts}),
        groups=groups,
    )


@dataclass(slots=True)
class CountryRow:
    """One line of the overview."""

    cc: str
    heard_last_hour: int = 0
    heard_range: int = 0
    networks: set[str] = field(default_factory=set)
    asns: set[int] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    ongoing: int = 0
    events: int = 0


@dataclass(frozen=True, slots=True)
class Overview:
    since: datetime
    until: datetime
    countries: list[CountryRow]
    events: list[dict[str, Any]]  # ongoing first, then latest first


def overview(
    store: Store, since: datetime, until: datetime, *, cache: DayCache | None = None
) -> Overview:
    """Every country of the range; "heard in the range" is the most probes of a UTC day."""
    days = cache or DayCache(max_entries=0)
    rows: dict[str, CountryRow] = {}

    def row(cc: str) -> CountryRow:
        return rows.setdefault(cc, CountryRow(cc))

    whole: dict[tuple[str, int, str], int] = defaultdict(int)
    for b in days.verdict_buckets(store, since=since, until=until, step_s=DAY_S, cc=None):
        found = row(b.cc)
        found.networks.add(b.network)
        found.asns.add(b.asn)
        found.targets.add(b.target)
        whole[(b.cc, b.asn, b.network)] = max(whole[(b.cc, b.asn, b.network)], b.probes)
    beats: dict[tuple[str, int, str], int] = defaultdict(int)
    for h in days.heartbeat_buckets(store, since=since, until=until, step_s=DAY_S, cc=None):
        beats[(h.cc, h.asn, h.network)] = max(beats[(h.cc, h.asn, h.network)], h.probes)
    for key in set(whole) | set(beats):
        row(key[0]).heard_range += max(whole.get(key, 0), beats.get(key, 0))
    last = max(since, until - timedelta(hours=1))
    recent: dict[tuple[str, int, str], int] = defaultdict(int)
    for h in store.heartbeat_buckets(since=last, until=until, step_s=3600):
        recent[(h.cc, h.asn, h.network)] = max(recent[(h.cc, h.asn, h.network)], h.probes)
    for b in store.verdict_buckets(since=last, until=until, step_s=3600):
        key = (b.cc, b.asn, b.network)
        recent[key] = max(recent[key], b.probes)
    for key, count in recent.items():
        row(key[0]).heard_last_hour += count
    found_events = [event_to_dict(e) for e in store.events(since=since, until=until)]
    for e in found_events:
        found = row(e["scope"]["cc"])
        found.events += 1
        found.ongoing += e["end"] is None
    found_events.sort(key=lambda e: e["start"], reverse=True)
    found_events.sort(key=lambda e: e["end"] is not None)
    ordered = sorted(rows.values(), key=lambda r: (-r.ongoing, -r.events, r.cc))
    return Overview(since, until, ordered, found_events)


def find_event(store: Store, event_id: str) -> Event | None:
    """The event with this id (the store keeps each event's latest revision)."""
    return next((e for e in store.events(since=EVER[0], until=EVER[1]) if e.id == event_id), None)


def event_window(event: Event, now: datetime) -> tuple[datetime, datetime]:
    """The range an event's page charts: the event and a quarter of its length (at least an
    hour) either side, up to now for an ongoing one."""
    end = event.end or now
    margin = max(timedelta(hours=1), (end - event.start) / 4)
    return event.start - margin, max(end + margin if event.end else end, event.start + margin)


def around_event(groups: list[RowGroup], event: Event) -> list[RowGroup]:
    """The rows of the event's target and the controls (every row for a shutdown)."""
    if event.target is None:
        return groups
    return [
        RowGroup(
            g.network,
            [s for s in g.series if s["target"] == event.target or s["category"] == "control"],
        )
        for g in groups
    ]
