"""Prometheus text exposition of the collector's counters (format 0.0.4), without a dependency.

Exposes records ingested by kind, requests rejected by reason, store write latency as a
histogram, and requests in flight (the queue in front of the store).
https://prometheus.io/docs/instrumenting/exposition_formats/
"""

from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Thread-safe counters for one collector process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ingested: dict[str, int] = defaultdict(int)
        self.duplicates = 0
        self.rejected: dict[str, int] = defaultdict(int)
        self.in_flight = 0
        self._latency_counts = [0] * len(LATENCY_BUCKETS)
        self._latency_sum = 0.0
        self._latency_n = 0

    def count_ingested(self, kind: str, n: int) -> None:
        with self._lock:
            self.ingested[kind] += n

    def count_duplicates(self, n: int) -> None:
        with self._lock:
            self.duplicates += n

    def count_rejected(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] += 1

    def observe_store(self, seconds: float) -> None:
        with self._lock:
            self._latency_sum += seconds
            self._latency_n += 1
            for index, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    self._latency_counts[index] += 1

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP tyndau_ingested_records_total Records stored, by kind.",
                "# TYPE tyndau_ingested_records_total counter",
                *(
                    f'tyndau_ingested_records_total{{kind="{kind}"}} {n}'
                    for kind, n in sorted(self.ingested.items())
                ),
                "# HELP tyndau_duplicate_records_total Records received again (already stored).",
                "# TYPE tyndau_duplicate_records_total counter",
                f"tyndau_duplicate_records_total {self.duplicates}",
                "# HELP tyndau_rejected_requests_total Requests refused, by reason.",
                "# TYPE tyndau_rejected_requests_total counter",
                *(
                    f'tyndau_rejected_requests_total{{reason="{reason}"}} {n}'
                    for reason, n in sorted(self.rejected.items())
                ),
                "# HELP tyndau_store_write_seconds Time to store one batch durably.",
                "# TYPE tyndau_store_write_seconds histogram",
                *(
                    f'tyndau_store_write_seconds_bucket{{le="{bound}"}} {count}'
                    for bound, count in zip(LATENCY_BUCKETS, self._latency_counts, strict=True)
                ),
                f'tyndau_store_write_seconds_bucket{{le="+Inf"}} {self._latency_n}',
                f"tyndau_store_write_seconds_sum {self._latency_sum:.6f}",
                f"tyndau_store_write_seconds_count {self._latency_n}",
                "# HELP tyndau_requests_in_flight Ingest requests waiting for or in the store.",
                "# TYPE tyndau_requests_in_flight gauge",
                f"tyndau_requests_in_flight {self.in_flight}",
            ]
        return "\n".join(lines) + "\n"
