"""The collector's counters in Prometheus' text exposition format, through ``prometheus-client``.

Exposes records ingested by kind, duplicates, requests rejected by reason, store write latency as
a histogram, and requests in flight (the queue in front of the store). Each ``Metrics`` has its own
registry, so several apps in one process (the tests) never share counters. The library writes the
format and escapes label values: https://prometheus.io/docs/instrumenting/exposition_formats/
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """One collector process's counters (prometheus-client's metrics are thread-safe)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._ingested = Counter(
            "tyndau_ingested_records",
            "Records stored, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self._duplicates = Counter(
            "tyndau_duplicate_records",
            "Records received again (already stored).",
            registry=self.registry,
        )
        self._rejected = Counter(
            "tyndau_rejected_requests",
            "Requests refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self._store = Histogram(
            "tyndau_store_write_seconds",
            "Time to store one batch durably.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._in_flight = Gauge(
            "tyndau_requests_in_flight",
            "Ingest requests waiting for or in the store.",
            registry=self.registry,
        )

    def count_ingested(self, kind: str, n: int) -> None:
        self._ingested.labels(kind=kind).inc(n)

    def count_duplicates(self, n: int) -> None:
        self._duplicates.inc(n)

    def count_rejected(self, reason: str) -> None:
        self._rejected.labels(reason=reason).inc()

    def observe_store(self, seconds: float) -> None:
        self._store.observe(seconds)

    def enter(self) -> None:
        self._in_flight.inc()

    def leave(self) -> None:
        self._in_flight.dec()

    def render(self) -> str:
        return generate_latest(self.registry).decode("utf-8")
