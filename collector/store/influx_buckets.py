"""Bucket counts grouped from the InfluxDB store's raw points, for the steps the rollups do not
serve (collector/store/influx_rollup.py serves the base step): one ``GROUP BY time(step)``
query per read, counted per probe and folded as the SQLite store folds its rows
(collector/store/buckets.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector.records import HeartbeatBucket, VerdictBucket
from collector.store.buckets import (
    HeartbeatCount,
    MeasurementBucket,
    OutcomeCount,
    VerdictCount,
    fold_heartbeats,
    fold_outcomes,
    fold_verdicts,
)
from collector.store.influxql import quote, tag_int

Query = Callable[[str], list[tuple[dict[str, str], list[list[Any]]]]]
# Each kind: its measurement, a field every point has, the tags before and after the bucket
# time in its count's fields (then the probe and the count follow).
_LEAF = ("cc", "asn", "network")
_VERDICT_TAGS = (*_LEAF, "target", "category")
_VERDICTS = ("probe_verdict", "confidence", _VERDICT_TAGS, ("verdict", "method", "reason"))
_HEARTBEATS = ("probe_heartbeat", "uptime_s", _LEAF, ())
_OUTCOMES = ("probe_test", "duration_ms", (*_LEAF, "target", "category", "test"), ("outcome",))


def verdicts(
    query: Query, since_ns: int, until_ns: int, step_s: int, cc: str | None
) -> list[VerdictBucket]:
    rows = _counts(query, _VERDICTS, since_ns, until_ns, step_s, {"cc": cc})
    return fold_verdicts([VerdictCount(*row) for row in rows])


def heartbeats(
    query: Query, since_ns: int, until_ns: int, step_s: int, cc: str | None
) -> list[HeartbeatBucket]:
    rows = _counts(query, _HEARTBEATS, since_ns, until_ns, step_s, {"cc": cc})
    return fold_heartbeats([HeartbeatCount(*row) for row in rows])


def outcomes(
    query: Query, since_ns: int, until_ns: int, step_s: int, cc: str | None, test: str | None
) -> list[MeasurementBucket]:
    rows = _counts(query, _OUTCOMES, since_ns, until_ns, step_s, {"cc": cc, "test": test})
    return fold_outcomes([OutcomeCount(*row) for row in rows])


def _counts(
    query: Query,
    kind: tuple[str, str, tuple[str, ...], tuple[str, ...]],
    since_ns: int,
    until_ns: int,
    step_s: int,
    only: dict[str, str | None],
) -> list[tuple[Any, ...]]:
    """(tags before the bucket, bucket ns, tags after it, probe, count) per probe and bucket,
    the ASN as an integer."""
    measurement, field, before, after = kind
    where = f"time >= {since_ns} AND time < {until_ns}"
    where += "".join(f' AND "{k}" = {quote(v)}' for k, v in only.items() if v is not None)
    group = ", ".join(f'"{d}"' for d in (*before, *after, "probe"))
    sql = (
        f'SELECT count("{field}") FROM {measurement} WHERE {where} '  # noqa: S608
        f"GROUP BY time({int(step_s)}s), {group} fill(none)"
    )
    out: list[tuple[Any, ...]] = []
    for tags, values in query(sql):
        head = tuple(tag_int(tags.get(d, "0")) if d == "asn" else tags.get(d, "") for d in before)
        tail = tuple(tags.get(d, "") for d in (*after, "probe"))
        out += [(*head, int(row[0]), *tail, int(row[1])) for row in values]
    return out
