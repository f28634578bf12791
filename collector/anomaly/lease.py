"""Partition leases: with several watchers, at most one evaluates a partition (a country) at once.

A lease is an exclusive, non-blocking ``flock`` on ``<state_dir>/lease-<partition>.lock``. The
kernel drops it when the holder exits or dies, so there is no expiry to tune and no stale lease
after a crash. This covers watchers sharing one host or one shared file system with working
locks (local disks; not every NFS set-up); watchers on separate hosts need a lease table in the
shared store instead (docs/anomaly.md, "Several watchers").
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from types import TracebackType

_SAFE = re.compile(r"[^A-Za-z0-9_-]")


class Lease:
    """An exclusive lease on one partition; ``acquire()`` is False when another watcher holds it."""

    def __init__(self, state_dir: Path, partition: str) -> None:
        name = _SAFE.sub("_", partition) or "_"
        self.path = state_dir / f"lease-{name}.lock"
        self.partition = partition
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
