"""The InfluxDB store's serialiser (collector/store/influx_lines.py): QuestDB's ILP Buffer where
it writes what InfluxDB reads, influxdb-client's Point elsewhere; checked on a real influxd by
reading every point back."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from collector.store.influx_http import InfluxHttp
from collector.store.influx_lines import _buffered, encode, point_line
from collector.store.points import Row, heartbeat_row, measurement_row, verdict_row
from tests.support.influxd import InfluxServer

pytestmark = pytest.mark.influx

TEXTS = [
    "plain",
    "a b",
    "a,b",
    "a=b",
    'a"b',
    "a'b",
    "ü ñ 日本",
    "x\ty",
    "#hash",
    "=lead",
    ",lead",
    "a\\b",
    "trail\\",
    "a\nb",
    "a\rb",
    "ctl\x01\x1f",
    '{"k": "v\\\\n"}',
]
NUMBERS: list[float | int] = [0, -1, 2**63 - 1, -(2**63), 1.0, -0.0, 0.1, 1e-7, 1e300, 2.5e-300]


def _read_back(server: InfluxServer, body: bytes) -> list[dict[str, Any]]:
    http = InfluxHttp(server.url, database=f"l{uuid.uuid4().hex[:12]}", mode="v1")
    try:
        http.write_v1(body)
        return sorted(http.records('SELECT * FROM "m" GROUP BY *'), key=lambda r: int(r["time"]))
    finally:
        http.close()


def _kind(value: float | int) -> str:
    return "vf" if isinstance(value, float) else "vi"  # a field keeps one type


def _rows() -> list[Row]:
    rows = [
        Row("m", {"tg": t, "n": str(i)}, {"s": t, "i": i}, 1_000 + i) for i, t in enumerate(TEXTS)
    ]
    base = len(rows)
    rows += [
        Row("m", {"tg": "num", "n": str(base + i)}, {_kind(v): v, "i": base + i}, 1_000 + base + i)
        for i, v in enumerate(NUMBERS)
    ]
    rows.append(Row("m", {"tg": "", "n": "empty"}, {"i": 99, "nan": float("nan")}, 5_000))
    return rows


def test_every_row_reads_back_as_its_point_line_reads_back(influxd: InfluxServer) -> None:
    """Whichever serialiser wrote a row, influxd holds what influxdb-client's Point writes."""
    rows = _rows()
    assert not all(_buffered(r) for r in rows) and any(_buffered(r) for r in rows)
    by_point = _read_back(influxd, "\n".join(point_line(r) for r in rows).encode())
    by_encode = _read_back(influxd, encode(rows))
    assert by_encode == by_point
    assert len(by_encode) == len(rows)
    safe = [r for r in rows if _buffered(r)]
    for row, stored in zip(rows, by_encode, strict=True):
        if row in safe:  # what was sent is what is stored
            assert stored["tg"] == row.tags["tg"]
            assert {k: stored[k] for k in row.fields} == row.fields


def test_the_order_of_the_rows_is_kept_across_the_two_serialisers() -> None:
    rows = [
        Row("m", {"t": "a"}, {"s": "1"}, 1),
        Row("m", {"t": "b"}, {"s": "2\n"}, 2),
        Row("m", {"t": "c"}, {"s": "3"}, 3),
        Row("m", {"t": "d"}, {"big": 2**64}, 4),
        Row("m", {"t": "e"}, {"s": "5"}, 5),
    ]
    lines = encode(rows).decode().split("\n")
    assert [line.split(" ", 1)[0] for line in lines if line and not line.startswith('"')] == [
        "m,t=a",
        "m,t=b",
        "m,t=c",
        "m,t=d",
        "m,t=e",
    ]
    assert encode([]) == b""


def test_the_collectors_records_take_the_batch_serialiser(records: Any) -> None:
    """Records that passed the API's checks never need the Point path (the fast one)."""
    rows = [
        measurement_row(records.measurement()),
        verdict_row(records.verdict()),
        heartbeat_row(records.heartbeat()),
    ]
    assert all(_buffered(r) for r in rows)
