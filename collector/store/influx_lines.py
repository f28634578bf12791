"""Line protocol from rows, made only by the libraries' serialisers, never by hand.

The batch serialiser is QuestDB's ``questdb.ingress.Buffer`` (py-questdb-client, Apache-2.0):
InfluxDB line protocol ("ILP", protocol version 1, text) built in C, a row appended per call
into one buffer, a few us a measurement where influxdb-client's ``Point`` and its
``to_line_protocol`` take about 22 (bench/collector_ingest_stages.py prints both). QuestDB's
escaping is influxdb-client's except for a few characters, checked against influxd 1.6
(tests/collector/test_influx_lines.py): in a tag value it escapes a backslash (InfluxDB keeps
both bytes) and writes a tab raw (``Point`` writes ``\\t``); in a tag or a string it writes a
line feed or carriage return as a backslash and the raw byte (InfluxDB keeps both); it refuses
no empty tag value (InfluxDB refuses the line; ``Point`` leaves the tag out) and writes a
non-finite float (``Point`` leaves the field out). A row holding any of those, or one the
Buffer refuses (its names' rules are QuestDB's, its integers 64-bit), is written by
influxdb-client's ``Point`` instead, in its place in the body. The collector's own records
never need that: their tags are checked by collector/schema.py (no backslash or control
character) and their JSON fields are ASCII with escapes (collector/store/codec.py ``dumps``).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import isfinite

from influxdb_client.client.write.point import Point
from questdb.ingress import (  # type: ignore[import-untyped]
    Buffer,
    IngressError,
    TimestampNanos,
)

from collector.store.points import NS, Row


def encode(rows: Sequence[Row]) -> bytes:
    """The rows as line protocol with nanosecond times, one line each, in their order."""
    buffer = Buffer(protocol_version=1)  # text line protocol, as InfluxDB reads it
    parts: list[bytes] = []
    for row in rows:
        if _buffered(row):
            try:
                buffer.row(
                    row.measurement, symbols=row.tags, columns=row.fields, at=TimestampNanos(row.ns)
                )
                continue
            except (IngressError, OverflowError, TypeError, ValueError):
                pass  # the Buffer rewinds the refused row; Point writes it
        if len(buffer):
            parts.append(bytes(buffer))
            buffer.clear()
        parts.append(point_line(row).encode() + b"\n")
    if not parts:
        return bytes(buffer)
    return b"".join([*parts, bytes(buffer)])


def point_line(row: Row) -> str:
    """One row through influxdb-client's ``Point``: its escaping, and its rules for what to
    leave out (empty tag values, non-finite floats)."""
    point = Point(row.measurement)  # type: ignore[no-untyped-call]
    for key, value in row.tags.items():
        point.tag(key, value)  # type: ignore[no-untyped-call]
    for key, field_value in row.fields.items():
        point.field(key, field_value)  # type: ignore[no-untyped-call]
    point.time(row.ns, NS)  # type: ignore[no-untyped-call]
    text: str = point.to_line_protocol()  # type: ignore[no-untyped-call]
    return text


def _buffered(row: Row) -> bool:
    """Whether QuestDB's Buffer writes the row as ``Point`` does (see the module's text).
    Plain ``in`` tests: a regular expression per value cost more than the Buffer itself."""
    tags = row.tags.values()
    text = "".join(tags)
    if "\\" in text or "\n" in text or "\r" in text or "\t" in text or "" in tags:
        return False
    for value in row.fields.values():
        kind = value.__class__
        if kind is str:
            if "\n" in value or "\r" in value:  # type: ignore[operator]
                return False
        elif kind is float and not isfinite(value):  # type: ignore[arg-type]
            return False
    return True
