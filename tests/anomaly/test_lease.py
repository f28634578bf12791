"""Partition leases: one holder per country, released on close or on the holder's death."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from collector.anomaly.lease import Lease


def test_second_holder_is_refused_until_the_first_releases(tmp_path: Path) -> None:
    first, second = Lease(tmp_path, "KZ"), Lease(tmp_path, "KZ")
    assert first.acquire() and first.acquire()  # re-entrant for its holder
    assert not second.acquire()
    assert Lease(tmp_path, "UZ").acquire()  # other partitions are independent
    first.release()
    assert second.acquire()
    second.release()


def test_lease_of_a_dead_process_is_free(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from collector.anomaly.lease import Lease;"
        f"assert Lease(Path({str(tmp_path)!r}), '*').acquire(); sys.exit(0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    with Lease(tmp_path, "*") as lease:
        assert lease.acquire()
    assert (tmp_path / "lease-_.lock").exists()
