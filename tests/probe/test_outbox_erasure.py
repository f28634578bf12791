"""Acknowledged records leave no readable trace in the outbox file (issue 18): someone who
seizes the probe's device and reads the database's free pages finds nothing already uploaded.
Debian's SQLite erases by default; the outbox asks for it (``secure_delete``) so builds that do
not still do (with ``secure_delete=OFF`` this test fails)."""

from __future__ import annotations

from pathlib import Path

from probe.ids import uuid7
from probe.outbox import Kind, Outbox


def _files(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


def test_an_acknowledged_record_is_overwritten_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, max_bytes=10**7)
    marker = "uploaded-" + uuid7()
    kept = "waiting-" + uuid7()
    gone_id, kept_id = uuid7(), uuid7()
    box.put([(Kind.MEASUREMENT, {"id": gone_id, "details": {"mark": marker * 20}})])
    box.put([(Kind.MEASUREMENT, {"id": kept_id, "details": {"mark": kept}})])
    box.ack([gone_id])
    box.close()  # the last connection checkpoints the WAL into the database file
    on_disk = _files(path)
    assert kept.encode() in on_disk  # the reader of this test sees the file as it is
    assert marker.encode() not in on_disk
    assert gone_id.encode() not in on_disk  # nor the id, in the table or its index
