"""The processes a lab runs inside its nodes' network namespaces, all stopped at teardown."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any


class Processes:
    """Runs commands in nodes (``ip netns exec``); remembers what it started to stop it."""

    def __init__(self, netns: Callable[[str], str]) -> None:
        self._netns = netns
        self._procs: list[subprocess.Popen[Any]] = []

    def run(
        self, node: str, cmd: Sequence[str], timeout: float = 30, *, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` in a node; never raises on its exit status (a timeout gives status 124)."""
        args = ["ip", "netns", "exec", self._netns(node), *cmd]
        try:
            return subprocess.run(
                args, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return subprocess.CompletedProcess(args, 124, out, f"timed out after {timeout}s")

    def popen(self, node: str, cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a process in a node; ``stop_all`` terminates it."""
        proc: subprocess.Popen[Any] = subprocess.Popen(
            ["ip", "netns", "exec", self._netns(node), *cmd], **kwargs
        )
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[Any]) -> None:
        """Terminate one process (killed after 2 s) and forget it."""
        proc.terminate()
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._procs.remove(proc)

    def stop_all(self, grace_s: float = 1.0) -> None:
        """Terminate every process started, together; kill those still alive after ``grace_s``."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + grace_s
        for proc in self._procs:
            try:
                proc.wait(max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
