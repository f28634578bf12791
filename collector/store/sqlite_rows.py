"""Verdict and heartbeat rows of the SQLite store: integer codes in, the wire record back out.

A row keeps each field once (see sqlite_schema.py); the record's stored form, which the id rule
compares with a re-sent record, is rebuilt from the row, key for key as ``verdict_record`` and
``heartbeat_record`` build it.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from collector.store.codec import dumps, from_ns, measurement_text, record_ns
from collector.store.ids import Keyed
from collector.store.rollup import KINDS
from probe.model import (
    HEARTBEAT_SCHEMA,
    VERDICT_SCHEMA,
    Heartbeat,
    Measurement,
    Verdict,
    format_time,
)

IdKey = bytes | str


def id_key(record_id: str) -> IdKey:
    """A canonical UUID (what probes make) as its 16 bytes; any other id as it is."""
    if len(record_id) == 36 and record_id[8] == "-":
        try:
            parsed = uuid.UUID(record_id)
        except ValueError:
            return record_id
        if str(parsed) == record_id:
            return parsed.bytes
    return record_id


def id_text(key: IdKey) -> str:
    return str(uuid.UUID(bytes=key)) if isinstance(key, bytes) else key


_TABLES = {
    "series": ("cc", "asn", "network", "target", "category"),
    "leaves": ("cc", "asn", "network"),
    "probe_codes": ("probe_id",),
    "kinds": ("verdict", "method", "reason"),
}


# codes cached at most: a value's code never changes, so one dropped from the cache costs
# only a lookup; unbounded, an import of a year of OONI's archive (a probe per report, millions
# of reports) grew the process by about 200 bytes a probe (10,000 of them: about 2 MB)
MAX_CACHED_CODES = 10_000


class Codes:
    """Integer codes of dictionary values, cached; codes made inside a transaction enter the
    cache only once it commits (``keep``), so a rolled-back code is never reused. At most
    ``MAX_CACHED_CODES`` are kept, the oldest dropped first."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, tuple[Any, ...]], int] = {}
        self._pending: dict[tuple[str, tuple[Any, ...]], int] = {}

    def code(self, db: sqlite3.Connection, table: str, value: tuple[Any, ...]) -> int:
        key = (table, value)
        found = self._known.get(key) or self._pending.get(key)
        if found is not None:
            return found
        columns = _TABLES[table]
        where = " AND ".join(f"{c} = ?" for c in columns)
        row = db.execute(f"SELECT id FROM {table} WHERE {where}", value).fetchone()  # noqa: S608
        if row is None:
            marks = ",".join("?" * len(columns))
            cursor = db.execute(
                f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})",  # noqa: S608
                value,
            )
            code = int(cursor.lastrowid or 0)
        else:
            code = int(row[0])
        self._pending[key] = code
        return code

    def prefetch(self, db: sqlite3.Connection, table: str, values: Iterable[Any]) -> None:
        """Code the ``values`` of a one-column table that are not cached: the stored ones
        looked up in one query per 500, the new ones inserted by one executemany in the order
        they first come (the codes ``code`` would have given them one by one) and read back."""
        (column,) = _TABLES[table]
        known, pending = self._known, self._pending
        wanted = [
            v
            for v in dict.fromkeys(values)
            if (table, (v,)) not in known and (table, (v,)) not in pending
        ]
        found = self._look_up(db, table, column, wanted)
        new = [v for v in wanted if v not in found]
        if new:
            db.executemany(f"INSERT INTO {table} ({column}) VALUES (?)", [(v,) for v in new])  # noqa: S608
            found.update(self._look_up(db, table, column, new))
        for value, code in found.items():
            pending[(table, (value,))] = code

    @staticmethod
    def _look_up(
        db: sqlite3.Connection, table: str, column: str, values: list[Any]
    ) -> dict[Any, int]:
        found: dict[Any, int] = {}
        for start in range(0, len(values), _LOOKUP_CHUNK):
            chunk = values[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {column}, id FROM {table} WHERE {column} IN ({marks})"  # noqa: S608
            found.update((value, int(code)) for value, code in db.execute(sql, chunk))
        return found

    def keep(self) -> None:
        known = self._known
        known.update(self._pending)
        self._pending.clear()
        excess = len(known) - MAX_CACHED_CODES
        if excess > 0:  # dicts keep insertion order: the first keys are the oldest
            for key in list(itertools.islice(known, excess + MAX_CACHED_CODES // 4)):
                del known[key]

    def drop(self) -> None:
        self._pending.clear()


def kind_column(verdict: str) -> int:
    return KINDS.index(verdict)


def verdict_row(db: sqlite3.Connection, codes: Codes, v: Verdict) -> tuple[Any, ...]:
    """(id, probe, series, kind, at_ns, confidence, extra) of a verdict."""
    vantage = v.vantage
    method = v.method.value if v.method else ""
    reason = v.reason.value if v.reason else ""
    return (
        id_key(v.id),
        codes.code(db, "probe_codes", (v.probe_id,)),
        codes.code(
            db,
            "series",
            (vantage.cc, vantage.asn, vantage.network, v.target.name, v.target.category.value),
        ),
        codes.code(db, "kinds", (v.verdict.value, method, reason)),
        record_ns(v.at, v.id),
        v.confidence,
        dumps(
            _extra(
                [v.target.domain, v.round_id, list(v.measurement_ids), v.explanation],
                v.schema,
                VERDICT_SCHEMA,
            )
        ),
    )


def heartbeat_row(db: sqlite3.Connection, codes: Codes, h: Heartbeat) -> tuple[Any, ...]:
    """(id, probe, leaf, at_ns, uptime_s, outbox_depth, extra) of a heartbeat."""
    vantage = h.vantage
    return (
        id_key(h.id),
        codes.code(db, "probe_codes", (h.probe_id,)),
        codes.code(db, "leaves", (vantage.cc, vantage.asn, vantage.network)),
        record_ns(h.at, h.id),
        h.uptime_s,
        h.outbox_depth,
        dumps(_extra([h.probe_version, h.dropped], h.schema, HEARTBEAT_SCHEMA)),
    )


def _extra(fields: list[Any], schema: str, default: str) -> list[Any]:
    """The fields no column holds; trailing defaults are left out (a bulk row may be ``[]``)."""
    if schema != default:
        return [*fields, schema]
    while fields and fields[-1] in ("", [], {}):
        fields.pop()
    return fields


def _fields(extra: str, defaults: list[Any], schema: str) -> list[Any]:
    got = json.loads(extra)
    if not isinstance(got, list):
        raise ValueError("a stored row's extra fields are not a JSON array")
    padded = [*got, *defaults[len(got) :]]
    return [
        *padded[: len(defaults)],
        padded[len(defaults)] if len(padded) > len(defaults) else schema,
    ]


def verdict_content(row: Sequence[Any]) -> str:
    """The stored form of a verdict_rows row (id, probe_id, cc, asn, network, target, category,
    verdict, method, reason, at_ns, confidence, extra)."""
    key, probe_id, cc, asn, network, target, category, verdict, method, reason = row[:10]
    at_ns, confidence, extra = row[10:]
    domain, round_id, measurement_ids, explanation, schema = _fields(
        extra, ["", "", [], ""], VERDICT_SCHEMA
    )
    return dumps(
        {
            "id": id_text(key),
            "probe_id": probe_id,
            "vantage": {"cc": cc, "asn": asn, "network": network},
            "target": {"name": target, "domain": domain, "category": category},
            "round_id": round_id,
            "at": format_time(from_ns(at_ns)),
            "verdict": verdict,
            "method": method or None,
            "reason": reason or None,
            "confidence": confidence,
            "measurement_ids": measurement_ids,
            "explanation": explanation,
            "schema": schema,
        }
    )


def heartbeat_content(row: Sequence[Any]) -> str:
    """The stored form of a heartbeat_rows row."""
    key, probe_id, cc, asn, network, at_ns, uptime_s, outbox_depth, extra = row
    probe_version, dropped, schema = _fields(extra, ["", {}], HEARTBEAT_SCHEMA)
    return dumps(
        {
            "id": id_text(key),
            "probe_id": probe_id,
            "probe_version": probe_version,
            "vantage": {"cc": cc, "asn": asn, "network": network},
            "at": format_time(from_ns(at_ns)),
            "uptime_s": uptime_s,
            "outbox_depth": outbox_depth,
            "dropped": dropped,
            "schema": schema,
        }
    )


def copy_first_layout(db: sqlite3.Connection, codes: Codes, say: Any) -> None:
    """Move the rows of the first layout's tables (``*_v1``) into the coded ones, in chunks."""
    for table in ("verdicts", "heartbeats"):
        total = db.execute(f"SELECT count(*) FROM {table}_v1").fetchone()[0]  # noqa: S608
        say(f"recoding {total:,d} {table} into the compact layout")
        done = 0
        for chunk in _chunks(db, table):
            rows = [_first_row(db, codes, table, row) for row in chunk]
            marks = ",".join("?" * len(rows[0]))
            db.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)  # noqa: S608
            done += len(rows)
            say(f"  {done:,d} / {total:,d} {table}")
        db.execute(f"DROP TABLE {table}_v1")


def _chunks(db: sqlite3.Connection, table: str) -> Iterator[list[tuple[Any, ...]]]:
    cursor = db.execute(f"SELECT * FROM {table}_v1")  # noqa: S608
    while chunk := cursor.fetchmany(50_000):
        yield chunk


def _first_row(
    db: sqlite3.Connection, codes: Codes, table: str, row: tuple[Any, ...]
) -> tuple[Any, ...]:
    record = json.loads(row[-1]) if row[-1] else {}
    if table == "verdicts":
        rid, probe_id, cc, asn, network, target, category, verdict, method, reason, at_ns = row[:11]
        target_doc = record.get("target", {})
        extra = _extra(
            [
                target_doc.get("domain", ""),
                record.get("round_id", ""),
                record.get("measurement_ids", []),
                record.get("explanation", ""),
            ],
            record.get("schema", VERDICT_SCHEMA),
            VERDICT_SCHEMA,
        )
        return (
            id_key(rid),
            codes.code(db, "probe_codes", (probe_id,)),
            codes.code(db, "series", (cc, asn, network, target, category)),
            codes.code(db, "kinds", (verdict, method, reason)),
            at_ns,
            row[11],
            dumps(extra),
        )
    rid, probe_id, cc, asn, network, at_ns, uptime_s, outbox_depth = row[:8]
    extra_hb = _extra(
        [record.get("probe_version", ""), record.get("dropped", {})],
        record.get("schema", HEARTBEAT_SCHEMA),
        HEARTBEAT_SCHEMA,
    )
    return (
        id_key(rid),
        codes.code(db, "probe_codes", (probe_id,)),
        codes.code(db, "leaves", (cc, asn, network)),
        at_ns,
        uptime_s,
        outbox_depth,
        dumps(extra_hb),
    )


_LOOKUP_CHUNK = 500  # ids per SELECT (SQLite allows 32,766 parameters since 3.32)


def stored(db: sqlite3.Connection, batch: Sequence[Keyed]) -> dict[tuple[str, str], Keyed]:
    """The records already stored under the batch's ids, by (group, id)."""
    found: dict[tuple[str, str], Keyed] = {}
    for group, table, content in (
        ("measurements", "measurements", None),
        ("verdicts", "verdict_rows", verdict_content),
        ("heartbeats", "heartbeat_rows", heartbeat_content),
    ):
        keys = sorted({k.id for k in batch if k.group == group})
        ids: list[bytes | str] = list(keys) if content is None else [id_key(k) for k in keys]
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            if content is None:
                sql = f"SELECT id, probe_id, record FROM {table} WHERE id IN ({marks})"  # noqa: S608
                rows = [(r[0], r[1], r[2]) for r in db.execute(sql, chunk)]
            else:
                sql = f"SELECT * FROM {table} WHERE id IN ({marks})"  # noqa: S608
                rows = [(id_text(r[0]), r[1], content(r)) for r in db.execute(sql, chunk)]
            for record_id, probe_id, text in rows:
                found[(group, record_id)] = Keyed(group, -1, record_id, probe_id, text)
    return found


def measurement_row(m: Measurement) -> tuple[Any, ...]:
    """A measurement as its row: the filter columns, then the wire record as JSON."""
    vantage, target = m.vantage, m.target
    dims = (vantage.cc, vantage.asn, vantage.network, target.name, target.category.value)
    started = record_ns(m.started_at, m.id)
    record = measurement_text(m)
    return (m.id, m.probe_id, *dims, m.test.value, m.outcome, started, m.duration_ms, record)
