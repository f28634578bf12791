"""Stopping the processes a test started: terminate, wait, kill what is still alive, reap."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from typing import Any


def stop(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Terminate ``proc``; kill it if it is still alive after ``timeout`` seconds; always reap."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_all(procs: Iterable[subprocess.Popen[Any]], timeout: float = 10.0) -> None:
    """``stop`` each of ``procs``, in order."""
    for proc in procs:
        stop(proc, timeout)
