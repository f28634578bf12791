"""Benchmark ``tyndau import ooni``: measurements per second judged (``--json`` only) and
stored into SQLite, and the process's memory over the run (it must stay flat: streaming).

    python bench/ooni_import.py [--count 1000000] [--mode json|sqlite|both|read] [--profile]
    python bench/ooni_import.py --input tests/ooni/fixtures --repeat 200 [--mode json]

Synthetic OONI measurements (ts-017 Web Connectivity 0.4 and 0.5 layouts and ts-020 Telegram;
accessible, DNS, TCP, TLS and HTTP failures) are written to a .jsonl.gz file first; only the
import is timed. ``--input`` times real files instead (each path ``--repeat`` times over). The
import is ``tyndau import ooni``'s own code: ``run_import`` with the CLI's ``--json`` writer
(to /dev/null) or its store writer. Each run prints the wall seconds per measurement of every
stage (read: gunzip, split, parse; map; judge; emit; store). RSS is sampled about 100 times
over the run (/proc/self/statm); the curve at every tenth of the run is printed as
``rss_mb_at`` (records read: MB). Each figure is printed beside the issue's goal (#12: at least
5,000 measurements a second per process, both modes) and the load average.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collector.ooni.cli import json_lines  # noqa: E402
from collector.ooni.importer import Summary, run_import  # noqa: E402
from collector.ooni.mapping import load_context  # noqa: E402
from collector.ooni.reader import RawRecord, read_records  # noqa: E402
from collector.ooni.writer import StoreWriter  # noqa: E402
from collector.store.sqlite import SqliteStore  # noqa: E402

START = datetime(2022, 1, 4, tzinfo=UTC)
SITES = [
    ("https://www.facebook.com/", "www.facebook.com", "157.240.1.35"),
    ("https://twitter.com/", "twitter.com", "104.244.42.1"),
    ("http://www.example.net/", "www.example.net", "93.184.215.15"),
    ("https://www.example.com/", "www.example.com", "93.184.216.34"),
]
KINDS = ("ok", "ok", "ok", "nxdomain", "tcp_timeout", "tls_reset", "http_reset")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
GOAL_PER_SECOND = 5_000  # issue #12, per process, with --json only and into SQLite


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE / 1e6


def web(i: int, rng: random.Random) -> dict[str, Any]:
    url, host, address = SITES[i % len(SITES)]
    kind = rng.choice(KINDS)
    v05 = i % 2 == 0
    tags = ["classic", "depth=0"] if v05 else None
    at = START + timedelta(seconds=3 * i)
    failure = {
        "tcp_timeout": "generic_timeout_error",
        "tls_reset": "connection_reset",
        "http_reset": "connection_reset",
        "nxdomain": "dns_nxdomain_error",
    }.get(kind)
    query: dict[str, Any] = {
        "engine": "getaddrinfo" if v05 else "system",
        "hostname": host,
        "query_type": "ANY",
        "answers": [] if kind == "nxdomain" else [{"answer_type": "A", "ipv4": address}],
        "failure": failure if kind == "nxdomain" else None,
        "t0": 0.001,
        "t": 0.02,
    }
    keys: dict[str, Any] = {
        "queries": [query],
        "tcp_connect": [],
        "tls_handshakes": [],
        "requests": [],
    }
    if kind != "nxdomain":
        keys["tcp_connect"].append(
            {
                "ip": address,
                "port": 443,
                "t0": 0.02,
                "t": 0.05,
                "status": {
                    "success": kind != "tcp_timeout",
                    "failure": failure if kind == "tcp_timeout" else None,
                },
            }
        )
    if kind not in {"nxdomain", "tcp_timeout"} and url.startswith("https"):
        keys["tls_handshakes"].append(
            {
                "address": f"{address}:443",
                "server_name": host,
                "failure": failure if kind == "tls_reset" else None,
                "t0": 0.05,
                "t": 0.1,
            }
        )
    keys["requests"].append(
        {
            "request": {"url": url},
            "failure": failure if kind != "ok" else None,
            "response": {}
            if kind != "ok"
            else {
                "code": 200,
                "body": "<html><title>Page</title></html>",
                "headers": {"Content-Type": "text/html"},
            },
            "t0": 0.1,
            "t": 0.3,
        }
    )
    if tags:
        for entry in (query, *keys["tcp_connect"], *keys["tls_handshakes"], *keys["requests"]):
            entry["tags"] = tags
    keys["control"] = {
        "dns": {"failure": None, "addrs": [address]},
        "tcp_connect": {f"{address}:443": {"status": True, "failure": None}},
        "http_request": {
            "status_code": 200,
            "body_length": 34,
            "title": "Page",
            "failure": None,
            "headers": {},
        },
    }
    keys["control_failure"] = None
    keys["blocking"] = False if kind == "ok" else "dns" if kind == "nxdomain" else "tcp_ip"
    keys["accessible"] = kind == "ok"
    return envelope(i, at, "web_connectivity", url, "0.5.20" if v05 else "0.4.3", keys)


def telegram(i: int, rng: random.Random) -> dict[str, Any]:
    at = START + timedelta(seconds=3 * i)
    down = rng.random() < 0.3
    fail = "generic_timeout_error" if down else None
    dcs = ["149.154.175.50", "149.154.167.51", "149.154.175.100"]
    keys = {
        "tcp_connect": [
            {
                "ip": ip,
                "port": p,
                "t0": 0.0,
                "t": 0.1,
                "status": {"success": not down, "failure": fail},
            }
            for ip in dcs
            for p in (80, 443)
        ],
        "requests": [
            {
                "request": {"url": f"http://{ip}/"},
                "failure": fail,
                "response": {} if down else {"code": 501},
                "t0": 0.1,
                "t": 0.2,
            }
            for ip in dcs
        ],
        "telegram_tcp_blocking": down,
        "telegram_http_blocking": down,
        "telegram_web_status": "ok",
        "telegram_web_failure": None,
    }
    return envelope(i, at, "telegram", None, "0.2.0", keys)


def envelope(
    i: int, at: datetime, test: str, url: str | None, version: str, keys: dict[str, Any]
) -> dict[str, Any]:
    asn = (9198, 48503, 21299)[i % 3]
    # one report is one run of one probe (df-000): 50 measurements share its id, named by the
    # run's start (as OONI's are), so a store sees a probe per report, not one per measurement
    began = START + timedelta(seconds=3 * (i // 50 * 50))
    return {
        "annotations": {"network_type": "mobile" if i % 4 else "wifi"},
        "input": url,
        "measurement_start_time": at.strftime("%Y-%m-%d %H:%M:%S"),
        "probe_asn": f"AS{asn}",
        "probe_cc": "KZ",
        "probe_ip": "127.0.0.1",
        "report_id": f"{began:%Y%m%dT%H%M%SZ}_{test}_KZ_{asn}_n1_{i // 50:016d}",
        "measurement_uid": f"{at:%Y%m%d%H%M%S}.{i:06d}_KZ_{test}_{i:016x}",
        "software_name": "ooniprobe-android",
        "software_version": "3.19.0",
        "test_name": test,
        "test_version": version,
        "test_runtime": 1.2,
        "test_keys": keys,
    }


def synthetic(count: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(12)
    for i in range(count):
        yield telegram(i, rng) if i % 10 == 9 else web(i, rng)


def write_input(path: Path, count: int) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        for record in synthetic(count):
            out.write(json.dumps(record))
            out.write("\n")


class Sampler:
    """RSS every ``every`` records (about 100 samples over a run)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.samples: list[tuple[int, float]] = []

    def __call__(self, summary: Summary) -> None:
        if summary.records % self.every == 0:
            self.samples.append((summary.records, rss_mb()))


def rss_curve(samples: list[tuple[int, float]]) -> dict[int, float]:
    """RSS at every tenth of the run (the sample nearest each tenth): flat means streaming."""
    if not samples:
        return {}
    last = samples[-1][0]
    picked = {min(samples, key=lambda s: abs(s[0] - last * k / 10)) for k in range(1, 11)}
    return {records: round(mb, 1) for records, mb in sorted(picked)}


def read_only(paths: list[Path], count: int) -> dict[str, Any]:
    """The streaming reader alone (gunzip, split, json.loads): what a multi-GB file costs."""
    sampler = Sampler(max(count // 100, 100))
    summary = Summary()
    began = time.perf_counter()
    for item in read_records(paths):
        if isinstance(item, RawRecord):
            summary.records += 1
            sampler(summary)
    took = time.perf_counter() - began
    rss = [mb for _, mb in sampler.samples]
    return {
        "mode": "read",
        "records": summary.records,
        "seconds": round(took, 2),
        "per_second": round(summary.records / took),
        "rss_mb_first": round(rss[0], 1),
        "rss_mb_max": round(max(rss), 1),
        "rss_mb_last": round(rss[-1], 1),
    }


def run(paths: list[Path], mode: str, count: int, workdir: Path) -> dict[str, Any]:
    if mode == "read":
        return read_only(paths, count)
    context = load_context()
    sampler = Sampler(max(count // 100, 100))
    store = SqliteStore(workdir / f"bench-{time.monotonic_ns()}.db") if mode == "sqlite" else None
    sink = open(os.devnull, "w")  # noqa: SIM115 (closed below)
    began, cpu = time.perf_counter(), time.process_time()
    summary = run_import(
        paths,
        context,
        emit=json_lines(sink) if mode == "json" else None,
        writer=StoreWriter(store) if store else None,
        tick=sampler,
    )
    took, cpu = time.perf_counter() - began, time.process_time() - cpu
    sink.close()
    if store is not None:
        store.close()
    rss = [mb for _, mb in sampler.samples]
    settled = rss[len(rss) // 10 :] or rss  # after the first tenth: caches are warm
    per_second, per_cpu_second = summary.imported / took, summary.imported / cpu
    return {
        "mode": mode,
        "measurements": summary.imported,
        "bad": summary.bad,
        "seconds": round(took, 2),
        "per_second": round(per_second),
        # CPU seconds of this process: on a shared machine the wall clock also counts the time
        # other processes held the CPU; per_cpu_second is what one free core would do
        "cpu_seconds": round(cpu, 2),
        "per_cpu_second": round(per_cpu_second),
        "goal_per_second": GOAL_PER_SECOND,
        "goal_met_wall": per_second >= GOAL_PER_SECOND,
        "goal_met_per_cpu_second": per_cpu_second >= GOAL_PER_SECOND,
        # 1, 5 and 15 minute load averages at the end of the run: the figures' context
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "rss_mb_at": rss_curve(sampler.samples),
        "rss_mb_first": round(rss[0], 1) if rss else None,
        "rss_mb_min_after_warmup": round(min(settled), 1) if settled else None,
        "rss_mb_max_after_warmup": round(max(settled), 1) if settled else None,
        "rss_mb_mid": round(rss[len(rss) // 2], 1) if rss else None,
        "rss_mb_last": round(rss[-1], 1) if rss else None,
        # wall microseconds per measurement in each stage of the loop
        "us_per_measurement": {
            stage: round(spent * 1e6 / max(summary.imported, 1), 1)
            for stage, spent in summary.seconds.items()
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="measurements (default 100k)")
    parser.add_argument(
        "--mode",
        choices=("json", "sqlite", "both", "read"),
        default="both",
        help="json: judge and print; sqlite: judge and store; read: the streaming reader alone",
    )
    parser.add_argument(
        "--profile", action="store_true", help="print where the time goes (cProfile, top 15)"
    )
    parser.add_argument(
        "--input",
        nargs="+",
        type=Path,
        help="time these OONI files or directories instead of synthetic measurements",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="with --input: import the paths this many times"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ooni-bench-") as tmp:
        workdir = Path(tmp)
        if args.input:
            paths = list(args.input) * max(args.repeat, 1)
        else:
            path = workdir / "input.jsonl.gz"
            paths = [path]
            began = time.perf_counter()
            write_input(path, args.count)
            print(
                f"wrote {args.count} measurements ({path.stat().st_size / 1e6:.1f} MB gzip) "
                f"in {time.perf_counter() - began:.1f} s",
                file=sys.stderr,
            )
        for mode in ("json", "sqlite") if args.mode == "both" else (args.mode,):
            if args.profile:
                profiler = cProfile.Profile()
                profiler.runcall(run, paths, mode, args.count, workdir)
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(15)
            else:
                print(json.dumps(run(paths, mode, args.count, workdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
