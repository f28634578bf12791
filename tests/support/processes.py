"""The processes a test starts: waiting until one serves, stopping it (terminate, wait, kill
what is still alive, reap)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx


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


def wait_until_serving(
    url: str, proc: subprocess.Popen[Any], *, timeout: float = 20.0, log: Path | None = None
) -> None:
    """Poll ``url`` until it answers 200; RuntimeError (with the tail of ``log``) when ``proc``
    exits or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            why = "exited" if proc.poll() is not None else f"did not answer within {timeout:g} s"
            tail = log.read_text(errors="replace")[-3000:] if log is not None else ""
            raise RuntimeError(f"{url}: {proc.args!r} {why}\n{tail}")
        time.sleep(0.1)
