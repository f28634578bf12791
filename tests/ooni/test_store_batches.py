"""The SQLite write path's batched reads (rollup cells, day rows, probe codes in one query each)
leave the store as the per-cell reads did: rollups equal to a rebuild from the raw rows, across
batches that meet cells and probes already stored, and re-imports that add nothing."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from collector.ooni.importer import run_import
from collector.ooni.judge import verdict_of
from collector.ooni.mapping import load_context, map_measurement
from collector.ooni.writer import StoreWriter
from collector.store import StoreConflictError, sqlite_rows
from collector.store.codec import from_ns
from collector.store.sqlite import SqliteStore
from probe.model import Heartbeat, Vantage

FIXTURES = Path(__file__).parent / "fixtures"
ROLLUP_TABLES = ("verdict_rollup", "blocked_rollup", "verdict_days", "heartbeat_rollup")


def tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the rollup tables; a probe set as a set (a rebuild's group_concat lists
    the probes in the order it meets them)."""
    with sqlite3.connect(path) as db:
        return {
            t: sorted((_sets(row) for row in db.execute(f"SELECT * FROM {t}")), key=repr)
            for t in (*ROLLUP_TABLES, "heartbeat_days", "probe_codes")
        }


Tables = dict[str, list[tuple[object, ...]]]


def as_rebuilt(store: SqliteStore, path: Path) -> tuple[Tables, Tables]:
    """The tables as the writes left them and after a rebuild from the raw rows (the store is
    closed); every rollup table must be equal in both."""
    incremental = tables(path)
    store.rebuild_rollups()
    store.close()
    rebuilt = tables(path)
    for table in ROLLUP_TABLES:
        assert incremental[table] == rebuilt[table], table
    return incremental, rebuilt


def _sets(row: tuple[object, ...]) -> tuple[object, ...]:
    last = row[-1]
    if isinstance(last, str) and last.replace(",", "").isdigit():
        return (*row[:-1], frozenset(last.split(",")))
    return row


def test_small_batches_roll_up_as_a_rebuild_does(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SqliteStore(path)
    context = load_context()
    # batches of 3 measurements: most cells and probes of a batch are stored by an earlier one
    copies = tmp_path / "copies.jsonl"
    copies.write_text("".join(copy(i) for i in range(12)))
    first = run_import([FIXTURES, copies], context, writer=StoreWriter(store, batch=3))
    again = run_import([FIXTURES, copies], context, writer=StoreWriter(store, batch=2))
    assert (
        first.stored > 0
        and again.stored == 0
        and again.duplicates == first.stored + first.duplicates
    )
    at = from_ns(first_verdict_ns(path))
    beats = [
        Heartbeat(
            id=f"00000000-0000-7000-8000-00000000000{i}",
            probe_id=f"probe-{i % 3}",
            probe_version="1",
            vantage=Vantage("KZ", 9198, "mobile"),
            at=at,
            uptime_s=i,
            outbox_depth=0,
        )
        for i in range(7)
    ]
    for chunk in (beats[:2], beats[2:5], beats[5:], beats):  # the last: all re-sent
        store.write_batch(heartbeats=chunk)
    incremental, rebuilt = as_rebuilt(store, path)
    assert incremental["heartbeat_days"] == rebuilt["heartbeat_days"]
    assert len(incremental["probe_codes"]) == len({c for _, c in incremental["probe_codes"]})
    heartbeat_probes = [row[3] for row in incremental["heartbeat_rollup"]]
    assert heartbeat_probes == [3]


def copy(i: int) -> str:
    """A fixture measurement again: one cell of the rollup, a new probe every second copy."""
    data = json.loads((FIXTURES / "wc04_accessible.json").read_text())
    data["measurement_uid"] = f"20220104000000.{i:06d}_KZ_webconnectivity_{i:016x}"
    data["report_id"] = f"20220104T000000Z_webconnectivity_KZ_9198_n1_{i // 2:016d}"
    return json.dumps(data) + "\n"


def first_verdict_ns(path: Path) -> int:
    with sqlite3.connect(path) as db:
        (ns,) = db.execute("SELECT min(at_ns) FROM verdicts").fetchone()
    return int(ns)


def test_the_id_rule_still_compares_verdicts_and_heartbeats(tmp_path: Path) -> None:
    """The store writes a verdict's or heartbeat's stored form only for ids met again (stored
    or twice in a batch): re-sends stay duplicates, other content under a known id is refused,
    in one batch and against the store, and a refused batch stores nothing."""
    store = SqliteStore(tmp_path / "store.db")
    data = json.loads((FIXTURES / "wc04_accessible.json").read_text())
    imported = map_measurement(data, load_context())
    verdict = verdict_of(imported)
    beat = Heartbeat(
        id="00000000-0000-7000-8000-0000000000aa",
        probe_id="probe-1",
        probe_version="1",
        vantage=Vantage("KZ", 9198, "mobile"),
        at=verdict.at,
        uptime_s=5.0,
        outbox_depth=0,
    )
    twice = store.write_batch(verdicts=[verdict, verdict], heartbeats=[beat, beat])
    assert (twice.accepted, twice.duplicates) == (2, 2)
    again = store.write_batch(verdicts=[verdict], heartbeats=[beat])
    assert (again.accepted, again.duplicates) == (0, 2)
    other_verdict = replace(verdict, explanation="other")
    other_beat = replace(beat, uptime_s=6.0)
    with pytest.raises(StoreConflictError) as stored_clash:
        store.write_batch(verdicts=[other_verdict], heartbeats=[other_beat])
    assert [(p.group, p.index) for p in stored_clash.value.problems] == [
        ("verdicts", 0),
        ("heartbeats", 0),
    ]
    new_verdict = replace(verdict, id="00000000-0000-7000-8000-0000000000bb")
    new_beat = replace(beat, id="00000000-0000-7000-8000-0000000000cc")
    with pytest.raises(StoreConflictError) as batch_clash:
        store.write_batch(
            verdicts=[new_verdict, replace(new_verdict, confidence=0.1)],
            heartbeats=[new_beat, new_beat, replace(new_beat, outbox_depth=3)],
        )
    assert [(p.group, p.index) for p in batch_clash.value.problems] == [
        ("verdicts", 1),
        ("heartbeats", 2),
    ]
    fresh = store.write_batch(verdicts=[new_verdict], heartbeats=[new_beat])
    assert (fresh.accepted, fresh.duplicates) == (2, 0)  # the refused batch stored nothing


def test_more_probes_than_the_code_cache_holds_keep_their_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe-code cache is bounded (an archive has millions of reports, each a probe): codes
    dropped from it are looked up again, never made twice, and the rollups stay exact."""
    monkeypatch.setattr(sqlite_rows, "MAX_CACHED_CODES", 4)
    path = tmp_path / "store.db"
    store = SqliteStore(path)
    context = load_context()
    many = tmp_path / "many.jsonl"
    many.write_text("".join(copy(i) for i in range(40)))  # 20 probes
    first = run_import([many], context, writer=StoreWriter(store, batch=3))
    again = run_import([many], context, writer=StoreWriter(store, batch=5))
    assert len(store._codes._known) <= 4
    assert (first.stored > 0, again.stored, again.duplicates) == (True, 0, first.stored)
    incremental, _ = as_rebuilt(store, path)
    codes = incremental["probe_codes"]
    assert len(codes) == 20 == len({c for _, c in codes})  # one code per probe, none made twice
