"""Day rows of the SQLite rollups: a whole UTC day of one series in one row, as packed arrays.

Reading a day of 1,000 series from the 5-minute rollup means stepping through 288,000 rows; as
day rows it is 1,000 rows whose arrays numpy takes as they are. ``verdict_days.counts`` holds
int32 [accessible, blocked, offline, inconclusive, probes] x 288 buckets; ``heartbeat_days``
the distinct probes x 288. They copy the 5-minute rollup's values (its probe sets stay the
truth for distinct counts), updated in the same transaction, so both always agree.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from collector.store.rollup import BASE_S

PER_DAY = 86_400 // BASE_S
V_FIELDS = 5  # accessible, blocked, offline, inconclusive, probes
_TABLES = {"verdict_days": ("series", V_FIELDS), "heartbeat_days": ("leaf", 1)}

DDL = """
CREATE TABLE IF NOT EXISTS verdict_days (
    day INTEGER NOT NULL, series INTEGER NOT NULL, counts BLOB NOT NULL, PRIMARY KEY (day, series)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heartbeat_days (
    day INTEGER NOT NULL, leaf INTEGER NOT NULL, counts BLOB NOT NULL, PRIMARY KEY (day, leaf)
) WITHOUT ROWID;
"""


def set_cells(
    db: sqlite3.Connection, table: str, cells: Iterable[tuple[int, int, tuple[int, ...]]]
) -> None:
    """Write rollup rows (base bucket, key, values) into their day rows: the touched day rows
    read in one query (``stored_rows``), written back by one executemany."""
    key_column, width = _TABLES[table]
    by_row: dict[tuple[int, int], list[tuple[int, tuple[int, ...]]]] = {}
    for bucket, key, values in cells:
        by_row.setdefault((bucket // PER_DAY, key), []).append((bucket % PER_DAY, values))
    if not by_row:
        return
    found = stored_rows(db, table, ("day", key_column), "counts", list(by_row))
    rows = []
    for (day, key), items in by_row.items():
        row = found.get((day, key))
        if row is None:
            counts = np.zeros((width, PER_DAY), dtype=np.int32)
        else:
            counts = np.frombuffer(row[0], dtype=np.int32).reshape(width, PER_DAY).copy()
        for offset, values in items:
            counts[:, offset] = values
        rows.append((day, key, counts.tobytes()))
    db.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)", rows)  # noqa: S608


_KEYS_PER_QUERY = 400  # (a, b) pairs per lookup: 800 parameters, far below SQLite's limit


def stored_rows(
    db: sqlite3.Connection,
    table: str,
    key: tuple[str, str],
    columns: str,
    wanted: Sequence[tuple[int, int]],
) -> dict[tuple[int, int], tuple[Any, ...]]:
    """``columns`` of the rows of ``table`` whose two-column primary key ``key`` is one of
    ``wanted``, by key; absent keys are left out. One query per 400 keys (a VALUES list joined
    on the primary key) instead of one per key."""
    first, second = key
    found: dict[tuple[int, int], tuple[Any, ...]] = {}
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        chunk = wanted[start : start + _KEYS_PER_QUERY]
        values = ",".join(["(?, ?)"] * len(chunk))
        sql = (
            f"SELECT t.{first}, t.{second}, {columns} FROM (VALUES {values}) AS k"  # noqa: S608
            f" JOIN {table} AS t ON t.{first} = k.column1 AND t.{second} = k.column2"
        )
        for row in db.execute(sql, [v for pair in chunk for v in pair]):
            found[(row[0], row[1])] = tuple(row[2:])
    return found


def rebuild(db: sqlite3.Connection) -> None:
    """Day rows from the 5-minute rollup tables (inside the caller's transaction)."""
    db.execute("DELETE FROM verdict_days")
    db.execute("DELETE FROM heartbeat_days")
    for table, source, columns in (
        (
            "verdict_days",
            "verdict_rollup",
            "series, bucket, accessible, blocked, offline, inconclusive, probes",
        ),
        ("heartbeat_days", "heartbeat_rollup", "leaf, bucket, probes"),
    ):
        width = _TABLES[table][1]
        span = db.execute(f"SELECT min(bucket), max(bucket) FROM {source}").fetchone()  # noqa: S608
        if span[0] is None:
            continue
        for day in range(span[0] // PER_DAY, span[1] // PER_DAY + 1):
            rows = _packed(db, source, columns, 2 + width, day)
            if rows.size == 0:
                continue
            keys, where = np.unique(rows[:, 0], return_inverse=True)
            counts = np.zeros((keys.size, width, PER_DAY), dtype=np.int32)
            offsets = rows[:, 1] - day * PER_DAY
            for field in range(width):
                counts[where, field, offsets] = rows[:, 2 + field]
            db.executemany(
                f"INSERT INTO {table} VALUES (?, ?, ?)",  # noqa: S608
                [(day, int(k), counts[i].tobytes()) for i, k in enumerate(keys)],
            )


def _packed(
    db: sqlite3.Connection, source: str, columns: str, width: int, day: int
) -> npt.NDArray[np.int64]:
    """One day of a rollup table as an (n, width) array, through one text aggregate (SQLite
    steps the rows in C; numpy parses the text)."""
    fmt = ",".join(["%d"] * width)
    (text,) = db.execute(
        f"SELECT group_concat(printf('{fmt}', {columns})) FROM {source}"  # noqa: S608
        " WHERE bucket >= ? AND bucket < ?",
        (day * PER_DAY, (day + 1) * PER_DAY),
    ).fetchone()
    if not text:
        return np.zeros((0, width), dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=",").reshape(-1, width)


def read(
    db: sqlite3.Connection, table: str, first_day: int, days: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Keys and counts (keys, fields, days * PER_DAY) of the day rows of [first_day, +days):
    the blobs joined and taken by numpy as they are (one day: no copy beyond the join)."""
    key_column, width = _TABLES[table]
    rows: list[Any] = db.execute(
        f"SELECT day, {key_column}, counts FROM {table} WHERE day >= ? AND day < ?"  # noqa: S608
        " ORDER BY day, 2",
        (first_day, first_day + days),
    ).fetchall()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, width, days * PER_DAY), dtype=np.int32)
    blobs = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.int32)
    blobs = blobs.reshape(len(rows), width, PER_DAY)
    keys, row = np.unique(np.array([r[1] for r in rows], dtype=np.int64), return_inverse=True)
    if days == 1 and keys.size == len(rows):
        return keys, blobs  # one row per key, in key order
    out = np.zeros((keys.size, width, days * PER_DAY), dtype=np.int32)
    offsets = (np.array([r[0] for r in rows], dtype=np.int64) - first_day) * PER_DAY
    for index, (at, blob) in enumerate(zip(offsets, blobs, strict=True)):
        out[row[index], :, at : at + PER_DAY] = blob
    return keys, out
