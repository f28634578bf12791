"""The text writers of the import's two outputs give what the encoders they replace give:
the ``--json`` line (collector/ooni/lines.py) and a stored record (collector/store/codec.py)."""

from __future__ import annotations

import json
import math
import random
import threading
from dataclasses import replace
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from collector.ooni.judge import unjudged_line, verdict_line, verdict_of
from collector.ooni.lines import line_text
from collector.ooni.mapping import load_context, map_measurement
from collector.ooni.reader import RawRecord, read_records
from collector.store import codec
from probe.model import Category, Measurement, TargetRef, TestKind, Vantage

FIXTURES = Path(__file__).parent / "fixtures"
ODD = [None, True, False, 0, -7, 10**30, 2.5, -0.0, 1e-05, 1e16, math.nan, math.inf, -math.inf]
ODD += ["", 'é\n\x7f"\\', "\ud800", [1, "x"], {"k": None}, (1, 2)]


class Color(Enum):
    RED = "red"


def reference(line: dict[str, Any]) -> str:
    return json.dumps(line, ensure_ascii=False)


def test_the_json_line_is_json_dumps_for_every_fixture() -> None:
    context = load_context()
    seen = 0
    for item in read_records([FIXTURES]):
        if not isinstance(item, RawRecord):
            continue
        try:
            imported = map_measurement(item.data, context, for_store=False)
        except (ValueError, TypeError, KeyError, AttributeError):
            line = unjudged_line(item.data, "not imported")
        else:
            line = verdict_line(imported, verdict_of(imported, for_store=False))
        assert line_text(line) == reference(line)
        seen += 1
    assert seen > 20


def test_the_json_line_is_json_dumps_for_odd_values_and_layouts() -> None:
    base = unjudged_line({}, "why")
    rng = random.Random(3)
    for _ in range(3000):
        line = dict(base, ooni=dict(base["ooni"]))
        for key in rng.sample(sorted(line), 2):
            if key != "ooni":
                line[key] = rng.choice(ODD)
        line["ooni"]["blocking"] = rng.choice([*ODD, Color.RED.value, 1.5])
        line["ooni"]["accessible"] = rng.choice(ODD)
        assert line_text(line) == reference(line)
    reordered = {"input": None, **base}
    assert line_text(reordered) == reference(reordered)
    extra = dict(base, ooni={**base["ooni"], "more": 1})
    assert line_text(extra) == reference(extra)
    with pytest.raises(TypeError):
        line_text(dict(base, reason=Color.RED))


def test_dumps_is_the_compact_encoder_on_random_values() -> None:
    compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)
    rng = random.Random(5)

    def value(depth: int = 0) -> Any:
        pick = rng.random()
        if depth < 3 and pick < 0.2:
            return {rng.choice(["a", "é", "b\n"]) + str(i): value(depth + 1) for i in range(3)}
        if depth < 3 and pick < 0.3:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return rng.choice(ODD)

    for _ in range(3000):
        data = {"top": value(), "list": [value()]}
        assert codec.dumps(data) == compact.encode(data)
        assert codec.dumps([data]) == compact.encode([data])
    loop: dict[str, Any] = {}
    loop["self"] = loop
    for _ in range(2):  # a refused value leaves nothing behind for the next call
        with pytest.raises(ValueError, match="Circular"):
            codec.dumps(loop)
        with pytest.raises(TypeError):
            codec.dumps({"x": Color.RED})
        assert codec.dumps({"a": [{"a": 1}, {"a": 1}]}) == '{"a":[{"a":1},{"a":1}]}'


def record(i: int, vantage: Vantage, target: TargetRef, probe: str = "p") -> Measurement:
    return Measurement(
        id=f"id{i}",
        probe_id=probe,
        probe_version="ooni:x/1",
        vantage=vantage,
        target=target,
        test=TestKind.DNS if i % 2 else TestKind.HTTP,
        started_at=datetime(2022, 1, 4, 0, 0, i % 60, tzinfo=UTC),
        duration_ms=1.5 * i,
        outcome="ok",
        round_id="r",
        details={"n": i, "x": [None, 1e-05]},
    )


def test_measurement_text_reuses_only_what_the_records_share() -> None:
    """The records of one measurement share vantage and target objects: their text is written
    once; a record with another probe, version, vantage or target (even an equal object) gets
    its own."""
    kz, ru = Vantage("KZ", 9198, "mobile"), Vantage("RU", 8359, "wifi")
    site = TargetRef("site", "example.org", Category.OTHER)
    other = TargetRef("other", "example.net", Category.OTHER)
    made = [record(i, kz, site) for i in range(3)]
    made += [record(3, kz, site, probe="q"), replace(made[0], probe_version="v2")]
    made += [record(5, ru, site), record(6, ru, other), record(7, Vantage("KZ", 9198, "x"), other)]
    made += [record(8, kz, replace(site, domain="é.example")), record(9, kz, site)]
    for m in made * 2:
        assert codec.measurement_text(m) == codec.dumps(codec.measurement_record(m))


def test_measurement_text_from_threads_at_once() -> None:
    vantages = [Vantage("KZ", asn, "mobile") for asn in range(8)]
    site = TargetRef("site", "example.org", Category.OTHER)
    made = [record(i, vantages[i % 8], site, probe=f"p{i % 3}") for i in range(400)]
    expected = [codec.dumps(codec.measurement_record(m)) for m in made]
    wrong: list[int] = []

    def work() -> None:
        for _ in range(20):
            wrong.extend(i for i, m in enumerate(made) if codec.measurement_text(m) != expected[i])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
