"""The streaming reader: one object per file, JSON lines, gzip (multi-member, truncated),
directories; every problem named by file and line, none raised."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from collector.ooni.reader import BadInput, RawRecord, read_records

FIXTURES = Path(__file__).parent / "fixtures"


def test_mixed_lines_are_read_and_bad_ones_named() -> None:
    items = list(read_records([FIXTURES / "broken" / "mixed.jsonl"]))
    records = [i for i in items if isinstance(i, RawRecord)]
    bad = [i for i in items if isinstance(i, BadInput)]
    assert [r.line for r in records] == [1, 3, 4, 6, 7]
    assert [(b.line, b.problem.split(" ")[0]) for b in bad] == [(2, "not")]
    assert str(bad[0]).startswith(f"{FIXTURES / 'broken' / 'mixed.jsonl'}:2: not JSON")


def test_truncated_gzip_keeps_what_came_before_the_cut() -> None:
    items = list(read_records([FIXTURES / "broken" / "truncated.jsonl.gz"]))
    records = [i for i in items if isinstance(i, RawRecord)]
    bad = [i for i in items if isinstance(i, BadInput)]
    assert [r.data["test_keys"]["blocking"] for r in records][:2] == [False, "dns"]
    assert bad and "gzip" in bad[-1].problem
    assert len(records) + len([b for b in bad if "cut off" in b.problem]) <= 4


def test_pretty_printed_object_array_and_directory_walk(tmp_path: Path) -> None:
    one = {"a": 1}
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "one.json").write_text(json.dumps(one, indent=2))
    (tmp_path / "a.json").write_text(json.dumps([{"n": 1}, {"n": 2}], indent=2))
    with gzip.open(tmp_path / "c.jsonl.gz", "wt") as f:
        f.write('{"n": 3}\n{"n": 4}\n')
    (tmp_path / "notes.txt").write_text("not a measurement file")
    got = [(Path(r.source).name, r.line, r.data) for r in read_records([tmp_path])]
    assert got == [
        ("a.json", 1, {"n": 1}),
        ("a.json", 2, {"n": 2}),
        ("one.json", 1, one),
        ("c.jsonl.gz", 1, {"n": 3}),
        ("c.jsonl.gz", 2, {"n": 4}),
    ]  # sorted by path: a.json, b/one.json, c.jsonl.gz


def test_arguments_keep_their_order_and_missing_paths_are_named(tmp_path: Path) -> None:
    first, second = tmp_path / "z.jsonl", tmp_path / "a.jsonl"
    first.write_text('{"n": 1}\n')
    second.write_text('{"n": 2}\n')
    items = list(read_records([first, tmp_path / "missing.jsonl", second]))
    assert isinstance(items[1], BadInput) and "no such file" in items[1].problem
    assert [i.data["n"] for i in items if isinstance(i, RawRecord)] == [1, 2]


def test_a_last_line_without_newline_and_a_corrupt_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "x.jsonl"
    plain.write_bytes(b'{"n": 1}\n{"n": 2}')
    assert [r.data for r in read_records([plain])] == [{"n": 1}, {"n": 2}]
    corrupt = tmp_path / "y.jsonl.gz"
    corrupt.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    items = list(read_records([corrupt]))
    assert len(items) == 1 and isinstance(items[0], BadInput) and "gzip" in items[0].problem
