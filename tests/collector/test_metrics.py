"""The collector's /metrics text, read back by prometheus-client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from collector.metrics import Metrics


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counters_histogram_and_gauge_parse_back() -> None:
    metrics = Metrics()
    metrics.count_ingested("measurement", 3)
    metrics.count_ingested("verdict", 1)
    metrics.count_duplicates(2)
    metrics.count_rejected("invalid")
    metrics.observe_store(0.02)
    metrics.observe_store(7.0)
    metrics.enter()
    samples = _samples(metrics.render())
    assert samples[("tyndau_ingested_records_total", (("kind", "measurement"),))] == 3
    assert samples[("tyndau_ingested_records_total", (("kind", "verdict"),))] == 1
    assert samples[("tyndau_duplicate_records_total", ())] == 2
    assert samples[("tyndau_rejected_requests_total", (("reason", "invalid"),))] == 1
    assert samples[("tyndau_store_write_seconds_bucket", (("le", "0.025"),))] == 1
    assert samples[("tyndau_store_write_seconds_bucket", (("le", "10.0"),))] == 2
    assert samples[("tyndau_store_write_seconds_count", ())] == 2
    assert samples[("tyndau_requests_in_flight", ())] == 1
    metrics.leave()
    assert _samples(metrics.render())[("tyndau_requests_in_flight", ())] == 0


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    odd = 'quote " backslash \\ newline \n end'
    metrics.count_rejected(odd)
    samples = _samples(metrics.render())
    assert samples[("tyndau_rejected_requests_total", (("reason", odd),))] == 1


def test_two_apps_in_one_process_keep_their_own_counters() -> None:
    first, second = Metrics(), Metrics()
    first.count_duplicates(5)
    assert _samples(second.render())[("tyndau_duplicate_records_total", ())] == 0
