"""Rollup points of the InfluxDB store: recomputed from raw points, never incremented.

After a write of accepted records the store marks the touched vantages and 5-minute buckets;
a background pass (collector/store/influx_dirty.py) asks InfluxDB for the raw counts of the
marked vantages over the marked buckets (one GROUP BY time(300s) query per measurement and
cluster of buckets) and writes one rollup point per (series, bucket) with the full counts. A
point with the same tags and time overwrites itself, so a re-send, a retry after a half-failed
write or two collectors writing the same bucket all end in the exact counts: the last
recompute sees every raw point written before it (influx_dirty.py says how concurrent
recomputes keep that). Scans read these points at the base step; other steps group the raw
points.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from collector.records import HeartbeatBucket, VerdictBucket
from collector.store.buckets import HeartbeatCount, VerdictCount, fold_heartbeats, fold_verdicts
from collector.store.codec import from_ns
from collector.store.influxql import quote, tag_int
from collector.store.points import Row
from collector.store.rollup import BASE_NS, BASE_S

VERDICT_ROLLUP = "rollup_verdict"
HEARTBEAT_ROLLUP = "rollup_heartbeat"
Query = Callable[[str], list[tuple[dict[str, str], list[list[Any]]]]]
Leaf = tuple[str, int, str]
_V_DIMS = ("cc", "asn", "network", "target", "category", "verdict", "method", "reason", "probe")


def window(first_ns: int, until_ns: int) -> str:
    """Every vantage over a time window (a rebuild from the raw points)."""
    return f"time >= {first_ns} AND time < {until_ns}"


def where(spans: dict[Leaf, tuple[int, int]]) -> str:
    """The touched vantages over the touched buckets, empty when there are none. InfluxQL
    takes one time range per query (no OR of time ranges), so it spans all the batch's."""
    if not spans:
        return ""
    lo = min(first for first, _ in spans.values())
    hi = max(last for _, last in spans.values())
    vantages = " OR ".join(
        f"(cc = {quote(cc)} AND asn = {quote(str(asn))} AND network = {quote(network)})"
        for cc, asn, network in spans
    )
    return f"time >= {lo * BASE_NS} AND time < {(hi + 1) * BASE_NS} AND ({vantages})"


CLUSTER_GAP = 12  # buckets (an hour): marked buckets further apart are recomputed apart


def conditions(marked: Iterable[tuple[Leaf, int]]) -> list[str]:
    """WHERE conditions covering the marked (vantage, base bucket) pairs: one per cluster of
    buckets less than an hour apart, for the vantages marked in it (a late upload into an old
    day and the current round are two queries, not one over every day between)."""
    by_bucket: dict[int, set[Leaf]] = {}
    for leaf, bucket in marked:
        by_bucket.setdefault(bucket, set()).add(leaf)
    clusters: list[list[int]] = []
    for bucket in sorted(by_bucket):
        if clusters and bucket - clusters[-1][-1] <= CLUSTER_GAP:
            clusters[-1].append(bucket)
        else:
            clusters.append([bucket])
    out = []
    for buckets in clusters:
        leaves = set().union(*(by_bucket[b] for b in buckets))
        out.append(where({leaf: (buckets[0], buckets[-1]) for leaf in sorted(leaves)}))
    return out


def verdict_rows(condition: str, query: Query) -> list[Row]:
    """Rollup points of every verdict series with raw points matching ``condition``."""
    if not condition:
        return []
    group = ", ".join(f'"{d}"' for d in _V_DIMS)
    sql = (
        f'SELECT count("confidence") FROM probe_verdict WHERE {condition}'  # noqa: S608
        f" GROUP BY time({BASE_S}s), {group} fill(none)"
    )
    buckets = fold_verdicts(
        [_verdict_count(tags, row) for tags, rows in query(sql) for row in rows]
    )
    return [_verdict_row(b) for b in buckets]


def heartbeat_rows(condition: str, query: Query) -> list[Row]:
    if not condition:
        return []
    sql = (
        f'SELECT count("uptime_s") FROM probe_heartbeat WHERE {condition}'  # noqa: S608
        f' GROUP BY time({BASE_S}s), "cc", "asn", "network", "probe" fill(none)'
    )
    counts = [
        HeartbeatCount(
            t.get("cc", ""),
            tag_int(t.get("asn", "0")),
            t.get("network", ""),
            int(row[0]),
            t.get("probe", ""),
            int(row[1]),
        )
        for t, rows in query(sql)
        for row in rows
    ]
    return [
        Row(
            HEARTBEAT_ROLLUP,
            {"cc": b.cc, "asn": str(b.asn), "network": b.network},
            {"heartbeats": b.heartbeats, "probes": b.probes},
            _ns(b),
        )
        for b in fold_heartbeats(counts)
    ]


def _ns(bucket: VerdictBucket | HeartbeatBucket) -> int:
    seconds = int(bucket.start.timestamp())
    return seconds * 1_000_000_000


def _verdict_count(tags: dict[str, str], row: list[Any]) -> VerdictCount:
    cc, asn, network, target, category, verdict, method, reason, probe = (
        tags.get(d, "") for d in _V_DIMS
    )
    return VerdictCount(
        cc,
        tag_int(asn),
        network,
        target,
        category,
        int(row[0]),
        verdict,
        method,
        reason,
        probe,
        int(row[1]),
    )


def _verdict_row(b: VerdictBucket) -> Row:
    tags = {
        "cc": b.cc,
        "asn": str(b.asn),
        "network": b.network,
        "target": b.target,
        "category": b.category,
    }
    fields: dict[str, Any] = {
        "accessible": b.accessible,
        "blocked": b.blocked,
        "offline": b.offline,
        "inconclusive": b.inconclusive,
        "probes": b.probes,
        "methods": json.dumps(b.methods, sort_keys=True),
        "reasons": json.dumps(b.reasons, sort_keys=True),
    }
    return Row(VERDICT_ROLLUP, tags, fields, _ns(b))


def _span(since_ns: int, until_ns: int, cc: str | None) -> str:
    """The WHERE of a rollup read: [since, until), one country or all."""
    country = f" AND cc = {quote(cc)}" if cc is not None else ""
    return f"time >= {since_ns} AND time < {until_ns}{country}"


def read_verdicts(
    since_ns: int, until_ns: int, cc: str | None, query: Query
) -> list[VerdictBucket]:
    """VerdictBuckets at the base step from the rollup points of [since, until)."""
    where = _span(since_ns, until_ns, cc)
    sql = (
        "SELECT accessible, blocked, offline, inconclusive, probes, methods, reasons"  # noqa: S608
        f' FROM {VERDICT_ROLLUP} WHERE {where} GROUP BY "cc", "asn", "network", "target",'
        ' "category"'
    )
    out = [
        VerdictBucket(
            cc=t.get("cc", ""),
            asn=tag_int(t.get("asn", "0")),
            network=t.get("network", ""),
            target=t.get("target", ""),
            category=t.get("category", ""),
            start=from_ns(int(row[0])),
            accessible=int(row[1]),
            blocked=int(row[2]),
            offline=int(row[3]),
            inconclusive=int(row[4]),
            probes=int(row[5]),
            methods=json.loads(row[6] or "{}"),
            reasons=json.loads(row[7] or "{}"),
        )
        for t, rows in query(sql)
        for row in rows
    ]
    out.sort(key=lambda b: (b.start, b.cc, b.asn, b.network, b.target))
    return out


def read_heartbeats(
    since_ns: int, until_ns: int, cc: str | None, query: Query
) -> list[HeartbeatBucket]:
    where = _span(since_ns, until_ns, cc)
    sql = (
        f"SELECT heartbeats, probes FROM {HEARTBEAT_ROLLUP} WHERE {where}"  # noqa: S608
        ' GROUP BY "cc", "asn", "network"'
    )
    out = [
        HeartbeatBucket(
            t.get("cc", ""),
            tag_int(t.get("asn", "0")),
            t.get("network", ""),
            from_ns(int(row[0])),
            int(row[2]),
            int(row[1]),
        )
        for t, rows in query(sql)
        for row in rows
    ]
    out.sort(key=lambda b: (b.start, b.cc, b.asn, b.network))
    return out
