"""The InfluxDB schema as rows: which record fields become tags, fields and the timestamp.

A ``Row`` is one point before serialisation: line protocol is made from rows only by the
libraries' serialisers (collector/store/influx_lines.py), never by hand. The mapping is
documented in docs/data.md; ``measurement_from_row`` reads a point back into the wire form, so
raw measurements survive a round trip exactly.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, NamedTuple

from influxdb_client.domain.write_precision import WritePrecision

from collector.records import Event
from collector.store.base import Enrolment
from collector.store.codec import dumps, event_to_dict, from_ns, new_stamp, record_ns, to_ns
from probe.model import MEASUREMENT_SCHEMA, Heartbeat, Measurement, Verdict, format_time

NS = WritePrecision.NS
DAY_MEASUREMENT = "collector_day"

Fields = dict[str, float | int | str]


class Row(NamedTuple):
    """One point: its measurement, tags, fields and time (integer nanoseconds)."""

    measurement: str
    tags: dict[str, str]
    fields: Fields
    ns: int


def digest(*values: object) -> str:
    """A short digest of a record's stored content: how the id rule tells a re-send (same id,
    same digest) from other content under a known id, without reading the record back."""
    return hashlib.blake2b(repr(values).encode(), digest_size=8).hexdigest()


def row_identity(row: Row) -> tuple[str, str, str, int]:
    """(id, probe, digest, ns) of a record's row, as built by the functions below."""
    fields = row.fields
    return str(fields["id"]), row.tags["probe"], str(fields["digest"]), row.ns


def measurement_row(m: Measurement) -> Row:
    """Tags: the dimensions; fields: numbers, ids and the details as JSON (docs/data.md).

    The hot path of ingest: tags are one dict literal (``_vantage_tags`` as its first four).
    """
    vantage, target = m.vantage, m.target
    tags = {
        "probe": m.probe_id,
        "cc": vantage.cc,
        "asn": str(vantage.asn),
        "network": vantage.network,
        "target": target.name,
        "category": target.category.value,
        "test": m.test.value,
        "outcome": m.outcome,
    }
    ns = record_ns(m.started_at, m.id)
    fields: Fields = {
        "id": m.id,
        "duration_ms": float(m.duration_ms),
        "probe_version": m.probe_version,
        "domain": target.domain,
        "round_id": m.round_id,
        "details": dumps(m.details),
    }
    fields["digest"] = digest(ns, tags, fields)
    return Row("probe_test", tags, fields, ns)


def measurement_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """Rebuild a measurement's wire form (``to_dict``) from one ``SELECT *`` row."""
    return {
        "id": row["id"],
        "probe_id": row["probe"],
        "probe_version": row["probe_version"],
        "vantage": {"cc": row["cc"], "asn": int(row["asn"]), "network": row["network"]},
        "target": {"name": row["target"], "domain": row["domain"], "category": row["category"]},
        "test": row["test"],
        "started_at": format_time(from_ns(int(row["time"]))),
        "duration_ms": float(row["duration_ms"]),
        "outcome": row["outcome"],
        "round_id": row["round_id"],
        "details": json.loads(row["details"]),
        "schema": MEASUREMENT_SCHEMA,
    }


def verdict_row(v: Verdict) -> Row:
    tags = _vantage_tags(v) | {
        "target": v.target.name,
        "category": v.target.category.value,
        "verdict": v.verdict.value,
    }
    if v.method is not None:
        tags["method"] = v.method.value
    if v.reason is not None:
        tags["reason"] = v.reason.value
    fields: Fields = {
        "id": v.id,
        "confidence": float(v.confidence),
        "domain": v.target.domain,
        "round_id": v.round_id,
        "measurement_ids": dumps(list(v.measurement_ids)),
        "explanation": dumps(v.explanation),
    }
    ns = record_ns(v.at, v.id)
    fields["digest"] = digest(ns, tags, fields)
    return Row("probe_verdict", tags, fields, ns)


def heartbeat_row(h: Heartbeat) -> Row:
    fields: Fields = {
        "id": h.id,
        "probe_version": h.probe_version,
        "uptime_s": float(h.uptime_s),
        "outbox_depth": int(h.outbox_depth),
        "dropped": dumps(h.dropped),
    }
    ns, tags = record_ns(h.at, h.id), _vantage_tags(h)
    fields["digest"] = digest(ns, tags, fields)
    return Row("probe_heartbeat", tags, fields, ns)


def event_row(e: Event) -> Row:
    tags = {"event": e.id, "kind": e.kind.value, "cc": e.scope.cc}
    fields: Fields = {"record": dumps(event_to_dict(e)), "written_ns": time.time_ns()}
    return Row("anomaly_event", tags, fields, to_ns(e.start))


def _vantage_tags(record: Measurement | Verdict | Heartbeat) -> dict[str, str]:
    return {
        "probe": record.probe_id,
        "cc": record.vantage.cc,
        "asn": str(record.vantage.asn),
        "network": record.vantage.network,
    }


def enrolment_row(e: Enrolment) -> Row:
    """One point per enrolment at its creation time: a rewrite (revocation) overwrites it."""
    fields: Fields = {
        "note": e.note,
        "token_hash": e.token_hash,
        "max_uses": e.max_uses,
        "expires_ns": to_ns(e.expires),
        "revoked": int(e.revoked),
    }
    return Row("collector_enrolment", {"enrolment": e.enrolment_id}, fields, to_ns(e.created))


def day_rows(days: set[int]) -> list[Row]:
    """The day stamps of a write (see ``Store.day_stamps``): one point per day touched (day
    start, epoch seconds) with no tags, so each write into a day overwrites that day's stamp."""
    return [
        Row(DAY_MEASUREMENT, {}, {"stamp": new_stamp()}, day * 1_000_000_000)
        for day in sorted(days)
    ]
