"""InfluxDB specifics: write-mode choice, and what a client that is not ours (the ``influx`` CLI)
reads back from our points."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.store import StoreError
from collector.store.influx import InfluxStore, mode_for_version, quote
from collector.store.url import open_store
from probe.model import VerdictKind
from tests.support.influxd import InfluxServer

T0 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
pytestmark = pytest.mark.influx


@pytest.mark.parametrize(
    ("version", "mode"),
    [
        ("1.6.7~rc0", "v1"),
        ("1.7.10", "v1"),
        ("1.8.10", "v2"),
        ("v2.7.4", "v2"),
        ("3.0.1", "v2"),
        ("", "v1"),
        ("garbage", "v1"),
    ],
)
def test_write_mode_from_version_header(version: str, mode: str) -> None:
    assert mode_for_version(version) == mode


def test_influxql_quoting() -> None:
    assert quote("it's") == "'it\\'s'"
    assert quote("a\\b") == "'a\\\\b'"


@pytest.fixture
def influx(influxd: InfluxServer) -> Iterator[tuple[InfluxStore, str]]:
    database = f"t{uuid.uuid4().hex[:12]}"
    store = open_store(f"influxdb:{influxd.url}?db={database}")
    assert isinstance(store, InfluxStore)
    yield store, database
    store.close()


def _influx_cli(server: InfluxServer, database: str, query: str) -> dict[str, Any]:
    if shutil.which("influx") is None:
        pytest.skip("LOUD SKIP: the influx CLI is not installed (Debian package influxdb-client)")
    where = ["-host", "127.0.0.1", "-port", str(server.port), "-database", database]
    command = ["influx", *where, "-execute", query, "-format", "json", "-precision", "rfc3339"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
    result: dict[str, Any] = json.loads(output)
    return result


def test_auto_mode_picks_v1_on_influxdb_1_6(influx: tuple[InfluxStore, str]) -> None:
    store, _ = influx
    store.ping()
    assert store.http.write_mode() == "v1"


def test_points_read_back_by_the_influx_cli(
    influxd: InfluxServer, influx: tuple[InfluxStore, str], records: Any
) -> None:
    store, database = influx
    probe = replace(records, network='mobile, "4G" = fast')
    blocked = probe.verdict(at=T0, verdict=VerdictKind.BLOCKED)
    measurement = probe.measurement(at=T0, outcome="dns_nxdomain_error")
    store.write_batch(measurements=[measurement], verdicts=[blocked, blocked])
    store.write_batch(measurements=[measurement])  # re-sent: overwrites itself
    result = _influx_cli(
        influxd, database, 'SELECT * FROM probe_verdict GROUP BY "network", "reason"'
    )
    series = result["results"][0]["series"]
    assert len(series) == 1
    assert series[0]["tags"] == {"network": 'mobile, "4G" = fast', "reason": "dns.nxdomain"}
    assert len(series[0]["values"]) == 1
    columns = series[0]["columns"]
    row = dict(zip(columns, series[0]["values"][0], strict=True))
    assert row["id"] == blocked.id
    assert row["verdict"] == "blocked"
    assert row["method"] == "dns"
    # the record's microsecond, plus 0..999 ns from its id (collector/store/codec.py record_ns)
    assert row["time"].startswith("2022-01-05T10:00:00")
    assert row["time"] == "2022-01-05T10:00:00Z" or row["time"][20:23] == "000"
    counted = _influx_cli(influxd, database, "SELECT count(duration_ms) FROM probe_test")
    assert counted["results"][0]["series"][0]["values"][0][1] == 1
    tags = _influx_cli(influxd, database, "SHOW TAG KEYS FROM probe_test")
    keys = {v[0] for v in tags["results"][0]["series"][0]["values"]}
    assert keys == {"asn", "category", "cc", "network", "outcome", "probe", "target", "test"}


def test_buckets_align_with_influx_group_by_time(
    influx: tuple[InfluxStore, str], records: Any
) -> None:
    store, _ = influx
    beats = [records.heartbeat(at=T0 + timedelta(minutes=m)) for m in (4, 5, 14)]
    store.write_batch(heartbeats=beats)
    buckets = store.heartbeat_buckets(since=T0, until=T0 + timedelta(hours=1), step_s=600)
    assert [(b.start, b.heartbeats) for b in buckets] == [
        (T0, 2),
        (T0 + timedelta(minutes=10), 1),
    ]


def test_v2_mode_on_a_v1_only_server_is_a_clear_store_error(
    influxd: InfluxServer, records: Any
) -> None:
    """1.6 has no /api/v2/write: forcing mode=v2 fails loudly through influxdb-client."""
    store = open_store(f"influxdb:{influxd.url}?db=forced&mode=v2")
    try:
        with pytest.raises(StoreError, match="404"):
            store.write_batch(measurements=[records.measurement()])
    finally:
        store.close()


def test_id_lookups_match_ids_literally(influx: tuple[InfluxStore, str], records: Any) -> None:
    """The id rule's lookups read the batch's windows and compare ids as strings: punctuation in
    an id (a ``.``, a ``/``, a quote) matches itself only, so a re-send is found and a
    look-alike id is not (the look-alikes are unknown to the store's memory: looked up)."""
    store, _ = influx
    base = records.verdict(at=T0, verdict=VerdictKind.ACCESSIBLE)
    odd = [replace(base, id=i) for i in ("axd", "a/b'c", "p|q", "(x)+")]
    assert store.write_batch(verdicts=odd).accepted == 4
    assert store.write_batch(verdicts=odd).duplicates == 4  # re-sent: all found
    look_alikes = [replace(base, id=i) for i in ("a.d", "a/b'", "p", "x")]
    written = store.write_batch(verdicts=look_alikes)
    assert (written.accepted, written.duplicates) == (4, 0)
