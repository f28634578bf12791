"""The probe's durable outbox: every record is written here before any upload is tried.

Store and forward (DESIGN.md decision 1): measurements, verdicts and heartbeats wait in SQLite
until the collector acknowledges them, keeping their ids and timestamps, so data measured during a
shutdown arrives when the network comes back. Journal mode is WAL with ``synchronous=FULL``: in
WAL mode ``NORMAL`` may lose the last committed transactions on a power cut (SQLite docs,
"pragma synchronous"), power cuts are common on volunteers' Raspberry Pis, and a probe commits a
few transactions a minute, so the extra fsync per commit costs nothing measurable.

The disk cap (``max_bytes``) counts stored record bytes. When a write would pass it, heartbeats
are thinned first (every other one, oldest first: the series stays, only sparser), then the
oldest verdicts and measurements go; what was dropped is counted per kind until a heartbeat
reports it (a thinned heartbeat's report is carried forward to the next one).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class Kind(StrEnum):
    """What an outbox record is; the batch key it travels under is ``<kind>s``."""

    MEASUREMENT = "measurement"
    VERDICT = "verdict"
    HEARTBEAT = "heartbeat"


@dataclass(frozen=True, slots=True)
class Record:
    """One record waiting for upload: ``body`` is the JSON text of the model's ``to_dict()``."""

    seq: int
    id: str
    kind: Kind
    body: str

    @property
    def size(self) -> int:
        return len(self.body.encode())


@dataclass(frozen=True, slots=True)
class Depth:
    records: int
    bytes: int
    oldest_seq: int | None


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A record the collector refused, kept with its answer (``probe status`` lists them)."""

    id: str
    kind: str
    reason: str


class OutboxError(Exception):
    """The outbox file cannot be opened or written (disk full, permissions)."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_kind ON records (kind, seq);
CREATE TABLE IF NOT EXISTS quarantine (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


VACUUM_FREE_PAGES = 256  # 1 MB of 4 KiB pages

_SELECT = {
    "ASC": "SELECT seq, id, kind, size, body FROM records ORDER BY seq ASC LIMIT ?",
    "DESC": "SELECT seq, id, kind, size, body FROM records ORDER BY seq DESC LIMIT ?",
}


class Outbox:
    """A SQLite outbox shared by the daemon's threads (one connection, one lock)."""

    def __init__(self, path: Path, *, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # effective on a new file only
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            # acknowledged records are overwritten, not left in free pages for a forensic
            # reader of a seized device (docs/volunteers.md, "Who can learn what")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot open the outbox {path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(
        self,
        records: Iterable[tuple[Kind, dict[str, Any]]],
        *,
        reported_dropped: dict[str, int] | None = None,
    ) -> int:
        """Store records in one transaction (ids kept; a known id is ignored); returns how many
        were new. ``reported_dropped`` is subtracted from the pending drop counts in the same
        transaction, so a heartbeat that reports drops and the reset are atomic."""
        rows = []
        for kind, data in records:
            body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
            rows.append((str(data["id"]), kind.value, len(body.encode()), body))
        with self._lock, self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO records (id, kind, size, body) VALUES (?, ?, ?, ?)", rows
            )
            added = self._db.total_changes - before
            for kind_name, count in (reported_dropped or {}).items():
                self._bump(f"dropped.{kind_name}", -count)
            self._enforce_cap()
        return added

    def oldest(self, *, max_records: int, max_bytes: int) -> list[Record]:
        """The oldest waiting records, bounded in count and bytes (always at least one)."""
        return self._select("ASC", max_records, max_bytes)

    def newest(self, *, max_records: int, max_bytes: int) -> list[Record]:
        """The newest waiting records, so fresh rounds are not starved behind a backlog."""
        return self._select("DESC", max_records, max_bytes)

    def ack(self, ids: Sequence[str]) -> None:
        """The collector has these records: delete them."""
        with self._lock, self._transaction():
            self._db.executemany("DELETE FROM records WHERE id = ?", [(i,) for i in ids])
        with self._lock:
            free = int(self._db.execute("PRAGMA freelist_count").fetchone()[0])
            if free > VACUUM_FREE_PAGES:  # give a drained backlog's space back to the disk
                # executescript steps to the end: execute() would free one page only
                self._db.executescript(f"PRAGMA incremental_vacuum({free});")

    def quarantine(self, record_ids: Sequence[str], reason: str) -> None:
        """Move records the collector rejects out of the queue (kept for inspection, counted)."""
        with self._lock, self._transaction():
            for record_id in record_ids:
                row = self._db.execute(
                    "SELECT kind, body FROM records WHERE id = ?", (record_id,)
                ).fetchone()
                if row is None:
                    continue
                self._db.execute(
                    "INSERT OR REPLACE INTO quarantine (id, kind, body, reason) VALUES (?,?,?,?)",
                    (record_id, row[0], row[1], reason[:2000]),
                )
                self._db.execute("DELETE FROM records WHERE id = ?", (record_id,))
                self._bump("quarantined", 1)

    def quarantined(self, *, limit: int = 20) -> list[Quarantined]:
        """The records set aside, newest first, each with the collector's answer."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, reason FROM quarantine ORDER BY rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Quarantined(str(i), str(k), str(r)) for i, k, r in rows]

    def depth(self) -> Depth:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*), coalesce(sum(size), 0), min(seq) FROM records"
            ).fetchone()
        return Depth(records=int(row[0]), bytes=int(row[1]), oldest_seq=row[2])

    def counts_by_kind(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT kind, count(*) FROM records GROUP BY kind").fetchall()
        return {str(kind): int(n) for kind, n in rows}

    def pending_dropped(self) -> dict[str, int]:
        """Records dropped by the disk cap and not yet reported in a heartbeat, per kind."""
        with self._lock:
            rows = self._db.execute(
                "SELECT name, value FROM counters WHERE name LIKE 'dropped.%' AND value > 0"
            ).fetchall()
        return {str(name).removeprefix("dropped."): int(value) for name, value in rows}

    def counter(self, name: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def ids(self) -> set[str]:
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT id FROM records")}

    def _select(self, order: str, max_records: int, max_bytes: int) -> list[Record]:
        picked: list[Record] = []
        total = 0
        with self._lock:
            cursor = self._db.execute(_SELECT[order], (max_records,))
            for seq, record_id, kind, size, body in cursor:
                if picked and total + size > max_bytes:
                    break
                picked.append(Record(int(seq), str(record_id), Kind(kind), str(body)))
                total += int(size)
        picked.sort(key=lambda r: r.seq)
        return picked

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _bump(self, name: str, delta: int) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, max(?, 0)) "
            "ON CONFLICT(name) DO UPDATE SET value = max(value + ?, 0)",
            (name, delta, delta),
        )

    def _stored_bytes(self) -> int:
        row = self._db.execute("SELECT coalesce(sum(size), 0) FROM records").fetchone()
        return int(row[0])

    def _carry_forward(self, heartbeat_body: str) -> None:
        """A thinned heartbeat's drop report goes back to the pending counts: never lost."""
        try:
            reported = json.loads(heartbeat_body).get("dropped") or {}
        except (ValueError, AttributeError):
            return
        for kind_name, count in reported.items():
            if isinstance(count, int) and count > 0:
                self._bump(f"dropped.{kind_name}", count)

    def _enforce_cap(self) -> None:
        """Thin heartbeats, then drop the oldest verdicts and measurements, until under the cap."""
        excess = self._stored_bytes() - self.max_bytes
        while excess > 0:
            beats = self._db.execute(
                "SELECT seq, size, body FROM records WHERE kind = 'heartbeat' ORDER BY seq"
            ).fetchall()
            if len(beats) <= 1:
                break
            victims = beats[:-1][0::2]  # every other one, oldest first; the newest stays
            freed = 0
            dropped = 0
            for seq, size, body in victims:
                if freed >= excess:
                    break
                self._db.execute("DELETE FROM records WHERE seq = ?", (seq,))
                self._carry_forward(body)
                freed += int(size)
                dropped += 1
            self._bump(f"dropped.{Kind.HEARTBEAT.value}", dropped)
            excess -= freed
        while excess > 0:
            row = self._db.execute(
                "SELECT seq, kind, size FROM records WHERE kind != 'heartbeat' ORDER BY seq LIMIT 1"
            ).fetchone()
            if row is None:
                break
            self._db.execute("DELETE FROM records WHERE seq = ?", (row[0],))
            self._bump(f"dropped.{row[1]}", 1)
            excess -= int(row[2])


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back when the block raises."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
