"""Columnar reads of the SQLite rollups: counts straight into numpy arrays, no object per bucket.

A read of whole UTC days takes the day rows (collector/store/sqlite_days.py) as they are: one
packed int32 blob per series and day, laid side by side with ``np.frombuffer``. Other ranges
step through the 5-minute rollup rows with ``np.fromiter`` (no tuple kept per row).
"""

from __future__ import annotations

import sqlite3

import numpy as np

from collector.store import rollup, sqlite_days
from collector.store.columns import (
    BlockedColumns,
    Counts,
    HeartbeatColumns,
    Ints,
    Leaf,
    Series,
    VerdictColumns,
    dense,
)

_V_DTYPE = np.dtype([(name, np.int64) for name in ("series", "t", "a", "b", "o", "i", "probes")])
_H_DTYPE = np.dtype([("leaf", np.int64), ("t", np.int64), ("probes", np.int64)])
_B_DTYPE = np.dtype([(name, np.int64) for name in ("series", "t", "kind", "count")])


def columns(
    db: sqlite3.Connection, since_ns: int, until_ns: int
) -> tuple[VerdictColumns, HeartbeatColumns]:
    """The base-step rollups of [since, until) (bucket edges) as dense arrays."""
    lo, hi = since_ns // rollup.BASE_NS, until_ns // rollup.BASE_NS
    per_day = sqlite_days.PER_DAY
    if lo % per_day == 0 and hi % per_day == 0:
        v_keys, v_counts = sqlite_days.read(db, "verdict_days", lo // per_day, (hi - lo) // per_day)
        h_keys, h_counts = sqlite_days.read(
            db, "heartbeat_days", lo // per_day, (hi - lo) // per_day
        )
    else:
        (v_keys, v_counts), (h_keys, h_counts) = _bucket_rows(db, lo, hi)
    series: dict[int, Series] = {
        int(r[0]): (str(r[1]), int(r[2]), str(r[3]), str(r[4]), str(r[5]))
        for r in db.execute("SELECT * FROM series")
    }
    leaves: dict[int, Leaf] = {
        int(r[0]): (str(r[1]), int(r[2]), str(r[3])) for r in db.execute("SELECT * FROM leaves")
    }
    return (
        VerdictColumns(series, v_keys, v_counts, _blocked(db, lo, hi)),
        HeartbeatColumns(leaves, h_keys, h_counts[:, 0, :]),
    )


def _blocked(db: sqlite3.Connection, lo: int, hi: int) -> BlockedColumns:
    rows = np.fromiter(
        db.execute(
            "SELECT series, bucket - ?, kind, count FROM blocked_rollup"
            " WHERE bucket >= ? AND bucket < ?",
            [lo, lo, hi],
        ),
        dtype=_B_DTYPE,
    )
    kinds = {
        int(code): (str(method), str(reason))
        for code, method, reason in db.execute("SELECT id, method, reason FROM kinds")
    }
    return BlockedColumns(rows["series"], rows["t"], rows["kind"], rows["count"], kinds)


def _bucket_rows(
    db: sqlite3.Connection, lo: int, hi: int
) -> tuple[tuple[Ints, Counts], tuple[Ints, Counts]]:
    """Rollup rows of [lo, hi) (base buckets, not whole days) made dense."""
    v = np.fromiter(
        db.execute(
            "SELECT series, bucket - ?, accessible, blocked, offline, inconclusive, probes"
            " FROM verdict_rollup WHERE bucket >= ? AND bucket < ?",
            [lo, lo, hi],
        ),
        dtype=_V_DTYPE,
    )
    h = np.fromiter(
        db.execute(
            "SELECT leaf, bucket - ?, probes FROM heartbeat_rollup"
            " WHERE bucket >= ? AND bucket < ?",
            [lo, lo, hi],
        ),
        dtype=_H_DTYPE,
    )
    fields = [v[name] for name in ("a", "b", "o", "i", "probes")]
    return (
        dense(v["series"], v["t"], fields, hi - lo),
        dense(h["leaf"], h["t"], [h["probes"]], hi - lo),
    )
