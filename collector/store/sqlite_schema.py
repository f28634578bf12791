"""The SQLite store's tables, the migration of a store of the first layout, and rollup rebuilds.

Verdicts and heartbeats are the bulk of a store, so their rows hold integer codes: a series
(cc, asn, network, target, category), a leaf (cc, asn, network), a probe and a verdict kind
(verdict, method, reason) each have a dictionary table, a UUID id is kept as its 16 bytes, and
only what no column holds (domain, round id, measurement ids, explanation...) is kept as a short
JSON array. The tables are WITHOUT ROWID, clustered by id: the only lookup of raw rows on the
ingest path is by id, and every bucket read comes from the rollup tables (clustered by bucket).
The views ``verdict_rows`` and ``heartbeat_rows`` show the raw rows decoded, for the reads at
steps the rollups cannot answer and for checks.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Callable

from collector.store import sqlite_days
from collector.store.rollup import BASE_NS

SCHEMA = """
CREATE TABLE IF NOT EXISTS measurements (
    id TEXT PRIMARY KEY, probe_id TEXT NOT NULL, cc TEXT NOT NULL, asn INTEGER NOT NULL,
    network TEXT NOT NULL, target TEXT NOT NULL, category TEXT NOT NULL, test TEXT NOT NULL,
    outcome TEXT NOT NULL, started_ns INTEGER NOT NULL, duration_ms REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS measurements_time ON measurements (started_ns, id);
CREATE INDEX IF NOT EXISTS measurements_cc_time ON measurements (cc, started_ns);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, cc TEXT NOT NULL, asn INTEGER NOT NULL, network TEXT NOT NULL,
    target TEXT NOT NULL, category TEXT NOT NULL, UNIQUE (cc, asn, network, target, category)
);
CREATE TABLE IF NOT EXISTS leaves (
    id INTEGER PRIMARY KEY, cc TEXT NOT NULL, asn INTEGER NOT NULL, network TEXT NOT NULL,
    UNIQUE (cc, asn, network)
);
CREATE TABLE IF NOT EXISTS probe_codes (id INTEGER PRIMARY KEY, probe_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS kinds (
    id INTEGER PRIMARY KEY, verdict TEXT NOT NULL, method TEXT NOT NULL, reason TEXT NOT NULL,
    UNIQUE (verdict, method, reason)
);
CREATE TABLE IF NOT EXISTS verdicts (
    id PRIMARY KEY, probe INTEGER NOT NULL, series INTEGER NOT NULL, kind INTEGER NOT NULL,
    at_ns INTEGER NOT NULL, confidence REAL NOT NULL, extra TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heartbeats (
    id PRIMARY KEY, probe INTEGER NOT NULL, leaf INTEGER NOT NULL, at_ns INTEGER NOT NULL,
    uptime_s REAL NOT NULL, outbox_depth INTEGER NOT NULL, extra TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS verdict_rollup (
    bucket INTEGER NOT NULL, series INTEGER NOT NULL, accessible INTEGER NOT NULL,
    blocked INTEGER NOT NULL, offline INTEGER NOT NULL, inconclusive INTEGER NOT NULL,
    probes INTEGER NOT NULL, probe_set TEXT NOT NULL, PRIMARY KEY (bucket, series)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocked_rollup (
    bucket INTEGER NOT NULL, series INTEGER NOT NULL, kind INTEGER NOT NULL,
    count INTEGER NOT NULL, PRIMARY KEY (bucket, series, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heartbeat_rollup (
    bucket INTEGER NOT NULL, leaf INTEGER NOT NULL, heartbeats INTEGER NOT NULL,
    probes INTEGER NOT NULL, probe_set TEXT NOT NULL, PRIMARY KEY (bucket, leaf)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS verdict_rows AS
    SELECT v.id, p.probe_id, s.cc, s.asn, s.network, s.target, s.category, k.verdict,
    k.method, k.reason, v.at_ns, v.confidence, v.extra
    FROM verdicts v JOIN probe_codes p ON p.id = v.probe JOIN series s ON s.id = v.series
    JOIN kinds k ON k.id = v.kind;
CREATE VIEW IF NOT EXISTS heartbeat_rows AS
    SELECT h.id, p.probe_id, l.cc, l.asn, l.network, h.at_ns, h.uptime_s, h.outbox_depth,
    h.extra FROM heartbeats h JOIN probe_codes p ON p.id = h.probe JOIN leaves l ON l.id = h.leaf;
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, cc TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time ON events (start_ns);
CREATE TABLE IF NOT EXISTS day_stamps (day INTEGER PRIMARY KEY, stamp INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS enrolments (
    id TEXT PRIMARY KEY, note TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    max_uses INTEGER NOT NULL, uses INTEGER NOT NULL, expires_ns INTEGER NOT NULL,
    created_ns INTEGER NOT NULL, revoked INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS probes (
    probe_id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    created_ns INTEGER NOT NULL
);
"""
SCHEMAS = (SCHEMA, sqlite_days.DDL)

ROLLUP_KEY = "rollup_version"
ROLLUP_VERSION = "2"  # bump when the rollup tables' meaning changes: they are rebuilt on open

Say = Callable[[str], None]


def terminal_say(text: str) -> None:
    """Progress of a long migration, on standard error when it is a terminal."""
    if sys.stderr.isatty():
        print(f"tyndau store: {text}", file=sys.stderr, flush=True)


def first_layout(db: sqlite3.Connection) -> bool:
    """Whether the store holds verdicts in the first layout (text columns, the record as JSON)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(verdicts)")}
    return "record" in columns


def rename_first_layout(db: sqlite3.Connection) -> None:
    """Move the first layout's verdict and heartbeat tables aside (their indexes go)."""
    db.executescript(
        "BEGIN IMMEDIATE;"
        "DROP INDEX IF EXISTS verdicts_time; DROP INDEX IF EXISTS verdicts_cc_time;"
        "DROP INDEX IF EXISTS heartbeats_time; DROP INDEX IF EXISTS heartbeats_cc_time;"
        "ALTER TABLE verdicts RENAME TO verdicts_v1;"
        "ALTER TABLE heartbeats RENAME TO heartbeats_v1; COMMIT;"
    )


def moved_aside(db: sqlite3.Connection) -> bool:
    """Whether first-layout tables wait to be copied (a migration was interrupted, or is due)."""
    row = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'verdicts_v1'").fetchone()
    return row is not None


def rebuild_rollups(db: sqlite3.Connection, say: Say = terminal_say) -> None:
    """Recompute every rollup row from the raw rows (migration, or a rollup of another version);
    one transaction, so a reader sees the old rollups or the new ones."""
    began = time.monotonic()
    count = db.execute("SELECT count(*) FROM verdicts").fetchone()[0]
    say(f"building rollups from {count:,d} verdicts (once: later writes keep them up to date)")
    ticks = [0]

    def progress() -> int:
        ticks[0] += 1
        if ticks[0] % 200 == 0:
            say(f"  ... {time.monotonic() - began:.0f} s")
        return 0

    db.set_progress_handler(progress, 1_000_000)
    try:
        db.execute("BEGIN IMMEDIATE")
        for table in ("verdict_rollup", "blocked_rollup", "heartbeat_rollup"):
            db.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)
        db.execute(
            "INSERT INTO verdict_rollup SELECT v.at_ns / ?, v.series,"
            " sum(k.verdict = 'accessible'), sum(k.verdict = 'blocked'),"
            " sum(k.verdict = 'offline'), sum(k.verdict = 'inconclusive'),"
            " count(DISTINCT v.probe), group_concat(DISTINCT v.probe)"
            " FROM verdicts v JOIN kinds k ON k.id = v.kind GROUP BY 1, 2",
            [BASE_NS],
        )
        db.execute(
            "INSERT INTO blocked_rollup SELECT v.at_ns / ?, v.series, v.kind, count(*)"
            " FROM verdicts v JOIN kinds k ON k.id = v.kind WHERE k.verdict = 'blocked'"
            " GROUP BY 1, 2, 3",
            [BASE_NS],
        )
        db.execute(
            "INSERT INTO heartbeat_rollup SELECT at_ns / ?, leaf, count(*),"
            " count(DISTINCT probe), group_concat(DISTINCT probe) FROM heartbeats GROUP BY 1, 2",
            [BASE_NS],
        )
        sqlite_days.rebuild(db)
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [ROLLUP_KEY, ROLLUP_VERSION])
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.set_progress_handler(None, 0)
    say(f"rollups built in {time.monotonic() - began:.1f} s")


def rollups_current(db: sqlite3.Connection) -> bool:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [ROLLUP_KEY]).fetchone()
    return row is not None and row[0] == ROLLUP_VERSION


def loads_record(text: str) -> dict[str, object]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a stored record is not a JSON object")
    return data
