"""Weight of the probe daemon: idle RSS, RSS during a round, CPU per round, outbox throughput.

Run: ``python bench/probe_daemon.py``. Everything stays on 127.0.0.1: the daemon runs with a
bench round (it imports the real ``probe.round`` so its modules are counted, then returns
synthetic measurements at a realistic pace), and uploads go to a real ``tyndau collector serve``
with a SQLite store. Goals (docs/volunteers.md): idle RSS <= 50 MB; scapy not imported unless
raw tests are on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TYNDAU = str(Path(sys.executable).parent / "tyndau")
TOKEN = "operator-token-for-the-benchmark"
PER_ROUND = 40  # measurements per round, about what 20 targets x (dns, tcp, tls, http) give

BENCH_ROUND = f"""
import asyncio, os, sys
from dataclasses import dataclass
import probe.round  # the real round's imports count in the daemon's RSS
from probe.ids import uuid7
from probe.model import (Category, Measurement, TargetRef, TestKind, Vantage, Verdict,
                         VerdictKind, utcnow)

@dataclass
class Result:
    round_id: str
    started_at: object
    measurements: list
    verdicts: list

async def run_round(settings, *, probe_id, targets=None, tests=None):
    started, round_id = utcnow(), uuid7()
    vantage = Vantage(settings.cc, settings.asn, settings.network)
    target = TargetRef("example", "example.test", Category.PLATFORM)
    open(os.environ["BENCH_MARK"], "w").write("round\\n")
    measurements = []
    for i in range({PER_ROUND}):
        await asyncio.sleep(0.02)
        measurements.append(Measurement(
            id=uuid7(), probe_id=probe_id, probe_version="0.1.0", vantage=vantage,
            target=target, test=TestKind.DNS, started_at=utcnow(), duration_ms=12.5,
            outcome="ok", round_id=round_id,
            details={{"dns_answers": ["198.18.0.10"], "dns_t": 0.0125, "i": i}}))
    verdicts = [Verdict(
        id=uuid7(), probe_id=probe_id, vantage=vantage, target=target, round_id=round_id,
        at=utcnow(), verdict=VerdictKind.ACCESSIBLE, method=None, reason=None, confidence=0.9,
        measurement_ids=tuple(m.id for m in measurements))]
    open(os.environ["BENCH_MARK"], "w").write("idle\\n")
    return Result(round_id, started, measurements, verdicts)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_collector(work: Path, port: int) -> subprocess.Popen[bytes]:
    config = work / "collector.toml"
    config.write_text(
        f'[collector]\nlisten = "127.0.0.1:{port}"\nstore = "sqlite:{work}/store.sqlite3"\n'
        f'operator_token = "{TOKEN}"\n[limits]\nprobe_batches_per_minute = 100000\n'
    )
    proc = subprocess.Popen(
        [TYNDAU, "collector", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("collector did not start")


def register(port: int, work: Path) -> None:
    config = work / "probe.toml"
    config.write_text(f'[upload]\ncredentials_file = "{work}/credentials.json"\n')
    url = f"http://127.0.0.1:{port}"
    subprocess.run(
        [
            TYNDAU,
            "probe",
            "register",
            "--config",
            str(config),
            "--collector",
            url,
            "--token",
            TOKEN,
        ],
        check=True,
        capture_output=True,
    )


def daemon_weight(work: Path, port: int, rounds: int = 4) -> None:
    (work / "benchround.py").write_text(BENCH_ROUND)
    mark = work / "mark"
    config = work / "probe.toml"
    config.write_text(
        f'[probe]\ncc = "KZ"\nasn = 9198\nnetwork = "fixed"\nstate_dir = "{work}"\n'
        f'[upload]\ncollector_url = "http://127.0.0.1:{port}"\n'
        f'credentials_file = "{work}/credentials.json"\n'
        "[schedule]\nround_minutes = 0.05\njitter_seconds = 0\nheartbeat_seconds = 5\n"
        f'[outbox]\npath = "{work}/outbox.sqlite3"\n'
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{work}{os.pathsep}{ROOT}",
        "TYNDAU_PROBE_ROUND": "benchround:run_round",
        "BENCH_MARK": str(mark),
    }
    proc = subprocess.Popen(
        [TYNDAU, "probe", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        idle: list[float] = []
        busy: list[float] = []
        seen_rounds = 0
        last = ""
        cpu_start: float | None = None
        deadline = time.monotonic() + 3 * rounds + 15
        while seen_rounds < rounds and time.monotonic() < deadline:
            state = mark.read_text().strip() if mark.exists() else ""
            if state == "round" and last != "round":
                seen_rounds += 1
                if cpu_start is None:
                    cpu_start = cpu_s(proc.pid)
            if state:
                (busy if state == "round" else idle).append(rss_mb(proc.pid))
            last = state
            time.sleep(0.02)
        time.sleep(2.5)  # the last round, its upload, idle again
        cpu_end = cpu_s(proc.pid)
        scapy = "scapy" in Path(f"/proc/{proc.pid}/maps").read_text()
        idle.append(rss_mb(proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    per_round = (cpu_end - (cpu_start or cpu_end)) / max(1, seen_rounds)
    print(f"daemon idle RSS:             {max(idle):7.1f} MB  (goal <= 50 MB)")
    print(f"daemon RSS during a round:   {max(busy or [0.0]):7.1f} MB")
    print(f"daemon CPU per round cycle:  {per_round * 1000:7.1f} ms  ({PER_ROUND} measurements,")
    print("                                       store + upload + heartbeats included)")
    print(f"scapy loaded without raw:    {'yes' if scapy else 'no'}")


def outbox_throughput(work: Path, port: int, total: int = 20_000) -> None:
    from probe.credentials import load_credentials
    from probe.outbox import Kind, Outbox
    from probe.uploader import Uploader

    credentials = load_credentials(work / "credentials.json")
    box = Outbox(work / "throughput.sqlite3", max_bytes=10**9)
    at = "2022-01-05T10:00:00.000000Z"
    records = [
        {
            "id": f"01890000-0000-7000-8000-{i:012d}",
            "schema": "tyndau.measurement/1",
            "probe_id": credentials.probe_id,
            "probe_version": "0.1.0",
            "vantage": {"cc": "KZ", "asn": 9198, "network": "fixed"},
            "target": {"name": "example", "domain": "example.test", "category": "platform"},
            "test": "dns",
            "started_at": at,
            "duration_ms": 12.5,
            "outcome": "ok",
            "round_id": "01890000-0000-7000-8000-000000000000",
            "details": {"dns_answers": ["198.18.0.10"], "dns_t": 0.0125},
        }
        for i in range(total)
    ]
    started = time.perf_counter()
    for i in range(0, total, PER_ROUND):  # one transaction per round, as the daemon writes
        box.put([(Kind.MEASUREMENT, r) for r in records[i : i + PER_ROUND]])
    written = time.perf_counter() - started
    uploader = Uploader(
        box,
        collector_url=f"http://127.0.0.1:{port}",
        token=credentials.token,
        batch_max_records=500,
        batch_max_bytes=1_000_000,
    )
    started = time.perf_counter()
    acknowledged = 0
    while box.depth().records:
        report = uploader.drain(max_batches=1000)
        acknowledged += report.acknowledged
        if report.error:
            raise SystemExit(f"upload failed: {report.error}")
    sent = time.perf_counter() - started
    size = os.path.getsize(work / "throughput.sqlite3")
    print(f"outbox write (synchronous=FULL, {PER_ROUND}/txn): {total / written:9.0f} records/s")
    print(
        f"outbox upload + ack (500/batch, gzip, SQLite store): {acknowledged / sent:6.0f} records/s"
    )
    print(f"outbox file after {total} records and full drain: {size / 1e6:.1f} MB")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="tyndau-bench-") as tmp:
        work = Path(tmp)
        port = free_port()
        collector = start_collector(work, port)
        try:
            register(port, work)
            daemon_weight(work, port)
            outbox_throughput(work, port)
        finally:
            collector.terminate()
            collector.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
