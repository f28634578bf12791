"""The ingest benchmark's processes: a real collector (``tyndau collector serve``, with
``--workers N``) on loopback, and the CPU, RSS and children of a process read from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/support is not installed
from tests.support.ports import free_port

OPERATOR = "bench-operator-token-0123456789"
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Collector:
    url: str
    process: subprocess.Popen[bytes]
    rss_samples: list[int] = field(default_factory=list)

    def pids(self) -> list[int]:
        """The serve process and, with --workers, its worker processes."""
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            children = Path(f"/proc/{pid}/task/{pid}/children")
            todo += [int(c) for c in children.read_text().split()] if children.exists() else []
        return found

    def rss_kb(self) -> int:
        return sum(_status_kb(pid, "VmRSS") for pid in self.pids())

    def peak_kb(self) -> int:
        return sum(_status_kb(pid, "VmHWM") for pid in self.pids())

    def cpu_s(self) -> float:
        return sum(process_cpu_s(pid) for pid in self.pids())


def _status_kb(pid: int, key: str) -> int:
    status = Path(f"/proc/{pid}/status")
    for line in status.read_text().splitlines() if status.exists() else []:
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process, all its threads (proc(5): utime, stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


@contextmanager
def collector(store_url: str, tmp: Path, workers: int = 1) -> Iterator[Collector]:
    port = free_port()
    config = tmp / f"collector-{port}.toml"
    config.write_text(
        f'[collector]\nlisten = "127.0.0.1:{port}"\nstore = "{store_url}"\n'
        f'operator_token = "{OPERATOR}"\n[limits]\nprobe_batches_per_minute = 1000000\n'
        "max_batch_records = 10000\nmax_body_bytes = 50000000\n"
    )
    command = [sys.executable, "-m", "probe.cli", "collector", "serve", "--config", str(config)]
    process = subprocess.Popen(
        [
            *command,
            "--workers",
            str(workers),
            *(["--init"] if store_url.startswith("sqlite:") else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        server = Collector(url, process)
        expected = 1 if workers == 1 else workers + 2  # supervisor, workers, resource tracker
        for _ in range(300):  # every worker up, or the first rounds measure fewer
            if len(server.pids()) >= expected:
                break
            time.sleep(0.2)
        time.sleep(2 if workers > 1 else 0)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
