"""probe.files.write_atomic: the new content or the old, never half, and no temporary file left."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from probe.files import write_atomic


def test_writes_the_text_with_its_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    write_atomic(path, '{"new": true}\n', mode=0o600)
    assert path.read_text() == '{"new": true}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failed_write_keeps_the_old_content(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "half \ud800 written")  # a lone surrogate cannot be UTF-8
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_status_file_need_not_be_durable(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    write_atomic(path, "{}", durable=False)
    assert path.read_text() == "{}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_bytes_are_written_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "grid.npz"
    data = bytes(range(256))  # not UTF-8
    write_atomic(path, data, durable=False)
    assert path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["grid.npz"]
