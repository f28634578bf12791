"""Columnar reads of the InfluxDB rollup points: one query per measurement and window, decoded
into the dense arrays of collector/store/columns.py, no bucket object or datetime per point.

The rollup points (collector/store/influx_rollup.py) come back grouped by their tags, times as
integer nanoseconds (``epoch=ns``); each series' rows become one integer array, scattered into
its row of the counts. Series and leaves get codes local to the read. Blocked verdicts by method
and by reason are kept apart in the points, so they come back as kinds (method, "") and
("", reason): the grid builder sums each part on its own.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from collector.store.columns import (
    BlockedColumns,
    HeartbeatColumns,
    Leaf,
    Series,
    VerdictColumns,
)
from collector.store.influx_rollup import HEARTBEAT_ROLLUP, VERDICT_ROLLUP, Query
from collector.store.influxql import tag_int
from collector.store.rollup import BASE_NS

_V_TAGS = ("cc", "asn", "network", "target", "category")


def rollup_columns(
    since_ns: int, until_ns: int, query: Query
) -> tuple[VerdictColumns, HeartbeatColumns]:
    """The rollup points of [since, until) (5-minute edges) as dense arrays."""
    buckets = (until_ns - since_ns) // BASE_NS
    window = f"time >= {since_ns} AND time < {until_ns}"
    v_series = query(
        "SELECT accessible, blocked, offline, inconclusive, probes, methods, reasons"  # noqa: S608
        f" FROM {VERDICT_ROLLUP} WHERE {window} GROUP BY "
        + ", ".join(f'"{tag}"' for tag in _V_TAGS)
    )
    named: dict[int, Series] = {}
    counts = np.zeros((len(v_series), 5, buckets), dtype=np.int32)
    blocked = _Blocked()
    for code, (tags, rows) in enumerate(v_series):
        named[code] = (
            tags.get("cc", ""),
            tag_int(tags.get("asn", "0")),
            tags.get("network", ""),
            tags.get("target", ""),
            tags.get("category", ""),
        )
        values = np.array([row[:6] for row in rows], dtype=np.int64).reshape(-1, 6)
        t = (values[:, 0] - since_ns) // BASE_NS
        counts[code, :, t] = values[:, 1:6]  # (rows, 5): the index pair goes first
        for at, row in zip(t.tolist(), rows, strict=True):
            if row[6] not in (None, "", "{}") or row[7] not in (None, "", "{}"):
                blocked.add(code, at, row[6], row[7])
    h_series = query(
        f"SELECT probes FROM {HEARTBEAT_ROLLUP} WHERE {window}"  # noqa: S608
        ' GROUP BY "cc", "asn", "network"'
    )
    leaves: dict[int, Leaf] = {}
    probes = np.zeros((len(h_series), buckets), dtype=np.int32)
    for code, (tags, rows) in enumerate(h_series):
        leaves[code] = (tags.get("cc", ""), tag_int(tags.get("asn", "0")), tags.get("network", ""))
        values = np.array([row[:2] for row in rows], dtype=np.int64).reshape(-1, 2)
        probes[code, (values[:, 0] - since_ns) // BASE_NS] = values[:, 1]
    v_keys = np.arange(len(v_series), dtype=np.int64)
    h_keys = np.arange(len(h_series), dtype=np.int64)
    return (
        VerdictColumns(named, v_keys, counts, blocked.columns()),
        HeartbeatColumns(leaves, h_keys, probes),
    )


class _Blocked:
    """Blocked verdicts gathered from the points' methods and reasons (JSON objects)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, int, int]] = []
        self.kinds: dict[tuple[str, str], int] = {}

    def add(self, code: int, t: int, methods: Any, reasons: Any) -> None:
        for text, part in ((methods, 0), (reasons, 1)):
            for name, count in json.loads(text or "{}").items():
                kind = ("", str(name)) if part else (str(name), "")
                number = self.kinds.setdefault(kind, len(self.kinds) + 1)
                self.rows.append((code, t, number, int(count)))

    def columns(self) -> BlockedColumns:
        rows = np.array(self.rows, dtype=np.int64).reshape(-1, 4)
        kinds = {number: kind for kind, number in self.kinds.items()}
        return BlockedColumns(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], kinds)
