"""The msgspec fast path of ingest (collector/schema_fast.py) against pydantic's BatchIn.

What must hold: whatever the fast path accepts, pydantic accepts too, as the same wire records;
whatever pydantic refuses, ``decode_batch`` refuses with pydantic's own errors. The bodies are
a valid batch with one field replaced by hostile values, chosen by hand at each boundary and
drawn by hypothesis.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from collector.schema import BatchIn, explain_errors
from collector.schema_fast import NotFastError, _fast, decode_batch
from probe.model import BlockMethod, Category, Heartbeat, Reason, TargetRef, Vantage, VerdictKind
from tests.support.records import measurement, verdict

T0 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
VANTAGE = Vantage("KZ", 9198, "fixed line")
TARGET = TargetRef("Telegram, web", "web.telegram.org", Category.PLATFORM)


def _base() -> dict[str, Any]:
    beat = Heartbeat(
        id="h-1",
        probe_id="p-1",
        probe_version="0.1.0",
        vantage=VANTAGE,
        at=T0,
        uptime_s=60.0,
        outbox_depth=3,
        dropped={"measurement": 2},
    )
    return {
        "schema": "tyndau.batch/1",
        "measurements": [
            measurement(
                "m-1", "p-1", VANTAGE, TARGET, T0, details={"answers": ["198.18.0.1"], "t": 1.5}
            ).to_dict(),
            measurement("m-2", "p-1", VANTAGE, TARGET, T0, outcome="dns_nxdomain_error").to_dict(),
        ],
        "verdicts": [
            verdict(
                "v-1",
                "p-1",
                VANTAGE,
                TARGET,
                T0,
                VerdictKind.BLOCKED,
                blocked=(BlockMethod.DNS, Reason.DNS_NXDOMAIN),
                measurement_ids=("m-1", "m-2"),
                confidence=0.75,
                explanation="NXDOMAIN where the control resolves",
            ).to_dict()
        ],
        "heartbeats": [beat.to_dict()],
    }


# (group, path) of every field of the batch, "" for the batch itself
FIELDS: list[tuple[str, tuple[str, ...]]] = [
    ("", ("schema",)),
    *[
        ("measurements", path)
        for path in [
            ("id",),
            ("probe_id",),
            ("probe_version",),
            ("vantage",),
            ("vantage", "cc"),
            ("vantage", "asn"),
            ("vantage", "network"),
            ("target",),
            ("target", "name"),
            ("target", "domain"),
            ("target", "category"),
            ("test",),
            ("started_at",),
            ("duration_ms",),
            ("outcome",),
            ("round_id",),
            ("details",),
            ("details", "t"),
            ("details", "new key"),
            ("schema",),
            ("extra",),
        ]
    ],
    *[
        ("verdicts", path)
        for path in [
            ("at",),
            ("verdict",),
            ("method",),
            ("reason",),
            ("confidence",),
            ("measurement_ids",),
            ("explanation",),
            ("schema",),
        ]
    ],
    *[
        ("heartbeats", path)
        for path in [
            ("at",),
            ("uptime_s",),
            ("outbox_depth",),
            ("dropped",),
            ("dropped", "measurement"),
            ("dropped", "x" * 65),
        ]
    ],
]

EDGE_STRINGS = [
    "",
    "a",
    "a\n",
    "\na",
    " a",
    "a ",
    "a\u00a0",
    "\u3000a",
    "a\u2028b",
    "a\u0085",
    "a\x1fb",
    "a\x7fb",
    "a\\b",
    "a\x00b",
    "ок",
    "a" * 64,
    "a" * 65,
    "a" * 200,
    "a" * 201,
    "KZ",
    "kz",
    "KZ\n",
    "m.1:x-y_z",
    "-m",
    "dns",
    "DNS",
    "ok",
    "platform",
    "blocked",
    "tyndau.measurement/1",
    "tyndau.batch/1",
]
EDGE_TIMES = [
    "2022-01-05T10:00:00Z",
    "2022-01-05T10:00:00.123456Z",
    "2022-01-05T10:00:00.1234567Z",
    "2022-01-05T15:00:00.5+05:00",
    "2022-01-05T10:00:00-00:00",
    "2022-01-05T10:00:00+24:00",
    "2022-01-05T10:00:00+23:59",
    "2022-01-05t10:00:00Z",
    "2022-01-05T10:00:00z",
    "2022-01-05 10:00:00Z",
    "2022-01-05T10:00:00",
    "2022-01-05T10:00Z",
    "2022-02-30T10:00:00Z",
    "2022-01-05T24:00:00Z",
    "2022-01-05T23:59:60Z",
    "1999-12-31T23:59:59.999999Z",
    "2000-01-01T00:00:00Z",
    "2000-01-01T00:30:00+01:00",
    "2199-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "2022-01-05T10:00:00Z\n",
    "20220105T100000Z",
]
EDGE_NUMBERS: list[Any] = [
    0,
    -1,
    1,
    0.0,
    -0.0,
    0.5,
    1.0,
    1.0000001,
    -1e-300,
    1e308,
    2**32 - 1,
    2**32,
    2**63 - 1,
    2**63,
    2**64,
    2**70,
    -(2**63) - 1,
    True,
    False,
    None,
]
EDGE_OTHER: list[Any] = [[], {}, ["m-1"], ["m-1"] * 257, {"a": 1}, [1, "a"], {"answers": None}]


def _set(body: dict[str, Any], group: str, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    item = body if not group else body[group][0]
    for key in path[:-1]:
        item = item[key]
    item[path[-1]] = value
    return body


def _judge(raw: bytes) -> None:
    """The fast path never accepts what pydantic refuses, nor gives other records."""
    try:
        expected = BatchIn.model_validate_json(raw).to_models()
    except ValidationError as exc:
        with pytest.raises((msgspec.DecodeError, NotFastError)):
            _fast(raw)
        with pytest.raises(ValidationError) as refused:
            decode_batch(raw)
        assert explain_errors(refused.value.errors()) == explain_errors(exc.errors())  # the 422
        return
    batch = decode_batch(raw)
    assert (batch.measurements, batch.verdicts, batch.heartbeats) == expected
    for got, want in zip(
        [*batch.measurements, *batch.verdicts, *batch.heartbeats],
        [r for group in expected for r in group],
        strict=True,
    ):
        for name in (f.name for f in fields(got)):
            mine, theirs = getattr(got, name), getattr(want, name)
            if isinstance(theirs, datetime):  # the same instant and offset (tzinfo classes differ)
                assert (mine, mine.utcoffset()) == (theirs, theirs.utcoffset())
            else:  # floats as floats, ints as ints, the same enum members
                assert repr(mine) == repr(theirs), name


def test_a_valid_batch_is_decoded_by_the_fast_path_as_pydantic_decodes_it() -> None:
    raw = json.dumps(_base()).encode()
    fast = _fast(raw)  # not refused: the fast path takes a valid batch
    assert fast.size == 4
    _judge(raw)


@pytest.mark.parametrize(("group", "path"), FIELDS)
def test_hostile_values_get_pydantic_s_answer(group: str, path: tuple[str, ...]) -> None:
    values = [*EDGE_STRINGS, *EDGE_TIMES, *EDGE_NUMBERS, *EDGE_OTHER]
    for value in values:
        _judge(json.dumps(_set(_base(), group, path, value)).encode())


@pytest.mark.parametrize(
    "text",
    [
        b'{"schema": "tyndau.batch/1", "measurements": [{"duration_ms": NaN}]}',
        b"",
        b"[]",
        b"\xff\xfe",
        b'{"schema": "tyndau.batch/1"} x',
    ],
)
def test_malformed_json_gets_pydantic_s_answer(text: bytes) -> None:
    _judge(text)


def test_non_json_numbers_and_surrogates_get_pydantic_s_answer() -> None:
    text = json.dumps(_base())
    for token in ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" * 400 + ".5"]:
        _judge(text.replace('"t": 1.5', f'"t": {token}').encode())
        _judge(text.replace('"duration_ms": 1.0', f'"duration_ms": {token}').encode())
    _judge(text.replace('"fixed line"', '"fixed \\ud800line"').encode())
    _judge(text.replace('"answers"', '"\\udc00"').encode())


def test_duplicate_keys_get_pydantic_s_answer() -> None:
    text = json.dumps(_base())
    _judge(text.replace('"id": "m-1",', '"id": "m-1", "id": "m-9",').encode())
    _judge(text.replace('"id": "m-1",', '"id": "bad id", "id": "m-9",').encode())
    _judge(text.replace('"t": 1.5', '"t": 1.5, "t": 2').encode())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FIELDS), JSON)
def test_any_json_value_in_any_field_gets_pydantic_s_answer(
    field: tuple[str, tuple[str, ...]], value: Any
) -> None:
    group, path = field
    try:
        raw = json.dumps(_set(_base(), group, path, value), allow_nan=False).encode()
    except ValueError:  # an infinite float: not JSON
        return
    _judge(raw)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([f for f in FIELDS if f[1][-1] not in {"vantage", "target"}]), st.text())
def test_any_text_in_any_field_gets_pydantic_s_answer(
    field: tuple[str, tuple[str, ...]], value: str
) -> None:
    group, path = field
    _judge(json.dumps(_set(_base(), group, path, value)).encode())
