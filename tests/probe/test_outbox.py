"""The outbox keeps every record until acknowledged, with its id, and obeys its disk cap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from probe.outbox import Kind, Outbox


def record(record_id: str, size: int = 100) -> dict[str, Any]:
    return {"id": record_id, "pad": "x" * size}


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "state" / "outbox.sqlite3", max_bytes=1_000_000)


def test_records_keep_ids_and_leave_only_when_acknowledged(outbox: Outbox) -> None:
    added = outbox.put([(Kind.MEASUREMENT, record("m1")), (Kind.VERDICT, record("v1"))])
    assert added == 2
    batch = outbox.oldest(max_records=10, max_bytes=10_000)
    assert [(r.id, r.kind) for r in batch] == [("m1", Kind.MEASUREMENT), ("v1", Kind.VERDICT)]
    assert json.loads(batch[0].body) == record("m1")
    outbox.ack(["m1"])
    assert outbox.ids() == {"v1"}
    assert outbox.depth().records == 1


def test_a_record_stored_twice_is_kept_once(outbox: Outbox) -> None:
    outbox.put([(Kind.MEASUREMENT, record("m1"))])
    assert outbox.put([(Kind.MEASUREMENT, record("m1")), (Kind.MEASUREMENT, record("m2"))]) == 1
    assert outbox.depth().records == 2


def test_batches_are_bounded_in_count_and_bytes_oldest_or_newest(outbox: Outbox) -> None:
    outbox.put([(Kind.MEASUREMENT, record(f"m{i}", 1000)) for i in range(10)])
    assert [r.id for r in outbox.oldest(max_records=3, max_bytes=10**6)] == ["m0", "m1", "m2"]
    assert [r.id for r in outbox.newest(max_records=3, max_bytes=10**6)] == ["m7", "m8", "m9"]
    by_bytes = outbox.oldest(max_records=10, max_bytes=2500)
    assert [r.id for r in by_bytes] == ["m0", "m1"]
    # a record larger than the byte bound still goes, alone, rather than blocking the queue
    assert len(outbox.oldest(max_records=10, max_bytes=10)) == 1


def test_quarantine_moves_a_record_out_of_the_queue_and_counts_it(outbox: Outbox) -> None:
    outbox.put([(Kind.MEASUREMENT, record("bad")), (Kind.MEASUREMENT, record("good"))])
    outbox.quarantine(["bad"], "HTTP 422: probe_id mismatch")
    assert outbox.ids() == {"good"}
    assert outbox.counter("quarantined") == 1


def test_records_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    first = Outbox(path, max_bytes=10**6)
    first.put([(Kind.MEASUREMENT, record("m1"))])
    first.close()
    again = Outbox(path, max_bytes=10**6)
    assert again.ids() == {"m1"}
    assert again._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_killed_writer_leaves_every_committed_record(tmp_path: Path) -> None:
    """kill -9 right after put() returns: the committed records are all there."""
    path = tmp_path / "outbox.sqlite3"
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from probe.outbox import Kind, Outbox\n"
        f"box = Outbox(Path({str(path)!r}), max_bytes=10**7)\n"
        "for i in range(200):\n"
        "    box.put([(Kind.MEASUREMENT, {'id': f'm{i}'})])\n"
        "    print(i, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == -9
    acknowledged = done.stdout.split()
    assert len(acknowledged) == 200
    assert Outbox(path, max_bytes=10**7).ids() == {f"m{i}" for i in range(200)}


def test_the_cap_thins_heartbeats_before_dropping_measurements(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_bytes=100_000)
    box.put([(Kind.HEARTBEAT, record(f"h{i}", 1000)) for i in range(40)])
    box.put([(Kind.MEASUREMENT, record(f"m{i}", 1500)) for i in range(50)])
    assert box.depth().bytes <= 100_000
    counts = box.counts_by_kind()
    assert counts["measurement"] == 50  # no measurement dropped while heartbeats were left
    assert 1 <= counts["heartbeat"] < 40
    remaining = sorted(int(i[1:]) for i in box.ids() if i.startswith("h"))
    assert 39 in remaining  # the newest heartbeat stays
    assert box.pending_dropped() == {"heartbeat": 40 - counts["heartbeat"]}


def test_the_cap_drops_oldest_measurements_last_and_counts_them(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_bytes=100_000)
    box.put([(Kind.HEARTBEAT, record("h0", 1000))])
    box.put([(Kind.MEASUREMENT, record(f"m{i:03d}", 1000)) for i in range(150)])
    ids = box.ids()
    assert box.depth().bytes <= 100_000
    assert "m149" in ids and "m000" not in ids  # oldest dropped first
    dropped = box.pending_dropped()
    assert dropped["measurement"] == 150 - sum(1 for i in ids if i.startswith("m"))
    # a heartbeat reporting the drops resets the pending count in the same transaction
    box.put([(Kind.HEARTBEAT, record("h1", 10))], reported_dropped=dropped)
    assert box.pending_dropped().get("measurement", 0) == 0


def test_a_thinned_heartbeat_carries_its_drop_report_forward(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_bytes=100_000)
    box.put([(Kind.HEARTBEAT, {"id": "h0", "dropped": {"measurement": 7}})])
    box.put([(Kind.HEARTBEAT, record(f"h{i}", 1000)) for i in range(1, 120)])
    assert "h0" not in box.ids()
    assert box.pending_dropped()["measurement"] == 7


def test_a_drained_backlog_gives_its_disk_space_back(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path, max_bytes=10**8)
    box.put([(Kind.MEASUREMENT, record(f"m{i}", 1000)) for i in range(5000)])
    box._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    full = path.stat().st_size
    box.ack(sorted(box.ids()))
    box._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert box.depth().records == 0
    assert path.stat().st_size < full / 4
