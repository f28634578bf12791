"""Watchers scaled out as Prometheus is: two watchers, a two-node Alertmanager cluster, one page.

Everything is real and on loopback: Debian's Alertmanager (two nodes gossiping on 127.0.0.1),
the collector's SQLite store, two watcher processes (this file run as a script: each cycle is
driven by the test through stdin, so the evaluation clock is the test's while alerts carry the
wall clock), and a webhook receiver that records what Alertmanager notifies. Every event must
reach the receiver exactly once firing and once resolved, also after one watcher is killed
mid-run and the Alertmanager node that was notifying is killed too. No lease file anywhere.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from collector.anomaly.alerts import Ledger
from collector.anomaly.cache import GridCache
from collector.anomaly.channels import AlertmanagerChannel
from collector.anomaly.settings import AnomalySettings
from collector.anomaly.watcher import Watcher
from collector.store import open_store
from probe.model import (
    Category,
    Heartbeat,
    TargetRef,
    Vantage,
    Verdict,
)
from tests.support import alertmanager
from tests.support.alertmanager import Node, require_alertmanager, start_cluster, write_config
from tests.support.processes import stop, stop_all
from tests.support.records import TLS_RESET, round_of

REPO = Path(__file__).resolve().parents[2]
ROUND = timedelta(minutes=5)
# Simulated history, all of it in the past (alerts are stamped with the wall clock): 28 h of
# quiet rounds, then a KZ shutdown (rounds CUT) and a TM blocking of telegram (rounds BLOCK).
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=48)
ONSET = 28 * 12
CUT = range(ONSET, ONSET + 8)
BLOCK = range(ONSET + 1, ONSET + 9)
LAST = ONSET + 16
KZ = Vantage(cc="KZ", asn=64500, network="mobile")
TM = Vantage(cc="TM", asn=64510, network="fixed")
TELEGRAM = TargetRef("telegram", "telegram.test", Category.PLATFORM)
CONTROL = TargetRef("control", "control.test", Category.CONTROL)
PROBES = 4


def at(index: int) -> datetime:
    return T0 + index * ROUND


def round_records(r: int, vantage: Vantage) -> tuple[list[Verdict], list[Heartbeat]]:
    """One round of ``PROBES`` probes at one vantage: offline in a cut, TLS-reset when blocked."""
    return round_of(
        r,
        at(r) + timedelta(seconds=30),
        vantage,
        [f"{vantage.cc}-probe-{p}" for p in range(PROBES)],
        (TELEGRAM, CONTROL),
        offline=vantage is KZ and r in CUT,
        blocked={TELEGRAM.name: TLS_RESET} if vantage is TM and r in BLOCK else None,
        uptime_s=300.0 * r,
    )


def arrived_by(k: int, written: set[tuple[str, int]]) -> tuple[list[Verdict], list[Heartbeat]]:
    """What has reached the collector by round ``k`` and was not written yet. KZ's probes are
    cut off: their rounds of the cut arrive (oldest first) once the cut is over."""
    verdicts: list[Verdict] = []
    heartbeats: list[Heartbeat] = []
    for vantage in (KZ, TM):
        for r in range(k):
            if (vantage.cc, r) in written or (vantage is KZ and k <= CUT.stop - 1 and r in CUT):
                continue
            v, h = round_records(r, vantage)
            verdicts += v
            heartbeats += h
            written.add((vantage.cc, r))
    return verdicts, heartbeats


# -- the watcher process ------------------------------------------------------------------------


def serve_cycles(store_url: str, state_dir: Path, alertmanagers: list[str]) -> None:
    """A watcher whose clock is stdin: ``CYCLE <time>`` runs one cycle, answered ``OK n``."""
    settings = AnomalySettings(lookback_s=6 * 3600, interval_s=60, state_dir=state_dir)
    store: Any = open_store(store_url, create=False)
    watcher = Watcher(
        store,
        settings,
        channels=[
            AlertmanagerChannel(url, interval_s=settings.interval_s) for url in alertmanagers
        ],
        ledger=Ledger(state_dir / "alerts.sqlite3"),
        cache=GridCache.for_store(state_dir, store_url),
    )
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command != "CYCLE":
            break
        changes = watcher.cycle(datetime.fromisoformat(arg))
        print(f"OK {len(changes)} {watcher.open_events}", flush=True)
    watcher.close()
    store.close()


@dataclass
class WatcherProcess:
    name: str
    process: subprocess.Popen[str]

    def send(self, now: datetime) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"CYCLE {now.isoformat()}\n")
        self.process.stdin.flush()

    def answer(self, timeout: float = 20.0) -> str:
        out: IO[str] | None = self.process.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], timeout)
        line = out.readline() if ready else ""
        if not line.startswith("OK"):
            err = self.process.stderr.read() if self.process.stderr else ""
            pytest.fail(f"watcher {self.name} did not answer a cycle: {line!r} {err[-3000:]}")
        return line


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path, receiver: Any) -> Iterator[list[Node]]:
    """Two Alertmanager nodes gossiping on 127.0.0.1, both notifying the test's receiver."""
    require_alertmanager()
    config = write_config(tmp_path, f"{receiver.url}/am", repeat_interval="24h")
    nodes = start_cluster(config, tmp_path, size=2)
    try:

        def settled() -> bool:  # both see both peers and say ready
            states = [n.status()["cluster"] for n in nodes]
            return all(s["status"] == "ready" and len(s.get("peers") or []) == 2 for s in states)

        alertmanager.wait_until(
            nodes, settled, timeout=30, what="the Alertmanager cluster did not settle"
        )
        yield nodes
    finally:
        stop_all(n.process for n in nodes)


@pytest.fixture
def watchers(tmp_path: Path, cluster: list[Node]) -> Iterator[tuple[str, list[WatcherProcess]]]:
    """The store (SQLite, made here) and two watcher processes sending to both nodes."""
    url = f"sqlite:{tmp_path / 'collector.sqlite3'}"
    open_store(url).close()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs: list[WatcherProcess] = []
    try:
        for name in ("a", "b"):
            command = [
                sys.executable,
                __file__,
                url,
                str(tmp_path / f"state-{name}"),
                *(n.url for n in cluster),
            ]
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            procs.append(WatcherProcess(name, process))
        yield url, procs
    finally:
        for proc in procs:
            if proc.process.stdin is not None and proc.process.poll() is None:
                proc.process.stdin.close()
            stop(proc.process)


# -- the test -----------------------------------------------------------------------------------


def notifications(receiver: Any) -> Counter[tuple[str, str]]:
    """(event id, status) of every alert in every notification Alertmanager sent."""
    seen: Counter[tuple[str, str]] = Counter()
    for path, body in list(receiver.received):
        assert path == "/am"
        for alert in body["alerts"]:
            seen[(alert["labels"]["event_id"], alert["status"])] += 1
    return seen


def wait_until(receiver: Any, status: str, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(n for (_, s), n in notifications(receiver).items() if s == status) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{count} {status} notifications expected: {notifications(receiver)}")
        time.sleep(0.1)


def first_in_line(nodes: list[Node]) -> int:
    """The node that notifies first: Alertmanager orders peers by name, position 0 sends at
    once, the others wait peer_timeout x position and check the gossiped notification log."""
    status = nodes[0].status()["cluster"]
    names = sorted(peer["name"] for peer in status["peers"])
    own = [n.status()["cluster"]["name"] for n in nodes]
    return own.index(names[0])


@pytest.mark.slow
def test_two_watchers_and_an_alertmanager_cluster_page_each_event_once(
    cluster: list[Node], watchers: tuple[str, list[WatcherProcess]], receiver: Any
) -> None:
    url, procs = watchers
    settle = timedelta(minutes=5)
    written: set[tuple[str, int]] = set()
    store = open_store(url)
    alive = list(procs)
    killed = False
    try:
        for k in range(ONSET - 1, LAST):
            verdicts, heartbeats = arrived_by(k, written)
            store.write_batch(verdicts=verdicts, heartbeats=heartbeats)
            for proc in alive:
                proc.send(at(k) + settle)
            for proc in alive:
                proc.answer()
            if k == ONSET + 5 and not killed:
                wait_until(receiver, "firing", 2)
                time.sleep(1.0)  # the notification log reaches the other node by gossip
                victim = alive.pop(0)  # watcher a dies mid-run, without a word
                victim.process.send_signal(signal.SIGKILL)
                victim.process.wait(timeout=10)
                node = cluster[first_in_line(cluster)]  # and the node that notified
                node.process.send_signal(signal.SIGKILL)
                node.process.wait(timeout=10)
                killed = True
        assert killed
        wait_until(receiver, "resolved", 2, timeout=30)
        time.sleep(4.0)  # > peer_timeout + group_interval: a duplicate would have come by now
    finally:
        store.close()
    seen = notifications(receiver)
    events = {event_id for event_id, _ in seen}
    assert len(events) == 2, seen  # the KZ shutdown and the TM blocking
    assert seen == Counter({(e, s): 1 for e in events for s in ("firing", "resolved")}), seen
    stored = open_store(url)
    try:
        rows = stored.events(since=T0, until=at(LAST + 1))
    finally:
        stored.close()
    assert {e.id for e in rows} == events
    assert sorted(e.kind.value for e in rows) == ["blocking", "shutdown"]
    assert not list(Path(url.removeprefix("sqlite:")).parent.rglob("*lease*"))


if __name__ == "__main__":  # a watcher process of the test above
    serve_cycles(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])
