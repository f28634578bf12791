"""The ``tyndau`` command as installed, run the way a user runs it: a subprocess whose output
is captured, from the repository root unless told otherwise."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TYNDAU = str(Path(sys.executable).parent / "tyndau")  # the entry point, as installed


def tyndau(
    *args: str | Path,
    cwd: Path = ROOT,
    timeout: float = 120,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``tyndau ARGS``: its exit code, stdout and stderr as text (never raises on failure)."""
    return subprocess.run(
        [TYNDAU, *map(str, args)],
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
