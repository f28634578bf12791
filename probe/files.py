"""Writing a file atomically: a reader sees the old content or the new, never half of either.

The text goes to a temporary file in the same folder (so the rename stays on one file system),
is flushed to disk (unless not ``durable``), given its mode and renamed over ``path``. Part of
the shared kernel (docs/architecture.md): the probe, the collector and the lab all keep small
state files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str, *, mode: int = 0o644, durable: bool = True) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically, with permission bits ``mode``;
    ``durable`` flushes it to disk first (a secret must survive a crash; a status file that is
    rewritten every few seconds need not)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
