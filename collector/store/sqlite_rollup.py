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

from collector.records import HeartbeatBucket, VerdictBucket
from collector.store import rollup, sqlite_days
from collector.store.buckets import HeartbeatCount, VerdictCount, fold_heartbeats, fold_verdicts

Rows = list[tuple[Any, ...]]


_ADD_VERDICTS = (
    "INSERT INTO verdict_rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
    " accessible = accessible + excluded.accessible, blocked = blocked + excluded.blocked,"
    " offline = offline + excluded.offline, inconclusive = inconclusive + excluded.inconclusive,"
    " probes = excluded.probes, probe_set = excluded.probe_set"
)
_ADD_HEARTBEATS = (
    "INSERT INTO heartbeat_rollup VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET"
    " heartbeats = heartbeats + excluded.heartbeats, probes = excluded.probes,"
    " probe_set = excluded.probe_set"
)


def add_rollups(db: sqlite3.Connection, v_rows: Rows, columns: Sequence[int], h_rows: Rows) -> None:
    """Add accepted verdict rows (id, probe, series, kind, at_ns, ...) whose verdict kinds are
    ``columns`` (rollup.KINDS positions) and heartbeat rows (id, probe, leaf, at_ns, ...).

    The touched cells are read in one query per table (their counts and probe sets), the
    additions written by one executemany; a cell's new values (stored + added, the merged
    probe set) go to the day rows. Inside the write transaction nothing else writes between
    the read and the write, so this is what one read-and-update per cell gave."""
    verdicts = rollup.fold(((r[2], r[4], r[1], c) for r, c in zip(v_rows, columns, strict=True)), 4)
    found = sqlite_days.stored_rows(
        db,
        "verdict_rollup",
        ("bucket", "series"),
        "accessible, blocked, offline, inconclusive, probe_set",
        list(verdicts),
    )
    v_adds: Rows = []
    v_cells: list[tuple[int, int, tuple[int, ...]]] = []
    for (bucket, series), add in verdicts.items():
        row = found.get((bucket, series))
        probes, text = rollup.merged(row[4] if row else None, add)
        v_adds.append((bucket, series, *add.counts, probes, text))
        now = (
            add.counts if row is None else [a + b for a, b in zip(row[:4], add.counts, strict=True)]
        )
        v_cells.append((bucket, series, (*now, probes)))
    db.executemany(_ADD_VERDICTS, v_adds)
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
    sets = sqlite_days.stored_rows(
        db, "heartbeat_rollup", ("bucket", "leaf"), "probe_set", list(beats)
    )
    h_adds: Rows = []
    h_cells: list[tuple[int, int, tuple[int, ...]]] = []
    for (bucket, leaf), add in beats.items():
        row = sets.get((bucket, leaf))
        probes, text = rollup.merged(row[0] if row else None, add)
        h_adds.append((bucket, leaf, add.counts[0], probes, text))
        h_cells.append((bucket, leaf, (probes,)))
    db.executemany(_ADD_HEARTBEATS, h_adds)
    sqlite_days.set_cells(db, "heartbeat_days", h_cells)


def _cc_filter(table: str, column: str) -> str:
    return f"(? IS NULL OR {column} IN (SELECT id FROM {table} WHERE cc = ?))"  # noqa: S608


def _regrouped(
    db: sqlite3.Connection,
    table: str,
    counts: str,
    coded: tuple[str, str],
    span: tuple[int, int, int, str | None],
) -> dict[tuple[int, int], tuple[list[int], int]]:
    """Rows of a rollup ``table`` (its key column and the table naming it: ``coded``) in
    [since, until) of country cc, regrouped at ``step_s``: (key, ns) -> (counts, probes).
    Distinct probes come from the probe sets only at coarser steps (at the base step the
    stored count is exact)."""
    since_ns, until_ns, step_s, cc = span
    key, names = coded
    probe_set = "NULL" if step_s == rollup.BASE_S else "probe_set"
    rows = db.execute(
        f"SELECT {key}, bucket, {counts}, probes, {probe_set} FROM {table}"  # noqa: S608
        " WHERE bucket >= ? AND bucket < ? AND " + _cc_filter(names, key),
        [since_ns // rollup.BASE_NS, until_ns // rollup.BASE_NS, cc, cc],
    ).fetchall()
    return rollup.regroup(rows, counts.count(",") + 1, step_s)


def verdict_buckets(
    db: sqlite3.Connection, since_ns: int, until_ns: int, step_s: int, cc: str | None
) -> list[VerdictBucket]:
    if not rollup.served(since_ns, until_ns, step_s):
        return raw_verdict_buckets(db, since_ns, until_ns, step_s, cc)
    span = (since_ns, until_ns, step_s, cc)
    counts = "accessible, blocked, offline, inconclusive"
    groups = _regrouped(db, "verdict_rollup", counts, ("series", "series"), span)
    blocked = db.execute(
        "SELECT b.series, b.bucket, k.method, k.reason, b.count FROM blocked_rollup b"  # noqa: S608
        " JOIN kinds k ON k.id = b.kind WHERE b.bucket >= ? AND b.bucket < ? AND "
        + _cc_filter("series", "b.series"),
        [since_ns // rollup.BASE_NS, until_ns // rollup.BASE_NS, cc, cc],
    ).fetchall()
    series = {int(r[0]): tuple(r[1:]) for r in db.execute("SELECT * FROM series")}
    return rollup.verdict_buckets(groups, series, blocked, step_s)


def heartbeat_buckets(
    db: sqlite3.Connection, since_ns: int, until_ns: int, step_s: int, cc: str | None
) -> list[HeartbeatBucket]:
    if not rollup.served(since_ns, until_ns, step_s):
        return raw_heartbeat_buckets(db, since_ns, until_ns, step_s, cc)
    span = (since_ns, until_ns, step_s, cc)
    groups = _regrouped(db, "heartbeat_rollup", "heartbeats", ("leaf", "leaves"), span)
    leaves = {
        int(r[0]): (str(r[1]), int(r[2]), str(r[3])) for r in db.execute("SELECT * FROM leaves")
    }
    return rollup.heartbeat_buckets(groups, leaves)


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
