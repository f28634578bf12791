"""Conversions shared by both stores: timestamps, cursors and events to and from plain JSON."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from collector.records import Event, EventKind, EventState, Scope
from probe.model import (
    HEARTBEAT_SCHEMA,
    MEASUREMENT_SCHEMA,
    VERDICT_SCHEMA,
    Heartbeat,
    Measurement,
    TargetRef,
    TestKind,
    Vantage,
    Verdict,
    format_time,
    parse_time,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ns(at: datetime) -> int:
    """Nanoseconds since the epoch, exact for microsecond datetimes (no float rounding). An
    aware datetime is subtracted as it is (the offset counts); a naive one is local time."""
    delta = (at if at.utcoffset() is not None else at.astimezone(UTC)) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def record_ns(at: datetime, record_id: str) -> int:
    """A record's storage time: its microsecond time plus 0..999 ns derived from its id.

    Wire times have microsecond precision, so the nanoseconds are free: filling them from the id
    keeps two records of one series stamped in the same microsecond apart in InfluxDB (the
    "unique timestamp" remedy of InfluxDB's duplicate-points FAQ), while a re-sent record gets
    the same time again and still overwrites itself. Both stores use it, so they order alike.
    """
    digest = hashlib.blake2b(record_id.encode("utf-8"), digest_size=4).digest()
    return to_ns(at) + int.from_bytes(digest, "big") % 1000


# InfluxDB and SQLite keep signed 64-bit nanoseconds: 1677-09-21 .. 2262-04-11.
MIN_NS = -(2**63) + 1
MAX_NS = 2**63 - 1


def bound_ns(at: datetime) -> int:
    """``to_ns`` clamped to the storable range, for query bounds (records are checked at ingest)."""
    return min(MAX_NS, max(MIN_NS, to_ns(at)))


def from_ns(ns: int) -> datetime:
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1_000)


DAY_NS = 86_400 * 1_000_000_000


def day_starts(ns_values: Iterable[int]) -> set[int]:
    """UTC day starts (epoch seconds) of record times in ns: the keys of a store's day stamps."""
    return {ns // DAY_NS * 86_400 for ns in ns_values}


def day_of(at: datetime) -> int:
    """The UTC day start (epoch seconds) of a moment: the same key as ``day_starts``."""
    return int(at.timestamp() // 86_400) * 86_400


def new_stamp() -> int:
    """A fresh day stamp: random, so two writers (or a re-created store) never repeat one."""
    return secrets.randbits(62)


def encode_cursor(ns: int, record_id: str) -> str:
    raw = json.dumps([ns, record_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """Read a cursor made by ``encode_cursor``; ValueError names the problem."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        ns, record_id = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError) as exc:
        raise ValueError("cursor: not a cursor returned by a previous page") from exc
    if not isinstance(ns, int) or not isinstance(record_id, str):
        raise ValueError("cursor: not a cursor returned by a previous page")
    return ns, record_id


def event_to_dict(event: Event) -> dict[str, Any]:
    """An event as plain JSON, times in ``format_time``'s RFC 3339: the one serializer, for the
    stores, the API and the generic webhook body alike."""
    return {
        "id": event.id,
        "kind": event.kind.value,
        "scope": {
            "cc": event.scope.cc,
            "asn": event.scope.asn,
            "network": event.scope.network,
            "probes": event.scope.probes,
        },
        "target": event.target,
        "method": event.method,
        "start": format_time(event.start),
        "end": None if event.end is None else format_time(event.end),
        "confidence": event.confidence,
        "state": event.state.value,
        "evidence": event.evidence,
        "updated_at": None if event.updated_at is None else format_time(event.updated_at),
    }


def event_from_dict(data: dict[str, Any]) -> Event:
    """Read ``event_to_dict``'s JSON back; any RFC 3339 UTC time is read (rows written before
    the one format kept whole seconds: ``2026-01-05T12:05:00Z``)."""
    scope = data["scope"]
    return Event(
        id=data["id"],
        kind=EventKind(data["kind"]),
        scope=Scope(
            cc=scope["cc"], asn=scope["asn"], network=scope["network"], probes=scope["probes"]
        ),
        target=data["target"],
        method=data["method"],
        start=parse_time(data["start"]),
        end=None if data["end"] is None else parse_time(data["end"]),
        confidence=float(data["confidence"]),
        state=EventState(data["state"]),
        evidence=data["evidence"],
        updated_at=None if data.get("updated_at") is None else parse_time(data["updated_at"]),
    )


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)  # what json.dumps builds


_DEFAULT = _COMPACT.default  # what the encoder calls on a value of no JSON type: TypeError


def dumps(data: Any) -> str:
    """Compact ASCII JSON: no raw newline or non-ASCII byte ever reaches a store.

    A dict or a list goes to the C encoder ``_COMPACT.encode`` makes, made here directly with
    the same arguments (a fresh circular-reference map each call, as ``encode`` makes): the same
    text, without ``encode``'s and ``iterencode``'s Python steps (a record's details are small,
    so those steps were a fifth of its encoding)."""
    kind = type(data)
    if kind is str:
        return encode_basestring_ascii(data)
    if c_make_encoder is not None and (kind is dict or kind is list):
        chunks = c_make_encoder(
            {}, _DEFAULT, encode_basestring_ascii, None, ":", ",", False, False, True
        )(data, 0)
        return "".join(chunks)
    return _COMPACT.encode(data)


_ZERO = timedelta(0)


def time_text(at: datetime) -> str:
    """``format_time(at)`` (RFC 3339, microseconds, ``Z``) without strftime for a UTC time of
    year 1000 or later (every stored one); any other goes through format_time itself."""
    if at.utcoffset() != _ZERO or at.year < 1000:
        return format_time(at)
    return (
        f"{at.year}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:"
        f"{at.second:02d}.{at.microsecond:06d}Z"
    )


def _text(value: Any) -> str:
    """One value's compact ASCII JSON (``dumps(value)``): a str by the encoder's own string
    escaper, an int, a finite float and None as the encoder writes them, without a call
    into the encoder."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0.0:  # finite: NaN and infinities give NaN here
        return float.__repr__(value)
    return dumps(value)


_MEASUREMENT_SCHEMA_TEXT = _text(MEASUREMENT_SCHEMA)
_TEST_TEXT = {kind: _text(kind.value) for kind in TestKind}


def _shared_text(m: Measurement) -> str:
    """The text of what a measurement's records share (probe, version, vantage, target):
    from ``"probe_id"`` to the target's end."""
    v, t = m.vantage, m.target
    return "".join(
        (
            ',"probe_id":',
            _text(m.probe_id),
            ',"probe_version":',
            _text(m.probe_version),
            ',"vantage":{"cc":',
            _text(v.cc),
            ',"asn":',
            _text(v.asn),
            ',"network":',
            _text(v.network),
            '},"target":{"name":',
            _text(t.name),
            ',"domain":',
            _text(t.domain),
            ',"category":',
            _text(t.category.value),
            "}",
        )
    )


class _Shared:
    """The last ``_shared_text``, reused while the records come with the same objects (the
    records of one OONI measurement share their vantage and target, and a batch holds them
    together): the objects are frozen, and the strings are compared by value. The memo is one
    tuple, read and replaced whole, so threads writing at once never mix two records'."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[object, object, object, object, str] = (None, None, None, None, "")

    def of(self, m: Measurement) -> str:
        vantage, target, probe_id, probe_version, text = self.last
        if (
            m.vantage is vantage
            and m.target is target
            and type(m.probe_id) is str
            and type(m.probe_version) is str
            and m.probe_id == probe_id
            and m.probe_version == probe_version
        ):
            return text
        text = _shared_text(m)
        self.last = (m.vantage, m.target, m.probe_id, m.probe_version, text)
        return text


_SHARED = _Shared()


def measurement_text(m: Measurement) -> str:
    """``dumps(measurement_record(m))``, written piece by piece: the compact encoding of a dict
    is its items' encodings joined in order, so only the details go through the encoder whole,
    and what the records of one measurement share is written once (tests/ooni/test_speedups.py
    holds the two equal)."""
    test = m.test
    return "".join(
        (
            '{"id":',
            _text(m.id),
            _SHARED.of(m),
            ',"test":',
            _TEST_TEXT[test] if type(test) is TestKind else _text(test.value),
            ',"started_at":',
            encode_basestring_ascii(time_text(m.started_at)),
            ',"duration_ms":',
            _text(m.duration_ms),
            ',"outcome":',
            _text(m.outcome),
            ',"round_id":',
            _text(m.round_id),
            ',"details":',
            dumps(m.details),
            ',"schema":',
            _MEASUREMENT_SCHEMA_TEXT,
            "}",
        )
    )


def vantage_dict(v: Vantage) -> dict[str, Any]:
    return {"cc": v.cc, "asn": v.asn, "network": v.network}


def target_dict(t: TargetRef) -> dict[str, Any]:
    return {"name": t.name, "domain": t.domain, "category": t.category.value}


def measurement_record(m: Measurement) -> dict[str, Any]:
    """``m.to_dict()`` without ``asdict``'s deep copy (5x faster on the ingest path)."""
    return {
        "id": m.id,
        "probe_id": m.probe_id,
        "probe_version": m.probe_version,
        "vantage": vantage_dict(m.vantage),
        "target": target_dict(m.target),
        "test": m.test.value,
        "started_at": time_text(m.started_at),
        "duration_ms": m.duration_ms,
        "outcome": m.outcome,
        "round_id": m.round_id,
        "details": m.details,
        "schema": MEASUREMENT_SCHEMA,
    }


def verdict_record(v: Verdict) -> dict[str, Any]:
    """``v.to_dict()`` without the deep copy."""
    return {
        "id": v.id,
        "probe_id": v.probe_id,
        "vantage": vantage_dict(v.vantage),
        "target": target_dict(v.target),
        "round_id": v.round_id,
        "at": time_text(v.at),
        "verdict": v.verdict.value,
        "method": None if v.method is None else v.method.value,
        "reason": None if v.reason is None else v.reason.value,
        "confidence": v.confidence,
        "measurement_ids": list(v.measurement_ids),
        "explanation": v.explanation,
        "schema": VERDICT_SCHEMA,
    }


def heartbeat_record(h: Heartbeat) -> dict[str, Any]:
    """``h.to_dict()`` without the deep copy."""
    return {
        "id": h.id,
        "probe_id": h.probe_id,
        "probe_version": h.probe_version,
        "vantage": vantage_dict(h.vantage),
        "at": time_text(h.at),
        "uptime_s": h.uptime_s,
        "outbox_depth": h.outbox_depth,
        "dropped": h.dropped,
        "schema": HEARTBEAT_SCHEMA,
    }
