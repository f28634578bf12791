"""The SQLite store's small tables: probes, enrolment tokens and the publication secret, and
the write transaction every store write runs in.

Functions over a connection the store hands in (inside its lock, in its transaction for
writes); the bulk records (verdicts, heartbeats, measurements) live in sqlite_rows.py.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from typing import Any

from collector.pseudonym import new_secret
from collector.store.base import Enrolment, ProbeRecord, StoreUnavailableError
from collector.store.codec import from_ns, to_ns

_ENROLMENT_COLUMNS = "id, note, token_hash, max_uses, uses, expires_ns, created_ns, revoked"


class Transaction:
    """BEGIN IMMEDIATE .. COMMIT under the store's lock; errors become StoreUnavailableError."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._lock.release()
            raise StoreUnavailableError(f"sqlite: {exc}") from exc
        return self._db

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        try:
            self._db.execute("COMMIT" if kind is None else "ROLLBACK")
        except sqlite3.OperationalError as failed:  # e.g. disk full at commit
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreUnavailableError(f"sqlite: {failed}") from failed
        finally:
            self._lock.release()
        if isinstance(exc, sqlite3.OperationalError):
            raise StoreUnavailableError(f"sqlite: {exc}") from exc


def add_probe(db: sqlite3.Connection, probe: ProbeRecord) -> None:
    db.execute(
        "INSERT INTO probes VALUES (?,?,?,?)",
        (probe.probe_id, probe.name, probe.token_hash, to_ns(probe.created)),
    )


def probe_by_token_hash(db: sqlite3.Connection, token_hash: str) -> ProbeRecord | None:
    row = db.execute(
        "SELECT probe_id, name, token_hash, created_ns FROM probes WHERE token_hash = ?",
        [token_hash],
    ).fetchone()
    if row is None:
        return None
    probe_id, name, stored_hash, created_ns = row
    return ProbeRecord(probe_id, name, stored_hash, from_ns(created_ns))


def publication_secret(db: sqlite3.Connection) -> bytes:
    """The stored secret, made by the first caller (INSERT OR IGNORE: the first writer's wins)."""
    db.execute("INSERT OR IGNORE INTO meta VALUES ('publication_secret', ?)", (new_secret().hex(),))
    (value,) = db.execute("SELECT value FROM meta WHERE key = 'publication_secret'").fetchone()
    return bytes.fromhex(value)


def add_enrolment(db: sqlite3.Connection, e: Enrolment) -> None:
    db.execute(
        "INSERT INTO enrolments VALUES (?,?,?,?,?,?,?,?)",
        (
            e.enrolment_id,
            e.note,
            e.token_hash,
            e.max_uses,
            e.uses,
            to_ns(e.expires),
            to_ns(e.created),
            int(e.revoked),
        ),
    )


def enrolments(db: sqlite3.Connection) -> list[Enrolment]:
    sql = f"SELECT {_ENROLMENT_COLUMNS} FROM enrolments ORDER BY created_ns"  # noqa: S608
    return [_enrolment(row) for row in db.execute(sql)]


def use_enrolment(db: sqlite3.Connection, token_hash: str, now: datetime) -> Enrolment | None:
    """Count one use of a usable token; None (nothing counted) when it is not usable."""
    used = db.execute(
        "UPDATE enrolments SET uses = uses + 1 WHERE token_hash = ? AND revoked = 0"
        " AND uses < max_uses AND expires_ns > ?",
        (token_hash, to_ns(now)),
    ).rowcount
    row = db.execute(
        f"SELECT {_ENROLMENT_COLUMNS} FROM enrolments WHERE token_hash = ?",  # noqa: S608
        (token_hash,),
    ).fetchone()
    return _enrolment(row) if used == 1 and row is not None else None


def revoke_enrolment(db: sqlite3.Connection, enrolment_id: str) -> bool:
    changed = db.execute("UPDATE enrolments SET revoked = 1 WHERE id = ?", (enrolment_id,)).rowcount
    return bool(changed == 1)


def _enrolment(row: tuple[Any, ...]) -> Enrolment:
    enrolment_id, note, token_hash, max_uses, uses, expires_ns, created_ns, revoked = row
    return Enrolment(
        enrolment_id,
        note,
        token_hash,
        int(max_uses),
        int(uses),
        from_ns(expires_ns),
        from_ns(created_ns),
        bool(revoked),
    )
