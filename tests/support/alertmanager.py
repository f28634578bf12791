"""Debian's Alertmanager on 127.0.0.1 for the tests: its config, one node or a gossiping cluster.

Each node logs to a file beside its storage (never to a pipe nobody reads, which would stall a
chatty node), and a node that does not come up fails the test with the tail of that log.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.processes import stop_all

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
# A cluster that settles in seconds, not Alertmanager's production minute.
FAST_GOSSIP = (
    "--cluster.gossip-interval=50ms",
    "--cluster.pushpull-interval=2s",
    "--cluster.peer-timeout=2s",
    "--cluster.probe-interval=200ms",
    "--cluster.probe-timeout=100ms",
    "--cluster.settle-timeout=10s",
    "--cluster.reconnect-interval=1s",
)


@dataclass
class Node:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/api/v2/status", timeout=2).json()
        return body

    def ready(self) -> bool:
        return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200


def require_alertmanager() -> None:
    """Skip loudly where Alertmanager is not installed (CI installs it)."""
    if shutil.which(ALERTMANAGER) is None:
        pytest.skip(f"LOUD SKIP: {ALERTMANAGER} missing (apt install prometheus-alertmanager)")


def write_config(directory: Path, hook_url: str, *, repeat_interval: str) -> Path:
    """A route grouping by event id with 1 s waits, notifying (and resolving) ``hook_url``."""
    config = directory / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: hook\n"
        "  group_by: [event_id]\n"
        "  group_wait: 1s\n"
        "  group_interval: 1s\n"
        f"  repeat_interval: {repeat_interval}\n"
        "receivers:\n"
        "  - name: hook\n"
        "    webhook_configs:\n"
        f"      - url: {hook_url}\n"
        "        send_resolved: true\n"
    )
    return config


def start_node(config: Path, storage: Path, *, cluster: Sequence[str]) -> Node:
    """One node on a free web port; ``cluster`` its ``--cluster.*`` flags."""
    web = free_port()
    log = storage.with_suffix(".log")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={storage}",
                f"--web.listen-address=127.0.0.1:{web}",
                *cluster,
            ],
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    return Node(f"http://127.0.0.1:{web}", process, log)


def start_cluster(config: Path, directory: Path, *, size: int) -> list[Node]:
    """``size`` nodes on 127.0.0.1, each naming the next as its peer; not yet settled."""
    if size == 1:
        return [start_node(config, directory / "am0", cluster=("--cluster.listen-address=",))]
    gossip = [free_port() for _ in range(size)]
    nodes: list[Node] = []
    try:
        for i, port in enumerate(gossip):
            flags = (
                f"--cluster.listen-address=127.0.0.1:{port}",
                f"--cluster.advertise-address=127.0.0.1:{port}",
                f"--cluster.peer=127.0.0.1:{gossip[(i + 1) % size]}",
                *FAST_GOSSIP,
            )
            nodes.append(start_node(config, directory / f"am{i}", cluster=flags))
    except BaseException:
        stop_all(n.process for n in nodes)
        raise
    return nodes


def wait_until(
    nodes: Sequence[Node], check: Callable[[], bool], *, timeout: float, what: str
) -> None:
    """Poll ``check`` until true; fail the test (with the nodes' log tails) when a node exits or
    ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        if any(n.process.poll() is not None for n in nodes) or time.monotonic() > deadline:
            tails = "\n".join(n.log.read_text(errors="replace")[-2000:] for n in nodes)
            pytest.fail(f"{what} within {timeout:g} s:\n{tails}")
        time.sleep(0.1)
