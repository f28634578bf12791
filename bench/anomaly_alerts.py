"""Alert sending benchmark: what posting every open event to every Alertmanager node costs.

A watcher sends every open event to every node each cycle (docs/operators.md, "Several
watchers"). This starts a throwaway two-node Alertmanager cluster on 127.0.0.1 and times one
cycle's sends (render + POST /api/v2/alerts to both nodes) for each number of open events.

    python bench/anomaly_alerts.py --open 100,1000 --cycles 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/support is not installed
from collector.anomaly.alerts import render
from collector.anomaly.channels import AlertmanagerChannel
from collector.records import Event, EventKind, EventState, Scope
from tests.support.ports import free_port

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
TIMELINE = "http://collector.test/timeline"  # the base of the links in each alert


def start_cluster(root: Path) -> tuple[list[str], list[subprocess.Popen[bytes]]]:
    config = root / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: none\n  group_by: [event_id]\nreceivers:\n  - name: none\n"
    )
    gossip, web = [free_port(), free_port()], [free_port(), free_port()]
    commands = [
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={root / str(i)}",
            f"--web.listen-address=127.0.0.1:{web[i]}",
            f"--cluster.listen-address=127.0.0.1:{gossip[i]}",
            f"--cluster.advertise-address=127.0.0.1:{gossip[i]}",
            f"--cluster.peer=127.0.0.1:{gossip[1 - i]}",
        ]
        for i in range(2)
    ]
    quiet = subprocess.DEVNULL
    procs = [subprocess.Popen(command, stdout=quiet, stderr=quiet) for command in commands]
    urls = [f"http://127.0.0.1:{port}" for port in web]
    deadline = time.monotonic() + 30
    for url in urls:
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("alertmanager did not start within 30 s")
            time.sleep(0.2)
    return urls, procs


def open_event(i: int, now: datetime) -> Event:
    """The ``i``-th open blocking event: one of 50 countries, one of 40 targets."""
    return Event(
        id=f"bench-{i}",
        kind=EventKind.BLOCKING,
        scope=Scope(f"C{i % 50}", 64500 + i),
        target=f"t{i % 40}",
        method="tls",
        start=now - timedelta(hours=1),
        end=None,
        confidence=0.99,
        state=EventState.OPEN,
    )


def open_events(count: int, now: datetime) -> list[Event]:
    return [open_event(i, now) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open", default="100,1000", help="open events per cycle (comma list)")
    parser.add_argument("--cycles", type=int, default=5, help="cycles per size (median shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tyndau-am-bench-") as tmp:
        urls, procs = start_cluster(Path(tmp))
        try:
            channels = [AlertmanagerChannel(url, interval_s=300) for url in urls]
            for count in (int(n) for n in args.open.split(",")):
                now = datetime.now(UTC)
                events = open_events(count, now)
                times = []
                for _ in range(args.cycles):
                    began = time.perf_counter()
                    messages = [render(e, base_url=TIMELINE, now=now) for e in events]
                    for channel in channels:
                        channel.send(messages, now=datetime.now(UTC))
                    times.append(time.perf_counter() - began)
                print(
                    f"{count:6d} open events -> 2 nodes: median {statistics.median(times):.3f} s "
                    f"per cycle (min {min(times):.3f}, max {max(times):.3f}, {args.cycles} cycles)"
                )
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    main()
