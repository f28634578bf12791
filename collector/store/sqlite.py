"""The embedded store: stdlib sqlite3 in WAL mode, the default when no InfluxDB is configured.

One connection guarded by a lock: SQLite serialises writers anyway, and WAL with
``synchronous=FULL`` makes every committed batch durable before the API acknowledges it
(https://www.sqlite.org/wal.html). Times are integer nanoseconds, the same unit as InfluxDB.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from collector.records import Event, HeartbeatBucket, VerdictBucket
from collector.store import sqlite_columns, sqlite_registry, sqlite_rollup
from collector.store.base import (
    Enrolment,
    MeasurementPage,
    MeasurementQuery,
    OutcomeQuery,
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
    heartbeat_record,
    new_stamp,
    to_ns,
    verdict_record,
)
from collector.store.columns import HeartbeatColumns, VerdictColumns
from collector.store.ids import Keyed, sort_out
from collector.store.rollup import BASE_S, served, widened
from collector.store.sqlite_registry import Transaction
from collector.store.sqlite_rollup import add_rollups
from collector.store.sqlite_rows import (
    Codes,
    copy_first_layout,
    heartbeat_row,
    kind_column,
    measurement_row,
    stored,
    verdict_row,
)
from collector.store.sqlite_schema import (
    ROLLUP_KEY,
    SCHEMAS,
    first_layout,
    moved_aside,
    rebuild_rollups,
    rename_first_layout,
    rollups_current,
    terminal_say,
)
from probe.model import Heartbeat, Measurement, Verdict

_MEASUREMENT_FILTERS = ("cc", "asn", "network", "target", "test", "probe_id")


def _compared(
    keyed: list[Keyed],
    found: dict[tuple[str, str], Keyed],
    verdicts: Sequence[Verdict],
    heartbeats: Sequence[Heartbeat],
) -> list[Keyed]:
    """``keyed`` (its verdicts and heartbeats last) with the stored form of every verdict and
    heartbeat whose id the id rule compares: stored already, or twice in the batch; no other's
    stored form is ever read, so it is not written out (an import of new records makes none)."""
    out = keyed
    offset = len(keyed) - len(verdicts) - len(heartbeats)
    groups: tuple[tuple[str, Sequence[Verdict | Heartbeat]], ...] = (
        ("verdicts", verdicts),
        ("heartbeats", heartbeats),
    )
    for group, records in groups:
        ids = [r.id for r in records]
        known = {rid for g, rid in found if g == group}
        if len(set(ids)) < len(ids) or not known.isdisjoint(ids):
            counts = Counter(ids)
            for index, record in enumerate(records):
                if counts[record.id] > 1 or record.id in known:
                    out = list(keyed) if out is keyed else out
                    text = dumps(
                        verdict_record(record)
                        if isinstance(record, Verdict)
                        else heartbeat_record(record)
                    )
                    out[offset + index] = Keyed(group, index, record.id, record.probe_id, text)
        offset += len(records)
    return out


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
        self._codes = Codes()
        self._open_layout()

    def _open_layout(self) -> None:
        """Create the tables; move a store of the first layout into the compact one and build
        missing (or outdated) rollups from the raw rows, with progress on a terminal."""
        with self._lock:
            db = self._db
            if first_layout(db):
                terminal_say(f"{self.path}: moving verdicts and heartbeats to the compact layout")
                rename_first_layout(db)
            for schema in SCHEMAS:
                db.executescript(schema)
            if moved_aside(db):
                db.execute("BEGIN IMMEDIATE")
                try:
                    copy_first_layout(db, self._codes, terminal_say)
                    db.execute("DELETE FROM meta WHERE key = ?", [ROLLUP_KEY])
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    self._codes.drop()
                    raise
                self._codes.keep()
            if not rollups_current(db):
                rebuild_rollups(db)

    def rebuild_rollups(self) -> None:
        """Recompute the rollups from the raw rows (after rows were written around the store,
        as the benchmark's bulk fill does)."""
        with self._lock:
            rebuild_rollups(self._db)

    def write_batch(
        self,
        *,
        measurements: Sequence[Measurement] = (),
        verdicts: Sequence[Verdict] = (),
        heartbeats: Sequence[Heartbeat] = (),
    ) -> WriteResult:
        """Insert the records new by id and add them to the rollups, in one transaction;
        re-sent ones count as duplicates (and add nothing); the id rule
        (collector/store/ids.py) refuses the whole batch when an id names other content."""
        return self.write_rows(
            [measurement_row(m) for m in measurements], verdicts=verdicts, heartbeats=heartbeats
        )

    def write_rows(
        self,
        m_rows: Sequence[tuple[Any, ...]],
        *,
        verdicts: Sequence[Verdict] = (),
        heartbeats: Sequence[Heartbeat] = (),
    ) -> WriteResult:
        """``write_batch`` of measurements already made rows (``measurement_row``): a bulk
        writer makes each record's row as it comes and lets the record go (the import)."""
        keyed = [Keyed("measurements", i, r[0], r[1], r[-1]) for i, r in enumerate(m_rows)]
        # a verdict's or heartbeat's stored form is compared only when its id is met again
        # (stored, or earlier in the batch): it is written out for those alone (_compared)
        keyed += [Keyed("verdicts", i, v.id, v.probe_id, "") for i, v in enumerate(verdicts)]
        keyed += [Keyed("heartbeats", i, h.id, h.probe_id, "") for i, h in enumerate(heartbeats)]
        try:
            with self._transaction() as db:
                found = stored(db, keyed)
                kept = sort_out(_compared(keyed, found, verdicts, heartbeats), found)
                times = self._insert(db, kept.fresh, keyed, m_rows, verdicts, heartbeats)
                if times:
                    db.executemany(
                        "INSERT INTO day_stamps VALUES (?, ?)"
                        " ON CONFLICT (day) DO UPDATE SET stamp = excluded.stamp",
                        [(day, new_stamp()) for day in sorted(day_starts(times))],
                    )
        except BaseException:
            self._codes.drop()
            raise
        self._codes.keep()
        return WriteResult(accepted=len(kept.fresh), duplicates=kept.duplicates)

    def _insert(
        self,
        db: sqlite3.Connection,
        fresh: list[int],
        keyed: list[Keyed],
        m_rows: Sequence[tuple[Any, ...]],
        verdicts: Sequence[Verdict],
        heartbeats: Sequence[Heartbeat],
    ) -> list[int]:
        """Write the fresh records and their rollup additions; return their times (ns)."""
        picked: dict[str, list[int]] = {"measurements": [], "verdicts": [], "heartbeats": []}
        for position in fresh:
            picked[keyed[position].group].append(keyed[position].index)
        try:
            new_m = [m_rows[i] for i in picked["measurements"]]
            new_v = [verdicts[i] for i in picked["verdicts"]]
            new_h = [heartbeats[i] for i in picked["heartbeats"]]
            probes = [v.probe_id for v in new_v] + [h.probe_id for h in new_h]
            self._codes.prefetch(db, "probe_codes", probes)
            v_rows = [verdict_row(db, self._codes, v) for v in new_v]
            h_rows = [heartbeat_row(db, self._codes, h) for h in new_h]
            tables = {"measurements": new_m, "verdicts": v_rows, "heartbeats": h_rows}
            for table, rows in tables.items():
                if rows:
                    marks = ",".join("?" * len(rows[0]))
                    db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608
        except (sqlite3.IntegrityError, sqlite3.InterfaceError, OverflowError) as exc:
            raise StoreRefusedError(f"sqlite refused the batch: {exc}") from exc
        add_rollups(db, v_rows, [kind_column(v.verdict.value) for v in new_v], h_rows)
        return [r[9] for r in new_m] + [r[4] for r in v_rows] + [r[3] for r in h_rows]

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
        """From the rollups (collector/store/sqlite_rollup.py) at steps they serve, the bounds
        widened to 5-minute edges (rollup.widened)."""
        lo, hi = widened(bound_ns(since), bound_ns(until), step_s)
        with self._reading() as db:
            return sqlite_rollup.verdict_buckets(db, lo, hi, step_s, cc)

    def heartbeat_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[HeartbeatBucket]:
        lo, hi = widened(bound_ns(since), bound_ns(until), step_s)
        with self._reading() as db:
            return sqlite_rollup.heartbeat_buckets(db, lo, hi, step_s, cc)

    def raw_buckets(
        self, *, since: datetime, until: datetime, step_s: int
    ) -> tuple[list[VerdictBucket], list[HeartbeatBucket]]:
        """Verdict and heartbeat buckets grouped from the raw rows, bypassing the rollups: the
        reference the contract tests compare the rollups with."""
        lo, hi = bound_ns(since), bound_ns(until)
        with self._reading() as db:
            return (
                sqlite_rollup.raw_verdict_buckets(db, lo, hi, step_s, None),
                sqlite_rollup.raw_heartbeat_buckets(db, lo, hi, step_s, None),
            )

    def rollup_columns(
        self, *, since: datetime, until: datetime, step_s: int
    ) -> tuple[VerdictColumns, HeartbeatColumns] | None:
        """The rollups of [since, until) as arrays (collector/store/columns.py), or None when
        the rollups do not serve that read (then read buckets)."""
        lo, hi = bound_ns(since), bound_ns(until)
        if step_s != BASE_S or not served(lo, hi, step_s):
            return None
        with self._reading() as db:
            return sqlite_columns.columns(db, lo, hi)

    def measurement_buckets(self, query: OutcomeQuery) -> list[MeasurementBucket]:
        step = query.step_s * 1_000_000_000
        sql = (
            "SELECT cc, asn, network, target, category, test, (started_ns / ?) * ?, outcome,"
            " probe_id, count(*) FROM measurements WHERE started_ns >= ? AND started_ns < ?"
            " AND (? IS NULL OR cc = ?) AND (? IS NULL OR test = ?)"
            " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"
        )
        since, until, cc, test = bound_ns(query.since), bound_ns(query.until), query.cc, query.test
        params = [step, step, since, until, cc, cc, test, test]
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
            sqlite_registry.add_probe(db, probe)

    def probe_by_token_hash(self, token_hash: str) -> ProbeRecord | None:
        with self._reading() as db:
            return sqlite_registry.probe_by_token_hash(db, token_hash)

    def publication_secret(self) -> bytes:
        """Kept in ``meta``; INSERT OR IGNORE in one transaction: the first writer's wins."""
        with self._transaction() as db:
            return sqlite_registry.publication_secret(db)

    def add_enrolment(self, enrolment: Enrolment) -> None:
        with self._transaction() as db:
            sqlite_registry.add_enrolment(db, enrolment)

    def enrolments(self) -> list[Enrolment]:
        with self._reading() as db:
            return sqlite_registry.enrolments(db)

    def use_enrolment(self, token_hash: str, *, now: datetime) -> Enrolment | None:
        with self._transaction() as db:
            return sqlite_registry.use_enrolment(db, token_hash, now)

    def revoke_enrolment(self, enrolment_id: str) -> bool:
        with self._transaction() as db:
            return sqlite_registry.revoke_enrolment(db, enrolment_id)

    def ping(self) -> None:
        self._read("SELECT 1", [])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._lock:
                yield self._db
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"sqlite: {exc}") from exc

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"sqlite: {exc}") from exc

    def _transaction(self) -> Transaction:
        return Transaction(self._db, self._lock)
