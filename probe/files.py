"""Writing a file atomically: a reader sees the old content or the new, never half of either.

The text (or bytes) goes to a temporary file in the same folder (so the rename stays on one
file system), is flushed to disk (unless not ``durable``), given its mode and renamed over
``path``. Part of the shared kernel (docs/architecture.md): the probe, the collector and the lab
all keep small state files; the anomaly module's day-grid cache writes its arrays with it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str | bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Replace ``path`` with ``text`` (UTF-8, or ``bytes`` as they are) atomically, with
    permission bits ``mode``; ``durable`` flushes it to disk first (a secret must survive a
    crash; a status file rewritten every few seconds, or a cache, need not)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        data = text.encode("utf-8") if isinstance(text, str) else text
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
