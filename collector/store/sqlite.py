"""The embedded store: stdlib sqlite3 in WAL mode, the default when no InfluxDB is configured.

One connection guarded by a lock: SQLite serialises writers anyway, and WAL with
``synchronous=FULL`` makes every committed batch durable before the API acknowledges it
(https://www.sqlite.org/wal.html). Times are integer nanoseconds, the same unit as InfluxDB.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from collector.pseudonym import new_secret
from collector.records import Event, HeartbeatBucket, VerdictBucket
from collector.store.base import (
    Enrolment,
    MeasurementPage,
    MeasurementQuery,
    ProbeRecord,
    StoreMissingError,
    StoreRefusedError,
    StoreUnavailableError,
    WriteResult,
)
from collector.store.buckets import MeasurementBucket, OutcomeCount, fold_outcomes
from collector.store.codec import (
    DAY_NS,
    bound_ns,
    day_starts,
    decode_cursor,
    dumps,
    encode_cursor,
    event_from_dict,
    event_to_dict,
    from_ns,
    heartbeat_record,
    measurement_record,
    new_stamp,
    record_ns,
    to_ns,
    verdict_record,
)
from collector.store.ids import Keyed, sort_out
from probe.model import Heartbeat, Measurement, Verdict

SCHEMA = """
CREATE TABLE IF NOT EXISTS measurements (
    id TEXT PRIMARY KEY, probe_id TEXT NOT NULL, cc TEXT NOT NULL, asn INTEGER NOT NULL,
    network TEXT NOT NULL, target TEXT NOT NULL, category TEXT NOT NULL, test TEXT NOT NULL,
    outcome TEXT NOT NULL, started_ns INTEGER NOT NULL, duration_ms REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS measurements_time ON measurements (started_ns, id);
CREATE INDEX IF NOT EXISTS measurements_cc_time ON measurements (cc, started_ns);
CREATE TABLE IF NOT EXISTS verdicts (
    id TEXT PRIMARY KEY, probe_id TEXT NOT NULL, cc TEXT NOT NULL, asn INTEGER NOT NULL,
    network TEXT NOT NULL, target TEXT NOT NULL, category TEXT NOT NULL, verdict TEXT NOT NULL,
    method TEXT NOT NULL, reason TEXT NOT NULL, at_ns INTEGER NOT NULL, confidence REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_time ON verdicts (at_ns);
CREATE INDEX IF NOT EXISTS verdicts_cc_time ON verdicts (cc, at_ns);
CREATE TABLE IF NOT EXISTS heartbeats (
    id TEXT PRIMARY KEY, probe_id TEXT NOT NULL, cc TEXT NOT NULL, asn INTEGER NOT NULL,
    network TEXT NOT NULL, at_ns INTEGER NOT NULL, uptime_s REAL NOT NULL,
    outbox_depth INTEGER NOT NULL, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS heartbeats_time ON heartbeats (at_ns);
CREATE INDEX IF NOT EXISTS heartbeats_cc_time ON heartbeats (cc, at_ns);
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

_MEASUREMENT_FILTERS = ("cc", "asn", "network", "target", "test", "probe_id")


class SqliteStore:
    """A Store in one SQLite file (``sqlite:PATH``); ``:memory:`` works for tests."""

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        """Open the store at ``path``; with ``create=False`` a missing file is an error, so a
        mistyped path never becomes a new, empty store (issue 14, item 13)."""
        self.path = str(path)
        if self.path != ":memory:":
            if not create and not Path(self.path).is_file():
                raise StoreMissingError(
                    f"no store at {self.path}: check the path; a new store is made only by "
                    "'tyndau collector serve --init' or 'tyndau collector add-probe --create'"
                )
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    def write_batch(
        self,
        *,
        measurements: Sequence[Measurement] = (),
        verdicts: Sequence[Verdict] = (),
        heartbeats: Sequence[Heartbeat] = (),
    ) -> WriteResult:
        """Insert the records new by id; re-sent ones count as duplicates; the id rule
        (collector/store/ids.py) refuses the whole batch when an id names other content."""
        groups = (
            ("measurements", [_measurement_row(m) for m in measurements], 9),
            ("verdicts", [_verdict_row(v) for v in verdicts], 10),
            ("heartbeats", [_heartbeat_row(h) for h in heartbeats], 5),
        )
        keyed = [
            Keyed(group, index, row[0], row[1], row[-1])
            for group, rows, _ in groups
            for index, row in enumerate(rows)
        ]
        rows_of = [row for _, rows, _ in groups for row in rows]
        time_column = [column for _, rows, column in groups for _ in rows]
        with self._transaction() as db:
            kept = sort_out(keyed, _stored(db, keyed))
            by_table: dict[str, list[tuple[Any, ...]]] = {group: [] for group, _, _ in groups}
            for position in kept.fresh:
                by_table[keyed[position].group].append(rows_of[position])
            try:
                for table, rows in by_table.items():
                    if rows:
                        marks = ",".join("?" * len(rows[0]))
                        db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608
            except (sqlite3.IntegrityError, sqlite3.InterfaceError, OverflowError) as exc:
                raise StoreRefusedError(f"sqlite refused the batch: {exc}") from exc
            if kept.fresh:
                times = [rows_of[p][time_column[p]] for p in kept.fresh]
                db.executemany(
                    "INSERT INTO day_stamps VALUES (?, ?)"
                    " ON CONFLICT (day) DO UPDATE SET stamp = excluded.stamp",
                    [(day, new_stamp()) for day in sorted(day_starts(times))],
                )
        return WriteResult(accepted=len(kept.fresh), duplicates=kept.duplicates)

    def measurements(self, query: MeasurementQuery) -> MeasurementPage:
        where = ["started_ns >= ?", "started_ns < ?"]
        params: list[Any] = [bound_ns(query.since), bound_ns(query.until)]
        for name in _MEASUREMENT_FILTERS:
            value = getattr(query, name)
            if value is not None:
                where.append(f"{name} = ?")
                params.append(value)
        if query.cursor is not None:
            ns, record_id = decode_cursor(query.cursor)
            where.append("(started_ns, id) > (?, ?)")
            params += [ns, record_id]
        sql = (
            "SELECT started_ns, id, record FROM measurements WHERE "  # noqa: S608 (fixed names)
            + " AND ".join(where)
            + " ORDER BY started_ns, id LIMIT ?"
        )
        rows = self._read(sql, [*params, query.limit + 1])
        items = [json.loads(r[2]) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        last = rows[query.limit - 1] if more else None
        return MeasurementPage(
            items=items, next_cursor=encode_cursor(last[0], last[1]) if last else None
        )

    def verdict_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[VerdictBucket]:
        """Two GROUP BY queries do the folding in SQLite (counts per kind, distinct probes, and
        the methods and reasons of blocked verdicts), so Python sees one row per bucket, not one
        per probe and verdict kind."""
        step = step_s * 1_000_000_000
        where = "at_ns >= ? AND at_ns < ? AND (? IS NULL OR cc = ?)"
        params = [step, step, bound_ns(since), bound_ns(until), cc, cc]
        counts_sql = (
            "SELECT cc, asn, network, target, category, (at_ns / ?) * ?,"  # noqa: S608 (fixed)
            " sum(verdict = 'accessible'), sum(verdict = 'blocked'), sum(verdict = 'offline'),"
            " sum(verdict = 'inconclusive'), count(DISTINCT probe_id)"
            f" FROM verdicts WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6"
        )
        blocked_sql = (
            "SELECT cc, asn, network, target, category, (at_ns / ?) * ?, method, reason,"  # noqa: S608
            f" count(*) FROM verdicts WHERE {where} AND verdict = 'blocked'"
            " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
        )
        rows = self._read(counts_sql, params)
        blocked = self._read(blocked_sql, params)
        methods: dict[tuple[Any, ...], dict[str, int]] = {}
        reasons: dict[tuple[Any, ...], dict[str, int]] = {}
        for *key, method, reason, count in blocked:
            for table, name in ((methods, method), (reasons, reason)):
                if name:
                    slot = table.setdefault(tuple(key), {})
                    slot[name] = slot.get(name, 0) + count
        starts = _Starts()
        buckets = [
            VerdictBucket(
                cc=row[0], asn=row[1], network=row[2], target=row[3], category=row[4],
                start=starts[row[5]], accessible=row[6], blocked=row[7], offline=row[8],
                inconclusive=row[9], probes=row[10], methods=methods.get(row[:6], {}),
                reasons=reasons.get(row[:6], {}),
            )
            for row in rows
        ]  # fmt: skip
        buckets.sort(key=lambda b: (b.start, b.cc, b.asn, b.network, b.target))
        return buckets

    def heartbeat_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[HeartbeatBucket]:
        step = step_s * 1_000_000_000
        sql = (
            "SELECT cc, asn, network, (at_ns / ?) * ?, count(DISTINCT probe_id), count(*)"
            " FROM heartbeats WHERE at_ns >= ? AND at_ns < ? AND (? IS NULL OR cc = ?)"
            " GROUP BY 1, 2, 3, 4"
        )
        rows = self._read(sql, [step, step, bound_ns(since), bound_ns(until), cc, cc])
        starts = _Starts()
        buckets = [HeartbeatBucket(r[0], r[1], r[2], starts[r[3]], r[4], r[5]) for r in rows]
        buckets.sort(key=lambda b: (b.start, b.cc, b.asn, b.network))
        return buckets

    def measurement_buckets(
        self,
        *,
        since: datetime,
        until: datetime,
        step_s: int,
        cc: str | None = None,
        test: str | None = None,
    ) -> list[MeasurementBucket]:
        step = step_s * 1_000_000_000
        sql = (
            "SELECT cc, asn, network, target, category, test, (started_ns / ?) * ?, outcome,"
            " probe_id, count(*) FROM measurements WHERE started_ns >= ? AND started_ns < ?"
            " AND (? IS NULL OR cc = ?) AND (? IS NULL OR test = ?)"
            " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"
        )
        params = [step, step, bound_ns(since), bound_ns(until), cc, cc, test, test]
        return fold_outcomes([OutcomeCount(*row) for row in self._read(sql, params)])

    def day_stamps(self, *, since: datetime, until: datetime) -> dict[int, int]:
        first = bound_ns(since) // DAY_NS * 86_400
        rows = self._read(
            "SELECT day, stamp FROM day_stamps WHERE day >= ? AND day < ?",
            [first, bound_ns(until) // 1_000_000_000],
        )
        return {int(day): int(stamp) for day, stamp in rows}

    def write_events(self, events: list[Event]) -> None:
        rows = [
            (
                e.id,
                e.scope.cc,
                to_ns(e.start),
                None if e.end is None else to_ns(e.end),
                dumps(event_to_dict(e)),
            )
            for e in events
        ]
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO events VALUES (?,?,?,?,?)", rows)

    def events(self, *, since: datetime, until: datetime, cc: str | None = None) -> list[Event]:
        sql = "SELECT record FROM events WHERE start_ns < ? AND (end_ns IS NULL OR end_ns > ?)"
        params: list[Any] = [bound_ns(until), bound_ns(since)]
        if cc is not None:
            sql += " AND cc = ?"
            params.append(cc)
        rows = self._read(sql + " ORDER BY start_ns, id", params)
        return [event_from_dict(json.loads(r[0])) for r in rows]

    def add_probe(self, probe: ProbeRecord) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO probes VALUES (?,?,?,?)",
                (probe.probe_id, probe.name, probe.token_hash, to_ns(probe.created)),
            )

    def probe_by_token_hash(self, token_hash: str) -> ProbeRecord | None:
        rows = self._read(
            "SELECT probe_id, name, token_hash, created_ns FROM probes WHERE token_hash = ?",
            [token_hash],
        )
        if not rows:
            return None
        probe_id, name, stored_hash, created_ns = rows[0]
        return ProbeRecord(probe_id, name, stored_hash, from_ns(created_ns))

    def publication_secret(self) -> bytes:
        """Kept in ``meta``; INSERT OR IGNORE in one transaction: the first writer's wins."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('publication_secret', ?)", (new_secret().hex(),)
            )
            row = db.execute("SELECT value FROM meta WHERE key = 'publication_secret'")
            (value,) = row.fetchone()
        return bytes.fromhex(value)

    def add_enrolment(self, enrolment: Enrolment) -> None:
        e = enrolment
        with self._transaction() as db:
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

    def enrolments(self) -> list[Enrolment]:
        rows = self._read(f"SELECT {_ENROLMENT_COLUMNS} FROM enrolments ORDER BY created_ns", [])  # noqa: S608
        return [_enrolment(row) for row in rows]

    def use_enrolment(self, token_hash: str, *, now: datetime) -> Enrolment | None:
        with self._transaction() as db:
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

    def revoke_enrolment(self, enrolment_id: str) -> bool:
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE enrolments SET revoked = 1 WHERE id = ?", (enrolment_id,)
            ).rowcount
        return bool(changed == 1)

    def ping(self) -> None:
        self._read("SELECT 1", [])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"sqlite: {exc}") from exc

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)


class _Transaction:
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


_ENROLMENT_COLUMNS = "id, note, token_hash, max_uses, uses, expires_ns, created_ns, revoked"


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


_LOOKUP_CHUNK = 500  # ids per SELECT (SQLite allows 32,766 parameters since 3.32)


def _stored(db: sqlite3.Connection, batch: Sequence[Keyed]) -> dict[tuple[str, str], Keyed]:
    """The records already stored under the batch's ids, by (group, id)."""
    found: dict[tuple[str, str], Keyed] = {}
    for group in ("measurements", "verdicts", "heartbeats"):
        ids = sorted({k.id for k in batch if k.group == group})
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, probe_id, record FROM {group} WHERE id IN ({marks})"  # noqa: S608
            for record_id, probe_id, record in db.execute(sql, chunk):
                found[(group, record_id)] = Keyed(group, -1, record_id, probe_id, record)
    return found


class _Starts(dict[int, datetime]):
    """Bucket start times by ns, each converted once (a day has 288 buckets, not 100,000)."""

    def __missing__(self, ns: int) -> datetime:
        self[ns] = start = from_ns(ns)
        return start


def _vantage(record: Measurement | Verdict | Heartbeat) -> tuple[str, int, str]:
    return record.vantage.cc, record.vantage.asn, record.vantage.network


def _measurement_row(m: Measurement) -> tuple[Any, ...]:
    return (
        m.id, m.probe_id, *_vantage(m), m.target.name, m.target.category.value, m.test.value,
        m.outcome, record_ns(m.started_at, m.id), m.duration_ms, dumps(measurement_record(m)),
    )  # fmt: skip


def _verdict_row(v: Verdict) -> tuple[Any, ...]:
    return (
        v.id, v.probe_id, *_vantage(v), v.target.name, v.target.category.value, v.verdict.value,
        v.method.value if v.method else "", v.reason.value if v.reason else "",
        record_ns(v.at, v.id), v.confidence, dumps(verdict_record(v)),
    )  # fmt: skip


def _heartbeat_row(h: Heartbeat) -> tuple[Any, ...]:
    return (
        h.id, h.probe_id, *_vantage(h), record_ns(h.at, h.id), h.uptime_s, h.outbox_depth,
        dumps(heartbeat_record(h)),
    )  # fmt: skip
