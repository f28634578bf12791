"""The import's hot-path rewrites give what the plain code they replace gives (speed only)."""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from collector.ooni.ids import stable_uuid7
from collector.ooni.reader import loads, read_records
from collector.ooni.targets import TargetIndex
from collector.ooni.thcontrol import utc_text
from collector.store import codec
from probe.model import Category, TargetRef, format_time


def reference_uuid7(at: datetime, key: str) -> str:
    """The layout spelled out with uuid.UUID (RFC 9562): time, version 7, variant 10, hash."""
    ms = int(at.timestamp() * 1000)
    digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=10).digest(), "big")
    value = (ms << 80) | (0x7 << 76) | ((digest >> 62) & 0xFFF) << 64 | (0b10 << 62)
    value |= digest & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def test_stable_uuid7_is_the_uuid_layout() -> None:
    rng = random.Random(7)
    start = datetime(1970, 1, 1, tzinfo=UTC)
    for _ in range(2000):
        at = start + timedelta(microseconds=rng.randrange(0, 8000 * 365 * 86400 * 10**6))
        key = f"{rng.random()}/{rng.randrange(99)}"
        assert stable_uuid7(at, key) == reference_uuid7(at, key)
        assert uuid.UUID(stable_uuid7(at, key)).version == 7


def test_utc_text_is_format_time() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        at = datetime(1000, 1, 1, tzinfo=UTC) + timedelta(
            microseconds=rng.randrange(0, 9000 * 365 * 86400 * 10**6)
        )
        assert utc_text(at) == format_time(at)
    plus5 = datetime(2022, 1, 5, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=5)))
    assert utc_text(plus5) == format_time(plus5) == "2022-01-04T22:04:05.000006Z"
    early = datetime(999, 12, 31, tzinfo=UTC)
    assert utc_text(early) == format_time(early)


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": 1, "b": [1.5, -0.0, 1e-7, 12345678901234567], "c": "\\u00e9\\ud83d\\ude00"}',
        b'{"a": 1, "a": 2}',  # the last duplicate wins, in both
        b'{"big": 123456789012345678901234567890}',  # beyond 64 bits: json's int
        b'{"nan": NaN, "inf": -Infinity}',  # json's extensions
        b'{"lone": "\\ud800"}',  # a lone surrogate escape: json keeps it
        b"\xef\xbb\xbf" + b'{"bom": true}',
        '{"utf16": 1}'.encode("utf-16"),
        b'  {"x": 0.1}\r',
        b'{"u64": 18446744073709551615, "i64": -9223372036854775808, "s": "12345678901234567890"}',
        b'{"f": [0.1234567890123456789012, 2.2250738585072011e-308, 1.7976931348623157e308]}',
        b'{"f": 1e400, "g": -1e-400}',
    ],
)
def test_loads_is_json_loads(text: bytes) -> None:
    got, want = loads(text), json.loads(text)
    assert json.dumps(got) == json.dumps(want) and repr(got) == repr(want)


def test_loads_is_json_loads_on_random_numbers() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 30)))
        text = f'{{"i": {int(digits)}, "f": {digits[:1]}.{digits}e{rng.randrange(-320, 309)}}}'
        got, want = loads(text.encode()), json.loads(text)
        assert repr(got) == repr(want), text


@pytest.mark.parametrize("text", [b"{", b'{"a": }', b"\xff\xfe\x00", b'{"a": 1} x', b"[1,]"])
def test_loads_fails_with_json_loads_error(text: bytes) -> None:
    with pytest.raises(ValueError) as want:
        json.loads(text)
    with pytest.raises(ValueError) as got:
        loads(text)
    assert str(got.value) == str(want.value)


def test_the_line_reader_reports_json_errors_as_before(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n{bad\n\n{"nan": NaN}\n')
    items = list(read_records([path]))
    assert [getattr(i, "line", None) for i in items] == [1, 2, 4]
    assert items[1].problem.startswith("not JSON (Expecting property name")  # type: ignore[union-attr]
    assert repr(items[2].data) == repr({"nan": float("nan")})  # type: ignore[union-attr]


def test_for_host_cache_gives_the_match() -> None:
    ref = TargetRef("facebook", "facebook.com", Category.PLATFORM)
    index = TargetIndex({"facebook.com": ref})
    for host in ["www.facebook.com", "WWW.Facebook.com.", "facebook.com", "example.org", "com"]:
        first, second = index.for_host(host), index.for_host(host)
        assert first == second == index._match(host)
    assert index.for_host("m.facebook.com") is ref
    assert index.for_host("example.org").category is Category.OTHER


def test_import_times_each_stage() -> None:
    from collector.ooni.importer import STAGES, run_import
    from collector.ooni.mapping import load_context

    fixtures = Path(__file__).parent / "fixtures"
    lines: list[str] = []
    summary = run_import(
        [fixtures / "wc04_accessible.json"],
        load_context(),
        emit=lambda line: lines.append(json.dumps(line)),
    )
    assert set(summary.seconds) == set(STAGES)
    assert all(summary.seconds[s] > 0 for s in ("read", "map", "judge", "emit"))
    assert summary.seconds["store"] == 0.0 and len(lines) == 1


def plain_wire(value: object) -> object:
    """What collector/ooni/stages.py ``_wire`` replaced: the plain recursion."""
    if isinstance(value, tuple):
        return [plain_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_wire(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    "value",
    [
        (),
        ("a", 1, 2.5, True, None),
        (("a", "b"), ("c",)),
        {"Server": "nginx", "X": None},
        {"refused": ({"address": "1.2.3.4", "reason": ("bogon", 1)},), "n": {"deep": ()}},
        ([1, (2, 3)], {"k": [(4,)]}),  # a list is kept as it is, as before (its tuples too)
        "text",
        7,
    ],
)
def test_wire_is_the_plain_recursion(value: object) -> None:
    from collector.ooni.stages import _wire

    made, plain = _wire(value), plain_wire(value)
    assert made == plain
    assert type(made) is type(plain)
    if isinstance(value, dict | tuple):
        assert made is not value  # a copy, never the record's own container


def test_a_verdict_only_import_judges_as_a_stored_one() -> None:
    """``for_store=False`` (``--json`` without a store) skips the ids and the stored-only details;
    the evidence the engine reads and so every verdict stay the same."""
    from collector.ooni.judge import verdict_line, verdict_of
    from collector.ooni.mapping import load_context, map_measurement
    from collector.ooni.reader import RawRecord

    context = load_context()
    fixtures = Path(__file__).parent / "fixtures"
    judged = 0
    for item in read_records([fixtures]):
        if not isinstance(item, RawRecord):
            continue
        try:
            stored = map_measurement(item.data, context)
        except ValueError:
            continue  # the broken fixtures: refused either way
        lean = map_measurement(item.data, context, for_store=False)
        full, quick = verdict_of(stored), verdict_of(lean, for_store=False)
        assert verdict_line(lean, quick) == verdict_line(stored, full), item.source
        assert (quick.confidence, quick.explanation) == (full.confidence, full.explanation)
        assert len(quick.measurement_ids) == len(full.measurement_ids)
        assert [e for _, e in lean.known] == [e for _, e in stored.known]
        judged += 1
    assert judged >= 20


def test_measurement_text_is_the_records_json() -> None:
    """The SQLite row's record text, written piece by piece, is ``dumps(measurement_record)``:
    on every fixture's records and on values the encoder writes its own way (non-ASCII,
    control characters, NaN and infinities, integers past 64 bits, floats, other time zones
    and years before 1000, a str subclass)."""
    from collector.ooni.mapping import load_context, map_measurement
    from collector.store.codec import dumps, measurement_record, measurement_text, time_text
    from probe.model import Measurement, TestKind, Vantage

    context = load_context()
    fixtures = Path(__file__).parent / "fixtures"
    made: list[Measurement] = []
    for item in read_records([fixtures]):
        data = getattr(item, "data", None)
        if isinstance(data, dict):
            try:
                made += map_measurement(data, context).measurements
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
    assert len(made) > 100
    first = made[0]
    odd_times = [
        datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC),
        datetime(2022, 1, 5, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=5))),
        datetime(2022, 1, 5, tzinfo=timezone(timedelta(0))),
    ]
    odd_details = [
        {"é": "ünïcødé \u2028 😀", "ctl": '\x00\x1f\x7f\n\t"\\'},
        {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")},
        {"big": 2**70, "neg": -(2**64), "f": [1e-7, 1e16, 0.1, -0.0, 5e-324]},
        {"nested": [{"a": (1, "b")}], "none": None, "t": True},
    ]
    made += [replace(first, started_at=at) for at in odd_times]
    made += [replace(first, details=d) for d in odd_details]
    made += [
        replace(first, vantage=Vantage("KZ", 2**65, "mobile ü"), duration_ms=float("nan")),
        replace(first, id="ïd", probe_id="p\n", round_id="r\x7f", test=TestKind.DNS),
    ]
    for m in made:
        assert measurement_text(m) == dumps(measurement_record(m))
    for at in odd_times:
        assert time_text(at) == format_time(at)


def test_store_dumps_is_the_compact_encoder() -> None:
    """codec.dumps and codec._text (their fast paths for strings and scalars) write what json's
    compact ASCII encoder writes, and raise what it raises."""
    compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)
    values = [
        {"a": [1, 2.5, None, True], "é": "ü\n\x7f", "n": math.nan, "i": -math.inf},
        [10**30, 1e-05, 1e16, -0.0, (1, "x")],
        {1: "int key", None: 0, 2.5: False},
        "plain",
        None,
        7,
        math.inf,
        "\ud800",
    ]
    for value in values:
        assert codec.dumps(value) == compact.encode(value)
        assert codec._text(value) == compact.encode(value)
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError):
        codec.dumps(loop)
    with pytest.raises(TypeError):
        codec.dumps({"x": object()})
    assert codec.dumps({"after": [1, {"b": 2}]}) == '{"after":[1,{"b":2}]}'
