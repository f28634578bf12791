"""The ingest benchmark's direct baselines: the same measurements written straight to the store,
without the collector (InfluxDB /write with line protocol, SQLite through the store)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector_ingest_procs import process_cpu_s
from collector_ingest_records import make_measurements

from collector.store.influx import InfluxStore
from collector.store.influx_lines import point_line
from collector.store.points import measurement_row
from collector.store.sqlite import SqliteStore
from probe.model import Measurement

DIRECT_BATCH = 5_000


@dataclass
class DirectRun:
    rate: float
    cpu_us: float  # the writer's CPU per measurement (this process)
    store_cpu_us: float = 0.0  # influxd's CPU per measurement (0: not measured)


def direct_influx(
    influx_url: str, total: int, clients: int, *, serialize: bool, store_pid: int | None = None
) -> DirectRun:
    """Straight to /write in batches of 5,000 from the same number of clients.

    ``serialize=False``: line protocol prebuilt, the server's ceiling. ``serialize=True``: each
    writer builds its Points and line protocol in the timed loop, as any Python writer must.
    """
    store = InfluxStore(influx_url, database=f"direct{int(serialize)}", mode="v1")
    points = make_measurements(total, "direct")
    chunks = [points[i : i + DIRECT_BATCH] for i in range(0, total, DIRECT_BATCH)]

    def encode(chunk: list[Measurement]) -> bytes:
        return "\n".join(point_line(measurement_row(m)) for m in chunk).encode()

    store.write_line_protocol(encode(chunks[0]))  # creates the database; not timed
    queue: list[Any] = list(chunks[1:])
    if not serialize:
        queue = [encode(c) for c in queue]
    lock = threading.Lock()

    def run() -> None:
        while True:
            with lock:
                if not queue:
                    return
                item = queue.pop()
            store.write_line_protocol(encode(item) if serialize else item)

    cpu_before = time.process_time()
    store_before = process_cpu_s(store_pid) if store_pid else 0.0
    started = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = total - len(chunks[0])
    rate = written / (time.perf_counter() - started)
    cpu_us = 1e6 * (time.process_time() - cpu_before) / written
    store_us = 1e6 * (process_cpu_s(store_pid) - store_before) / written if store_pid else 0.0
    store.close()
    return DirectRun(rate, cpu_us, store_us)


def direct_sqlite(path: Path, total: int) -> DirectRun:
    store = SqliteStore(path)
    points = make_measurements(total, "direct")
    cpu_before = time.process_time()
    started = time.perf_counter()
    for i in range(0, total, DIRECT_BATCH):
        store.write_batch(measurements=points[i : i + DIRECT_BATCH])
    rate = total / (time.perf_counter() - started)
    cpu_us = 1e6 * (time.process_time() - cpu_before) / total
    store.close()
    return DirectRun(rate, cpu_us)
