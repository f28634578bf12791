"""A collector SQLite store filled in bulk for bench/anomaly_scan.py: series x days of verdicts.

20 platform targets and a control per vantage group, 2 probes each reporting every 5 minutes,
heartbeats, 1% blocked noise and one silent spell, written in SQL in the store's own coded layout
(bypassing the API, which would take hours), then the rollups built as on opening an older store.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from collector.store.sqlite import SqliteStore
from probe.model import Category, TargetRef, Vantage, Verdict, VerdictKind

STEP_S = 300
SINCE = datetime(2026, 1, 1, tzinfo=UTC)

TARGETS = 20  # platform targets per vantage group
PROBES = 2  # per vantage group: the fewest an event may rest on (min_probes)
COUNTRIES = ("KZ", "UZ", "KG", "TJ", "TM", "AZ", "GE", "AM", "MN", "BY")


def _uid(ms: int, serial: int) -> bytes:
    """A 16-byte id laid out as a UUIDv7 (time first), as probes make them."""
    return ((ms << 80) | (7 << 76) | serial).to_bytes(16, "big")


def fill_store(path: Path, series: int, days: float, *, first_day: int = 0) -> tuple[int, float]:
    """A collector SQLite store with ``series`` (group, target) series over ``days``, written
    in SQL in the store's own coded layout (bypassing the API), then its rollups built from
    the rows as the store does on opening an older store. Returns (verdicts, rollup seconds)."""
    SqliteStore(path).close()  # the collector's own schema
    groups = max(1, series // TARGETS)
    n = int(days * 86400) // STEP_S
    t0 = int(SINCE.timestamp()) + first_day * 86400
    db = sqlite3.connect(path, isolation_level=None)
    db.create_function("uid", 2, _uid, deterministic=True)
    db.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
        "CREATE TEMP TABLE pair(g, cc, asn, network, target, category);"
        "CREATE TEMP TABLE probe(g, k, code);"
        "CREATE TEMP TABLE t(i INTEGER PRIMARY KEY);"
    )
    rows, leaves = [], []
    for g in range(groups):
        vantage = (COUNTRIES[g % len(COUNTRIES)], 64500 + g // 2, ("fixed", "mobile")[g % 2])
        leaves.append((g + 1, *vantage))
        rows += [(g, *vantage, f"platform-{k}", "platform") for k in range(TARGETS)]
        rows.append((g, *vantage, "control", "control"))
    db.execute("BEGIN")
    db.executemany("INSERT INTO pair VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO series SELECT rowid, cc, asn, network, target, category FROM pair")
    db.executemany("INSERT INTO leaves VALUES (?, ?, ?, ?)", leaves)
    probes = [(g, k, g * PROBES + k + 1) for g in range(groups) for k in range(PROBES)]
    db.executemany("INSERT INTO probe VALUES (?, ?, ?)", probes)
    db.executemany(
        "INSERT INTO probe_codes VALUES (?, ?)", [(c, f"probe-{g}-{k}") for g, k, c in probes]
    )
    db.executemany(
        "INSERT INTO kinds VALUES (?, ?, ?, ?)",
        [(1, "accessible", "", ""), (2, "blocked", "dns", "dns.nxdomain")],
    )
    db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(n)])
    silent = (n * 2 // 3, n * 2 // 3 + 24)  # group 0 silent for two hours
    db.execute(
        "INSERT INTO verdicts SELECT uid(at_ns / 1000000, (rowid_ << 8) + k), code, rowid_,"
        " CASE WHEN blocked THEN 2 ELSE 1 END, at_ns, 1.0, '[]' FROM ("
        "  SELECT pair.rowid AS rowid_, probe.k AS k, probe.code AS code,"
        "  ((t.i * 7 + pair.rowid * 13 + probe.k) % 100 = 0 AND pair.category = 'platform')"
        "  AS blocked, (? + t.i * ? + 30 + probe.k) * 1000000000 AS at_ns"
        "  FROM t JOIN pair JOIN probe ON probe.g = pair.g"
        "  WHERE NOT (pair.g = 0 AND t.i >= ? AND t.i < ?))",
        [t0, STEP_S, *silent],
    )
    db.execute(
        "INSERT INTO heartbeats SELECT uid((? + t.i * ? + 20 + probe.k) * 1000, probe.code),"
        " probe.code, probe.g + 1, (? + t.i * ? + 20 + probe.k) * 1000000000, t.i * 300.0, 0,"
        " '[\"0.1\"]' FROM t JOIN probe WHERE NOT (probe.g = 0 AND t.i >= ? AND t.i < ?)",
        [t0, STEP_S, t0, STEP_S, *silent],
    )
    db.executemany(
        "INSERT INTO day_stamps VALUES (?, abs(random()))",
        [(t0 + d * 86400,) for d in range(int(-(-days // 1)))],
    )
    db.execute("COMMIT")
    count: int = db.execute("SELECT count(*) FROM verdicts").fetchone()[0]
    db.close()
    began = time.perf_counter()
    store = SqliteStore(path)
    store.rebuild_rollups()
    store.close()
    return count, time.perf_counter() - began


def storage(path: Path) -> dict[str, int]:
    """Bytes per table and index (SQLite's dbstat), after a checkpoint."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
    sizes = {str(name): int(size) for name, size in rows}
    db.close()
    return sizes


def late_verdict(at: datetime, name: str) -> Verdict:
    """One accessible verdict of the first vantage group's first platform, timed ``at``."""
    vantage = Vantage(COUNTRIES[0], 64500, "fixed")
    target = TargetRef("platform-0", "platform-0.test", Category.PLATFORM)
    return Verdict(
        name, "probe-0-0", vantage, target, "r", at, VerdictKind.ACCESSIBLE, None, None, 1.0, ()
    )
