"""Counts per series and 5-minute bucket, kept as records arrive: what scans read instead of rows.

The anomaly module needs per bucket only counts (verdicts by kind, blocked ones by method and
reason, heartbeats) and how many distinct probes reported. Counts add up; distinct probes do not,
so each rollup row keeps the set of its probes (their integer codes) next to the count: a read
at the base step takes the count as it is, a read at a coarser step unites the sets. This module
is the pure part: folding accepted records into additions, merging them into stored rows, and
grouping rollup rows into buckets of any multiple of the base step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from collector.records import HeartbeatBucket, VerdictBucket
from collector.store.codec import from_ns

BASE_S = 300  # the rollup's bucket: the anomaly module's step, a divisor of every chart step
BASE_NS = BASE_S * 1_000_000_000
KINDS = ("accessible", "blocked", "offline", "inconclusive")  # column order of a verdict rollup


def widened(since_ns: int, until_ns: int, step_s: int) -> tuple[int, int]:
    """A bucket read's bounds moved out to 5-minute edges (``since`` down, ``until`` up) when its
    step is made of whole base buckets, so the rollups answer it: bucket reads have 5-minute
    resolution in both stores. (Without this, a read from "now minus an hour" would group every
    raw row of the store: the raw tables are clustered by id, with no time index.)"""
    if step_s % BASE_S:
        return since_ns, until_ns
    return since_ns // BASE_NS * BASE_NS, -(-until_ns // BASE_NS) * BASE_NS


def base_bucket(ns: int) -> int:
    """The rollup bucket of a record time (SQLite's integer division, as the rebuild uses)."""
    return -(-ns // BASE_NS) if ns < 0 else ns // BASE_NS


def served(since_ns: int, until_ns: int, step_s: int) -> bool:
    """Whether rollups answer a read exactly: a step made of whole base buckets and bounds on
    bucket edges (other reads group the raw rows)."""
    return step_s % BASE_S == 0 and since_ns % BASE_NS == 0 and until_ns % BASE_NS == 0


def probe_text(probes: Iterable[int]) -> str:
    return ",".join(str(p) for p in sorted(set(probes)))


def probe_codes(text: str | None) -> set[int]:
    return {int(p) for p in text.split(",")} if text else set()


@dataclass(slots=True)
class Addition:
    """What a batch adds to one rollup row: counts and the probes heard."""

    counts: list[int]
    probes: set[int] = field(default_factory=set)


def fold(rows: Iterable[tuple[int, int, int, int]], width: int) -> dict[tuple[int, int], Addition]:
    """Additions per (bucket, key) from (key, ns, probe code, column) of accepted records."""
    out: dict[tuple[int, int], Addition] = {}
    for key, ns, probe, column in rows:
        slot = (base_bucket(ns), key)
        item = out.get(slot)
        if item is None:
            item = out[slot] = Addition([0] * width)
        item.counts[column] += 1
        item.probes.add(probe)
    return out


def merged(stored: str | None, addition: Addition) -> tuple[int, str]:
    """The distinct probe count and probe set of a row after an addition."""
    probes = probe_codes(stored) | addition.probes
    return len(probes), probe_text(probes)


@dataclass(slots=True)
class _Group:
    counts: list[int]
    probes: set[int]
    count: int  # the stored distinct count (exact when the group is one base bucket)
    rows: int = 0


def regroup(
    rows: Iterable[Sequence[object]], width: int, step_s: int
) -> dict[tuple[int, int], tuple[list[int], int]]:
    """(key, bucket, *counts, probes, probe set) rollup rows into (key, step bucket ns) ->
    (summed counts, distinct probes)."""
    step_ns = step_s * 1_000_000_000
    groups: dict[tuple[int, int], _Group] = {}
    for row in rows:
        key, bucket = int(row[0]), int(row[1])  # type: ignore[call-overload]
        counts = [int(c) for c in row[2 : 2 + width]]  # type: ignore[call-overload]
        slot = (key, bucket * BASE_NS // step_ns * step_ns)
        group = groups.get(slot)
        if group is None:
            group = groups[slot] = _Group([0] * width, set(), int(row[2 + width]))  # type: ignore[call-overload]
        for i, value in enumerate(counts):
            group.counts[i] += value
        text = row[3 + width]
        if step_ns != BASE_NS:
            group.probes |= probe_codes(text if isinstance(text, str) else None)
        group.rows += 1
    return {
        slot: (g.counts, g.count if step_ns == BASE_NS else len(g.probes))
        for slot, g in groups.items()
    }


class Starts(dict[int, datetime]):
    """Bucket start times by ns, each converted once (a day has 288 buckets, not 100,000)."""

    def __missing__(self, ns: int) -> datetime:
        self[ns] = start = from_ns(ns)
        return start


Series = tuple[str, int, str, str, str]  # cc, asn, network, target, category


def verdict_buckets(
    groups: dict[tuple[int, int], tuple[list[int], int]],
    series: dict[int, Series],
    blocked: Iterable[tuple[int, int, str, str, int]],
    step_s: int,
) -> list[VerdictBucket]:
    """VerdictBuckets from regrouped rollup rows and the (series, bucket, method, reason, count)
    rows of blocked verdicts, ordered as the stores order them."""
    step_ns = step_s * 1_000_000_000
    methods: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    reasons: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    for key, bucket, method, reason, count in blocked:
        slot = (key, bucket * BASE_NS // step_ns * step_ns)
        for table, name in ((methods, method), (reasons, reason)):
            if name:
                table[slot][name] = table[slot].get(name, 0) + count
    starts = Starts()
    out = [
        verdict_bucket(
            series[key],
            starts[ns],
            counts,
            probes,
            methods=dict(methods.get((key, ns), {})),
            reasons=dict(reasons.get((key, ns), {})),
        )
        for (key, ns), (counts, probes) in groups.items()
        if any(counts)
    ]
    out.sort(key=lambda b: (b.start, b.cc, b.asn, b.network, b.target))
    return out


def verdict_bucket(
    series: Series,
    start: datetime,
    counts: Sequence[int],
    probes: int,
    *,
    methods: dict[str, int],
    reasons: dict[str, int],
) -> VerdictBucket:
    """One bucket from its series, its start, its verdict counts in ``KINDS`` order, its
    distinct probes and its blocked verdicts by method and reason: what the rollups and the raw
    rows' fold (collector/store/buckets.py) both make."""
    cc, asn, network, target, category = series
    accessible, blocked, offline, inconclusive = counts
    return VerdictBucket(
        cc=cc,
        asn=asn,
        network=network,
        target=target,
        category=category,
        start=start,
        accessible=accessible,
        blocked=blocked,
        offline=offline,
        inconclusive=inconclusive,
        probes=probes,
        methods=methods,
        reasons=reasons,
    )


def heartbeat_buckets(
    groups: dict[tuple[int, int], tuple[list[int], int]], leaves: dict[int, tuple[str, int, str]]
) -> list[HeartbeatBucket]:
    starts = Starts()
    out = [
        HeartbeatBucket(*leaves[key], starts[ns], probes, counts[0])
        for (key, ns), (counts, probes) in groups.items()
        if counts[0]
    ]
    out.sort(key=lambda b: (b.start, b.cc, b.asn, b.network))
    return out
