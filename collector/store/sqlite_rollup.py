"""The SQLite store's rollup tables: additions inside the write transaction, and bucket reads.

Only the rows a write accepted reach ``add_rollups`` (the id rule has sorted out re-sent ones),
inside the same transaction, so a rollup never counts a record twice nor misses one that is
stored; a late upload adds to its own (old) buckets. Reads at a step the rollups cannot answer
(see ``rollup.served``) group the raw rows instead: same buckets, slower.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from collector.records import HeartbeatBucket, VerdictBucket
from collector.store import rollup, sqlite_days
from collector.store.buckets import HeartbeatCount, VerdictCount, fold_heartbeats, fold_verdicts
from collector.store.columns import HeartbeatColumns, VerdictColumns

Rows = list[tuple[Any, ...]]


def add_rollups(db: sqlite3.Connection, v_rows: Rows, columns: Sequence[int], h_rows: Rows) -> None:
    """Add accepted verdict rows (id, probe, series, kind, at_ns, ...) whose verdict kinds are
    ``columns`` (rollup.KINDS positions) and heartbeat rows (id, probe, leaf, at_ns, ...)."""
    verdicts = rollup.fold(((r[2], r[4], r[1], c) for r, c in zip(v_rows, columns, strict=True)), 4)
    v_cells: list[tuple[int, int, tuple[int, ...]]] = []
    for (bucket, series), add in verdicts.items():
        row = db.execute(
            "SELECT probe_set FROM verdict_rollup WHERE bucket = ? AND series = ?", (bucket, series)
        ).fetchone()
        probes, text = rollup.merged(row[0] if row else None, add)
        cursor = db.execute(
            "INSERT INTO verdict_rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
            " accessible = accessible + excluded.accessible, blocked = blocked + excluded.blocked,"
            " offline = offline + excluded.offline,"
            " inconclusive = inconclusive + excluded.inconclusive,"
            " probes = excluded.probes, probe_set = excluded.probe_set"
            " RETURNING accessible, blocked, offline, inconclusive, probes",
            (bucket, series, *add.counts, probes, text),
        )
        v_cells.append((bucket, series, tuple(cursor.fetchone())))
    sqlite_days.set_cells(db, "verdict_days", v_cells)
    blocked = rollup.KINDS.index("blocked")
    kinds: dict[tuple[int, int, int], int] = {}
    for r, c in zip(v_rows, columns, strict=True):
        if c == blocked:
            key = (rollup.base_bucket(r[4]), r[2], r[3])
            kinds[key] = kinds.get(key, 0) + 1
    db.executemany(
        "INSERT INTO blocked_rollup VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO UPDATE SET count = count + excluded.count",
        [(*key, count) for key, count in kinds.items()],
    )
    beats = rollup.fold(((r[2], r[3], r[1], 0) for r in h_rows), 1)
    h_cells: list[tuple[int, int, tuple[int, ...]]] = []
    for (bucket, leaf), add in beats.items():
        row = db.execute(
            "SELECT probe_set FROM heartbeat_rollup WHERE bucket = ? AND leaf = ?", (bucket, leaf)
        ).fetchone()
        probes, text = rollup.merged(row[0] if row else None, add)
        db.execute(
            "INSERT INTO heartbeat_rollup VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
            " heartbeats = heartbeats + excluded.heartbeats, probes = excluded.probes,"
            " probe_set = excluded.probe_set",
            (bucket, leaf, add.counts[0], probes, text),
        )
        h_cells.append((bucket, leaf, (probes,)))
    sqlite_days.set_cells(db, "heartbeat_days", h_cells)


def _cc_filter(table: str, column: str) -> str:
    return f"(? IS NULL OR {column} IN (SELECT id FROM {table} WHERE cc = ?))"  # noqa: S608


def verdict_buckets(
    db: sqlite3.Connection, since_ns: int, until_ns: int, step_s: int, cc: str | None
) -> list[VerdictBucket]:
    if not rollup.served(since_ns, until_ns, step_s):
        return raw_verdict_buckets(db, since_ns, until_ns, step_s, cc)
    span = [since_ns // rollup.BASE_NS, until_ns // rollup.BASE_NS, cc, cc]
    probe_set = "NULL" if step_s == rollup.BASE_S else "probe_set"
    rows = db.execute(
        f"SELECT series, bucket, accessible, blocked, offline, inconclusive, probes, {probe_set}"  # noqa: S608
        " FROM verdict_rollup WHERE bucket >= ? AND bucket < ? AND "
        + _cc_filter("series", "series"),
        span,
    ).fetchall()
    blocked = db.execute(
        "SELECT b.series, b.bucket, k.method, k.reason, b.count FROM blocked_rollup b"  # noqa: S608
        " JOIN kinds k ON k.id = b.kind WHERE b.bucket >= ? AND b.bucket < ? AND "
        + _cc_filter("series", "b.series"),
        span,
    ).fetchall()
    series = {int(r[0]): tuple(r[1:]) for r in db.execute("SELECT * FROM series")}
    groups = rollup.regroup(rows, 4, step_s)
    return rollup.verdict_buckets(groups, series, blocked, step_s)


def heartbeat_buckets(
    db: sqlite3.Connection, since_ns: int, until_ns: int, step_s: int, cc: str | None
) -> list[HeartbeatBucket]:
    if not rollup.served(since_ns, until_ns, step_s):
        return raw_heartbeat_buckets(db, since_ns, until_ns, step_s, cc)
    span = [since_ns // rollup.BASE_NS, until_ns // rollup.BASE_NS, cc, cc]
    probe_set = "NULL" if step_s == rollup.BASE_S else "probe_set"
    rows = db.execute(
        f"SELECT leaf, bucket, heartbeats, probes, {probe_set} FROM heartbeat_rollup"  # noqa: S608
        " WHERE bucket >= ? AND bucket < ? AND " + _cc_filter("leaves", "leaf"),
        span,
    ).fetchall()
    leaves = {
        int(r[0]): (str(r[1]), int(r[2]), str(r[3])) for r in db.execute("SELECT * FROM leaves")
    }
    return rollup.heartbeat_buckets(rollup.regroup(rows, 1, step_s), leaves)


def raw_verdict_buckets(
    db: sqlite3.Connection, since_ns: int, until_ns: int, step_s: int, cc: str | None
) -> list[VerdictBucket]:
    """Buckets grouped from the raw rows (no rollup): the reference the rollups must equal."""
    step = step_s * 1_000_000_000
    rows = db.execute(
        "SELECT cc, asn, network, target, category, (at_ns / ?) * ?, verdict, method, reason,"
        " probe_id, count(*) FROM verdict_rows WHERE at_ns >= ? AND at_ns < ?"
        " AND (? IS NULL OR cc = ?) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
        [step, step, since_ns, until_ns, cc, cc],
    ).fetchall()
    return fold_verdicts([VerdictCount(*row) for row in rows])


def raw_heartbeat_buckets(
    db: sqlite3.Connection, since_ns: int, until_ns: int, step_s: int, cc: str | None
) -> list[HeartbeatBucket]:
    step = step_s * 1_000_000_000
    rows = db.execute(
        "SELECT cc, asn, network, (at_ns / ?) * ?, probe_id, count(*) FROM heartbeat_rows"
        " WHERE at_ns >= ? AND at_ns < ? AND (? IS NULL OR cc = ?) GROUP BY 1, 2, 3, 4, 5",
        [step, step, since_ns, until_ns, cc, cc],
    ).fetchall()
    return fold_heartbeats([HeartbeatCount(*row) for row in rows])


_V_DTYPE = np.dtype([("series", np.int64), ("t", np.int64), ("accessible", np.int64),
                     ("blocked", np.int64), ("offline", np.int64), ("inconclusive", np.int64),
                     ("probes", np.int64)])  # fmt: skip
_H_DTYPE = np.dtype([("leaf", np.int64), ("t", np.int64), ("probes", np.int64)])


def columns(
    db: sqlite3.Connection, since_ns: int, until_ns: int
) -> tuple[VerdictColumns, HeartbeatColumns]:
    """The base-step rollups of [since, until) (bucket edges) as arrays, one row per stored
    rollup row: no Python object per bucket beyond the cursor's transient tuple."""
    lo, hi = since_ns // rollup.BASE_NS, until_ns // rollup.BASE_NS
    if lo % sqlite_days.PER_DAY == 0 and hi % sqlite_days.PER_DAY == 0:
        v, h = _day_rows(db, lo // sqlite_days.PER_DAY, (hi - lo) // sqlite_days.PER_DAY)
    else:
        v, h = _bucket_rows(db, lo, hi)
    blocked = db.execute(
        "SELECT b.series, b.bucket - ?, k.method, k.reason, b.count FROM blocked_rollup b"
        " JOIN kinds k ON k.id = b.kind WHERE b.bucket >= ? AND b.bucket < ?",
        [lo, lo, hi],
    ).fetchall()
    series = {int(r[0]): (str(r[1]), int(r[2]), str(r[3]), str(r[4]), str(r[5]))
              for r in db.execute("SELECT * FROM series")}  # fmt: skip
    leaves = {
        int(r[0]): (str(r[1]), int(r[2]), str(r[3])) for r in db.execute("SELECT * FROM leaves")
    }
    return (
        VerdictColumns(series=series, rows=v, blocked=[tuple(b) for b in blocked]),
        HeartbeatColumns(leaves=leaves, rows=h),
    )


def _day_rows(
    db: sqlite3.Connection, first_day: int, days: int
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Rollup rows (non-empty buckets) from the day rows: a few rows per series, not 288."""
    keys, counts = sqlite_days.read(db, "verdict_days", first_day, days)
    where = np.nonzero(counts[:, :4, :].any(axis=1))
    v = np.zeros(where[0].size, dtype=_V_DTYPE)
    v["series"], v["t"] = keys[where[0]], where[1]
    for field, name in enumerate(("accessible", "blocked", "offline", "inconclusive", "probes")):
        v[name] = counts[where[0], field, where[1]]
    keys, counts = sqlite_days.read(db, "heartbeat_days", first_day, days)
    where = np.nonzero(counts[:, 0, :])
    h = np.zeros(where[0].size, dtype=_H_DTYPE)
    h["leaf"], h["t"], h["probes"] = keys[where[0]], where[1], counts[where[0], 0, where[1]]
    return v, h


def _bucket_rows(
    db: sqlite3.Connection, lo: int, hi: int
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    cursor = db.execute(
        "SELECT series, bucket - ?, accessible, blocked, offline, inconclusive, probes"
        " FROM verdict_rollup WHERE bucket >= ? AND bucket < ?",
        [lo, lo, hi],
    )
    v = np.fromiter(cursor, dtype=_V_DTYPE)
    h = np.fromiter(
        db.execute(
            "SELECT leaf, bucket - ?, probes FROM heartbeat_rollup"
            " WHERE bucket >= ? AND bucket < ?",
            [lo, lo, hi],
        ),
        dtype=_H_DTYPE,
    )
    return v, h
