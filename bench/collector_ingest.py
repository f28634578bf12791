"""Ingest benchmark: measurements through the collector API vs. straight into the store.

Starts a throwaway influxd and a real collector process (``tyndau collector serve``) on loopback,
posts batches of measurements from M concurrent clients, and in the same run writes the same
points straight to the store (InfluxDB /write with line protocol in batches of 5,000; SQLite
through the store in batches of 5,000). Prints both rates, their ratio, p50/p99 latency of one
batch, the collector's CPU time per measurement and its RSS sampled over the run (flat = no leak).

InfluxDB has two direct baselines, written in the same run: (A) line protocol prebuilt before the
clock starts, InfluxDB's own ceiling, and (B) ``Point`` -> line protocol built in the timed loop,
as any Python writer of the same points must. ``--repeat`` runs API, A and B in turn that many
times and reports medians, since the machine is shared; CPU time per measurement is the figure
least disturbed by other load. ``--workers 1,2,4`` runs the API rounds against
``collector serve --workers N`` for each N (CPU and RSS summed over the worker processes).
With InfluxDB the run ends with the ingest path stage by stage (collector_ingest_stages.py):
where the collector's CPU per measurement goes, what each batch makes influxd do, and the
serialisers side by side (``Point``, QuestDB's ILP Buffer that the store uses, and the pandas
and Polars DataFrame serialisers where installed).

    python bench/collector_ingest.py                      # both stores, short run
    python bench/collector_ingest.py --store influx --measurements 30000 --repeat 5
    python bench/collector_ingest.py --store influx --duration 300   # sustained load
    python bench/collector_ingest.py --store influx --workers 1,2,4
    python bench/collector_ingest.py --store influx --workers 1,2,4 --mix round

During each API round the bench also reads influxd's CPU time (/proc) and its own: the share
of the cores busy shows when the machine, not the collector, is the limit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from collector_ingest_direct import DIRECT_BATCH, DirectRun, direct_influx, direct_sqlite
from collector_ingest_procs import OPERATOR, Collector, collector, process_cpu_s
from collector_ingest_records import body as make_body
from collector_ingest_records import make_measurements, renewed
from collector_ingest_stages import decoders, ingest_stages, print_stages, serialisers

from collector.serve import tune_gc
from collector.store.influx import InfluxStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/support is not installed
from tests.support.influxd import start_influxd

GOAL_RATIO = 0.3  # issue 17: API rate per process >= 0.3 of the prebuilt ceiling


@dataclass
class ApiRun:
    rate: float  # measurements/s
    sent: int
    latencies: list[float]  # seconds per batch
    cpu_us: float  # collector CPU per measurement
    refused: list[str] = field(default_factory=list)  # batches answered other than 200
    store_cpu_us: float = 0.0  # influxd's CPU per measurement (0: not measured)
    clients_cpu_us: float = 0.0  # the bench's own clients (this process)
    busy: float = 0.0  # share of the machine's cores busy with collector + store + clients


def through_api(
    server: Collector,
    *,
    clients: int,
    batch: int,
    total: int,
    duration: float | None,
    mix: str = "measurements",
    store_pid: int | None = None,
) -> ApiRun:
    """Post batches from ``clients`` threads after one untimed warm-up batch each. Rates count
    measurements; with ``mix="round"`` each batch also carries a round's verdicts and a
    heartbeat (which the store rolls up)."""
    tokens = []
    for index in range(clients):
        response = httpx.post(
            f"{server.url}/v1/probes",
            json={"name": f"bench-{index}"},
            headers={"Authorization": f"Bearer {OPERATOR}"},
        )
        response.raise_for_status()
        tokens.append((response.json()["probe_id"], response.json()["token"]))
    per_client = max(1, total // clients // batch)
    bodies = [
        [make_body(make_measurements(batch, probe_id), mix) for _ in range(per_client)]
        for probe_id, _ in tokens
    ]
    latencies: list[float] = []
    refused: list[str] = []
    sent = [0] * clients
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    deadline: list[float | None] = [None]

    def run(index: int) -> None:
        probe_id, token = tokens[index]
        with httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=60,
        ) as client:
            try:
                _post(client, make_body(make_measurements(batch, probe_id), mix))  # warm-up
            finally:
                ready.wait()
            round_ = 0
            while True:
                for body in bodies[index] if round_ == 0 else renewed(bodies[index], round_):
                    started = time.perf_counter()
                    try:
                        _post(client, body)
                    except RuntimeError as exc:  # counted and shown, not a crash
                        with lock:
                            refused.append(str(exc)[:120])
                        return
                    elapsed = time.perf_counter() - started
                    with lock:
                        latencies.append(elapsed)
                    sent[index] += batch
                    if deadline[0] is not None and time.monotonic() > deadline[0]:
                        return
                round_ += 1
                if deadline[0] is None:
                    return

    sampler_stop = threading.Event()

    def sample() -> None:
        while not sampler_stop.wait(1.0):
            server.rss_samples.append(server.rss_kb())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    if duration is not None:
        deadline[0] = time.monotonic() + duration
    ready.wait()  # every client has sent its warm-up batch
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu_before = server.cpu_s()
    store_before = process_cpu_s(store_pid) if store_pid else 0.0
    clients_before = time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = server.cpu_s() - cpu_before
    store_cpu = process_cpu_s(store_pid) - store_before if store_pid else 0.0
    clients_cpu = time.process_time() - clients_before
    sampler_stop.set()
    count = sum(sent)
    if refused:
        print(f"API round: {len(refused)} batch(es) refused, first: {refused[0]}")
    per = 1e6 / max(1, count)
    busy = (cpu + store_cpu + clients_cpu) / (elapsed * (os.cpu_count() or 1))
    return ApiRun(
        count / elapsed,
        count,
        latencies,
        cpu * per,
        refused,
        store_cpu * per,
        clients_cpu * per,
        busy,
    )


def _post(client: httpx.Client, body: bytes) -> None:
    response = client.post("/v1/measurements", content=body)
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.text[:300]}")


def _load() -> str:
    return "load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def report(
    name: str, apis: list[ApiRun], directs: dict[str, list[DirectRun]], server: Collector
) -> None:
    """Medians over the rounds; each ratio is median API rate / median direct rate."""
    rate = statistics.median(a.rate for a in apis)
    cpu_us = statistics.median(a.cpu_us for a in apis)
    ordered = sorted(t for a in apis for t in a.latencies)
    if not ordered:
        print(f"[{name}] no batch was stored: {sum(len(a.refused) for a in apis)} refused")
        return
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    samples = server.rss_samples or [server.rss_kb()]
    spread = ", ".join(f"{a.rate:,.0f}" for a in apis)
    print(
        f"[{name}] measurements through API: {sum(a.sent for a in apis)} in {len(ordered)}"
        f" batches, {len(apis)} round(s)"
    )
    print(f"[{name}] API rate: {rate:,.0f} measurements/s (rounds: {spread})")
    print(f"[{name}] collector CPU: {cpu_us:.0f} us per measurement")
    if any(a.store_cpu_us for a in apis):
        store_us = statistics.median(a.store_cpu_us for a in apis)
        clients_us = statistics.median(a.clients_cpu_us for a in apis)
        busy = statistics.median(a.busy for a in apis)
        print(
            f"[{name}] during the API round: influxd {store_us:.0f} us CPU per measurement, the"
            f" bench's clients {clients_us:.0f} us; {100 * busy:.0f}% of {os.cpu_count()} cores"
            " busy with collector + influxd + clients"
        )
    for label, runs in directs.items():
        direct = statistics.median(r.rate for r in runs)
        writer = statistics.median(r.cpu_us for r in runs)
        store_us = statistics.median(r.store_cpu_us for r in runs)
        influxd = f", influxd CPU {store_us:.0f} us" if store_us else ""
        print(
            f"[{name}] direct {label}, batches of {DIRECT_BATCH}: {direct:,.0f}/s"
            f" (writer CPU {writer:.0f} us/measurement{influxd}); ratio API/direct"
            f" {rate / direct:.2f}" + (f" (goal >= {GOAL_RATIO})" if label == INFLUX_A else "")
        )
    print(f"[{name}] batch latency p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"[{name}] collector RSS: first {samples[0] / 1024:.1f} MiB, last "
        f"{samples[-1] / 1024:.1f} MiB, peak {server.peak_kb() / 1024:.1f} MiB"
    )
    print(f"[{name}] machine: {os.cpu_count()} cores, {_load()} at the end")


def rounds(repeat: int, steps: dict[str, Callable[[], Any]]) -> dict[str, list[Any]]:
    """Run the steps in turn ``repeat`` times, so that passing load hits all of them alike."""
    results: dict[str, list[Any]] = {label: [] for label in steps}
    for _ in range(repeat):
        for label, step in steps.items():
            results[label].append(step())
    return results


INFLUX_A = "(A) prebuilt line protocol, InfluxDB's ceiling"
INFLUX_B = "(B) Point -> line protocol in the timed loop"


def influx_rounds(args: argparse.Namespace, options: dict[str, Any], tmp: Path) -> None:
    """API rounds per worker count, each beside its own direct baselines, then the breakdown."""
    n, m = args.measurements, args.clients
    summary: list[tuple[int, float, float, float, float, float]] = []
    with start_influxd() as influxd:
        for workers in args.workers:
            store_url = f"influxdb:{influxd.url}?db=bench{workers}"
            with collector(store_url, tmp, workers) as server:
                results = rounds(
                    args.repeat,
                    {
                        "api": lambda: through_api(
                            server, **options, store_pid=influxd.process.pid
                        ),
                        INFLUX_A: lambda: direct_influx(
                            influxd.url, n, m, serialize=False, store_pid=influxd.process.pid
                        ),
                        INFLUX_B: lambda: direct_influx(
                            influxd.url, n, m, serialize=True, store_pid=influxd.process.pid
                        ),
                    },
                )
                apis = results.pop("api")
                report(f"influxdb 1.6, {workers} worker(s)", apis, results, server)
            rate = statistics.median(a.rate for a in apis)
            ceiling = statistics.median(r.rate for r in results[INFLUX_A])
            cpu_us = statistics.median(a.cpu_us for a in apis)
            store_us = statistics.median(a.store_cpu_us for a in apis)
            busy = statistics.median(a.busy for a in apis)
            summary.append((workers, rate, rate / ceiling, cpu_us, store_us, busy))
        print(
            "[workers] N  API rate/s  ratio to (A)  x 1 worker  collector CPU us  influxd CPU us"
            "  cores busy  per collector CPU s  per CPU s (collector + influxd)"
        )
        for workers, rate, ratio, cpu_us, store_us, busy in summary:
            scale = rate / summary[0][1] if summary[0][1] else 0.0
            both = cpu_us + store_us
            print(
                f"[workers] {workers}  {rate:10,.0f}  {ratio:12.2f}  {scale:10.2f}  {cpu_us:16.1f}"
                f"  {store_us:14.1f}  {100 * busy:9.0f}%  {1e6 / cpu_us:19,.0f}"
                f"  {1e6 / both if both else 0:31,.0f}"
            )
        print(
            f"[workers] goal: ratio >= {GOAL_RATIO} per process, linear in N; this machine has"
            f" {os.cpu_count()} cores shared by influxd, the collector and the bench's clients"
            " (CPU us are per measurement, all worker processes summed; the per-CPU-second rates"
            " are what a core gives when it is not shared: wall rates fall with the machine's load"
            " average, CPU per measurement much less)"
        )
        tune_gc()  # as the collector does (collector/serve.py), so the stages cost alike
        stage_store = InfluxStore(influxd.url, database="stages", mode="v1")
        stage_store.write_line_protocol(b"warm v=1i 1")
        batches = [make_measurements(args.batch, "stages") for _ in range(max(1, n // args.batch))]
        bodies = [make_body(b) for b in batches]
        clock = ingest_stages(stage_store, bodies, "stages", influxd.process.pid)
        one_worker = [row[3] for row in summary if row[0] == 1]
        print_stages(clock, n // args.batch * args.batch, one_worker[0] if one_worker else None)
        decoders(bodies[:20])
        serialisers(batches[:20])
        stage_store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measurements", type=int, default=60_000)
    parser.add_argument(
        "--clients",
        type=int,
        default=8,
        help="concurrent posting clients, one keep-alive connection each: uvicorn's workers"
        " share connections as they accept them, so few clients can leave a worker idle",
    )
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--duration", type=float, help="keep posting for this many seconds")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; medians are reported")
    parser.add_argument("--store", choices=("influx", "sqlite", "both"), default="both")
    parser.add_argument(
        "--workers",
        type=lambda text: [int(w) for w in text.split(",")],
        default=[1],
        help="collector worker counts to run the InfluxDB API rounds with, e.g. 1,2,4",
    )
    parser.add_argument(
        "--mix",
        choices=("measurements", "round"),
        default="measurements",
        help="batches of measurements only, or a probe round's (a verdict per 4 measurements"
        " and a heartbeat beside them: the store rolls those up)",
    )
    args = parser.parse_args()
    options: dict[str, Any] = {
        "clients": args.clients,
        "batch": args.batch,
        "total": args.measurements,
        "duration": args.duration,
        "mix": args.mix,
    }
    n, m = args.measurements, args.clients
    print(f"start: {_load()}; {n} measurements per round, {m} clients, batches of {args.batch}")
    with tempfile.TemporaryDirectory(prefix="tyndau-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if args.store in {"influx", "both"}:
            influx_rounds(args, options, tmp)
        if args.store in {"sqlite", "both"}:
            with collector(f"sqlite:{tmp / 'api.sqlite3'}", tmp) as server:
                results = rounds(
                    args.repeat,
                    {
                        "api": lambda: through_api(server, **options),
                        "store.write_batch": lambda: direct_sqlite(
                            tmp / f"direct-{time.monotonic_ns()}.sqlite3", n
                        ),
                    },
                )
                apis = results.pop("api")
                report("sqlite", apis, results, server)


if __name__ == "__main__":
    main()
