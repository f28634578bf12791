"""Weight of the real probe daemon doing real rounds in the lab: idle RSS, RSS in a round, CPU
per round, log lines per round, and outbox throughput.

Run as root: ``python bench/probe_daemon.py [--rounds N]``. A lab comes up (namespaces in
198.18.0.0/15, real resolvers, web servers and censor); ``tyndau collector serve`` runs in the
lab's collector node and the unchanged ``tyndau probe run`` in the fixed vantage, measuring the
shipped targets every round. RSS is read from /proc (what ``ps`` shows) while the daemon waits
between rounds and while a round runs. Goals (docs/volunteers.md): idle RSS under 50 MB; scapy
not loaded unless raw tests are on.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.command import TYNDAU  # noqa: E402 (tests/ is not installed)
from tests.support.lab import daemon_config, serve_collector  # noqa: E402
from tests.support.processes import stop  # noqa: E402

TOKEN = "operator-token-for-the-benchmark"
ROUND_S = 30  # a round every 30 s: long enough for idle stretches between rounds


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def rounds_done(work: Path) -> int:
    status = work / "status.json"
    try:
        return int(json.loads(status.read_text()).get("rounds", 0))
    except (OSError, ValueError):
        return 0


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def measure_daemon(lab: Any, work: Path, rounds: int) -> dict[str, float]:
    url = serve_collector(lab, work, token=TOKEN)
    config = daemon_config(lab, work, url, round_minutes=ROUND_S / 60, heartbeat_seconds=10)
    register = [TYNDAU, "probe", "register", "--config", str(config), "--collector", url]
    done = lab.run("fixed", [*register, "--token", TOKEN], timeout=30)
    if done.returncode != 0:
        raise SystemExit(f"register failed: {done.stderr}")
    log_path = work / "daemon.log"
    log = log_path.open("wb")
    run = [TYNDAU, "probe", "run", "--config", str(config)]
    daemon = lab.popen("fixed", run, stdout=log, stderr=log)
    idle: list[float] = []
    busy: list[float] = []
    try:
        pid = daemon.pid  # ip netns exec execs the command: this is the daemon itself
        wait_for(lambda: rounds_done(work) >= 1, 120, "a first round")
        cpu_start, first = cpu_s(pid), rounds_done(work)
        deadline = time.monotonic() + rounds * ROUND_S * 2 + 60
        while rounds_done(work) < first + rounds and time.monotonic() < deadline:
            status = json.loads((work / "status.json").read_text())
            finished = status.get("last_round", {}).get("finished_at", "")
            next_round = status.get("next_round") or ""
            now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            # between a round's end (+3 s for its upload) and the next round's start: idle
            quiet = finished and now > finished[:19] and next_round[:19] > now
            settled = quiet and time.time() - _epoch(finished) > 3
            (idle if settled else busy).append(rss_mb(pid))
            time.sleep(0.25)
        cpu_end, last = cpu_s(pid), rounds_done(work)
        maps = Path(f"/proc/{pid}/maps").read_text()
        thread_count = threads(pid)
    finally:
        stop(daemon, timeout=15)
        log.close()
    measured = max(1, last - first)
    lines = log_path.read_text(errors="replace").splitlines()
    with sqlite3.connect(work / "collector.sqlite3") as db:
        stored = db.execute("SELECT count(*) FROM measurements").fetchone()[0]
    return {
        "idle_mb": max(idle or [0.0]),
        "idle_median_mb": sorted(idle)[len(idle) // 2] if idle else 0.0,
        "busy_mb": max(busy or [0.0]),
        "cpu_ms": (cpu_end - cpu_start) / measured * 1000,
        "rounds": measured,
        "log_lines_per_round": len(lines) / max(1, last),
        "threads": thread_count,
        "scapy": float("scapy" in maps),
        "stored": stored,
    }


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def outbox_throughput(work: Path, total: int = 20_000) -> None:
    """Outbox write speed: one transaction per round, as the daemon writes (no network)."""
    from probe.outbox import Kind, Outbox

    box = Outbox(work / "throughput.sqlite3", max_bytes=10**9)
    details = {"dns_answers": ["198.18.0.10"], "dns_t": 0.0125}
    records = [
        {"id": f"01890000-0000-7000-8000-{i:012d}", "details": details} for i in range(total)
    ]
    started = time.perf_counter()
    for i in range(0, total, 40):
        box.put([(Kind.MEASUREMENT, r) for r in records[i : i + 40]])
    written = time.perf_counter() - started
    box.close()
    print(f"outbox write (synchronous=FULL, 40/txn): {total / written:9.0f} records/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="real rounds to measure")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the lab needs root (network namespaces)")
    from lab import Lab

    with tempfile.TemporaryDirectory(prefix="tyndau-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        with Lab(prefix="tbd", targets_file=ROOT / "config" / "targets.toml") as lab:
            found = measure_daemon(lab, work, args.rounds)
        outbox_throughput(work)
    print(f"real daemon, {found['rounds']:.0f} real rounds in the lab ({ROUND_S} s apart),")
    print(f"  {found['stored']:.0f} measurements stored at the collector")
    print(f"daemon idle RSS (max):       {found['idle_mb']:7.1f} MB  (goal < 50 MB)")
    print(f"daemon idle RSS (median):    {found['idle_median_mb']:7.1f} MB")
    print(f"daemon RSS during a round:   {found['busy_mb']:7.1f} MB")
    print(f"daemon CPU per round:        {found['cpu_ms']:7.0f} ms")
    print(f"daemon threads:              {found['threads']:7.0f}")
    print(f"log lines per round:         {found['log_lines_per_round']:7.1f}")
    print(f"scapy loaded without raw:    {'yes' if found['scapy'] else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
