"""Every InfluxQL query of the Grafana dashboard runs against a real influxd holding real points.

The points are written by the collector's own InfluxDB store, so a renamed tag or field in
collector/store/influx.py breaks this test rather than the operators' dashboard.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]

from collector.records import Event, EventKind, EventState, Scope
from collector.store import open_store
from probe.ids import uuid7
from probe.model import (
    Category,
    TargetRef,
    Vantage,
    Verdict,
    VerdictKind,
)
from tests.support.influx import influxd_or_skip
from tests.support.influxd import InfluxServer
from tests.support.records import DNS_NXDOMAIN, heartbeat, verdict

pytestmark = pytest.mark.influx

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "outage-timeline.json"
DATABASE = "tyndau"
T0 = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
VANTAGE = Vantage(cc="KZ", asn=9198, network="mobile")
BLOCKED_ROUNDS = range(6, 12)  # whatsapp blocked by DNS in these rounds


def _verdict(probe: str, target: str, at: datetime, kind: VerdictKind) -> Verdict:
    return verdict(
        uuid7(unix_ms=int(at.timestamp() * 1000)),
        probe,
        VANTAGE,
        TargetRef(target, f"{target}.example", Category.PLATFORM),
        at,
        kind,
        blocked=DNS_NXDOMAIN if kind is VerdictKind.BLOCKED else None,
        round_id=f"round-{at.isoformat()}",
        confidence=0.9,
        measurement_ids=("m-1",),
    )


@pytest.fixture(scope="module")
def influxd() -> Iterator[InfluxServer]:
    with influxd_or_skip() as server:
        yield server


@pytest.fixture(scope="module")
def loaded(influxd: InfluxServer) -> InfluxServer:
    """Two probes, twelve rounds: whatsapp blocked half the time, one blocking event."""
    store = open_store(f"influxdb:{influxd.url}?db={DATABASE}")
    verdicts, heartbeats = [], []
    for round_no in range(12):
        at = T0 + STEP * round_no + timedelta(seconds=30)
        for probe in ("probe-a", "probe-b"):
            heartbeats.append(
                heartbeat(uuid7(unix_ms=int(at.timestamp() * 1000)), probe, VANTAGE, at)
            )
            verdicts.append(_verdict(probe, "facebook", at, VerdictKind.ACCESSIBLE))
            blocked = round_no in BLOCKED_ROUNDS
            kind = VerdictKind.BLOCKED if blocked else VerdictKind.ACCESSIBLE
            verdicts.append(_verdict(probe, "whatsapp", at + timedelta(seconds=1), kind))
    event = Event(
        id="event-1",
        kind=EventKind.BLOCKING,
        scope=Scope("KZ", 9198, "mobile", 2),
        target="whatsapp",
        method="dns",
        start=T0 + STEP * BLOCKED_ROUNDS.start,
        end=None,
        confidence=0.99,
        state=EventState.OPEN,
    )
    try:
        store.write_batch(verdicts=verdicts, heartbeats=heartbeats)
        store.write_events([event])
    finally:
        store.close()
    return influxd


def grafana_render(query: str, values: dict[str, str]) -> str:
    """Substitute Grafana's macros as its InfluxDB datasource does (time filter in ms)."""
    since, until = T0 - timedelta(hours=1), T0 + timedelta(hours=2)
    query = query.replace(
        "$timeFilter",
        f"time >= {int(since.timestamp() * 1000)}ms and time <= {int(until.timestamp() * 1000)}ms",
    )
    query = query.replace("$__interval", "5m")
    for name, value in values.items():
        query = query.replace(f"${name}", value)
    assert not re.search(r"\$\w", query), f"unsubstituted variable in {query}"
    return query


def run(server: InfluxServer, query: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.url}/query", params={"db": DATABASE, "q": query, "epoch": "s"}, timeout=10
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results and "error" not in results[0], f"{results} for {query}"
    series: list[dict[str, Any]] = results[0].get("series", [])
    return series


def dashboard_queries() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    queries = [(f"panel {p['title']}", t["query"]) for p in doc["panels"] for t in p["targets"]]
    queries += [(f"variable {v['name']}", v["query"]) for v in doc["templating"]["list"]]
    queries += [
        (f"annotation {a['name']}", a["query"])
        for a in doc["annotations"]["list"]
        if a.get("datasource", {}).get("uid") == "tyndau-influxdb"
    ]
    return queries


ALL = {"cc": ".*", "asn": ".*", "network": ".*", "target": ".*"}
ONE = {"cc": "KZ", "asn": "9198", "network": "mobile", "target": "(facebook|whatsapp)"}


@pytest.mark.parametrize("values", [ALL, ONE], ids=["all", "selected"])
@pytest.mark.parametrize(("name", "query"), dashboard_queries(), ids=lambda x: str(x)[:40])
def test_every_dashboard_query_answers_with_data(
    loaded: InfluxServer, name: str, query: str, values: dict[str, str]
) -> None:
    series = run(loaded, grafana_render(query, values))
    assert series and any(s["values"] for s in series), f"{name}: no data"


def _panel_query(title_start: str) -> str:
    doc = json.loads(DASHBOARD.read_text())
    panel = next(p for p in doc["panels"] if p["title"].startswith(title_start))
    query: str = panel["targets"][0]["query"]
    return query


def test_availability_is_share_of_accessible_per_target(loaded: InfluxServer) -> None:
    series = run(loaded, grafana_render(_panel_query("Availability"), ALL))
    by_target = {s["tags"]["target"]: [v[1] for v in s["values"]] for s in series}
    assert set(by_target) == {"facebook", "whatsapp"}
    assert by_target["facebook"] == [1.0] * 12
    assert by_target["whatsapp"] == [0.0 if i in BLOCKED_ROUNDS else 1.0 for i in range(12)]


def test_probes_heard_counts_distinct_probes(loaded: InfluxServer) -> None:
    series = run(loaded, grafana_render(_panel_query("Probes heard"), ONE))
    (mobile,) = series
    assert mobile["tags"] == {"network": "mobile"}
    counts = {int(v[1]) for v in mobile["values"] if v[1]}
    assert counts == {2}


def test_event_annotation_carries_kind_and_id(loaded: InfluxServer) -> None:
    doc = json.loads(DASHBOARD.read_text())
    annotation = next(a for a in doc["annotations"]["list"] if a["name"] == "anomaly events")
    (series,) = run(loaded, grafana_render(annotation["query"], ALL))
    row = dict(zip(series["columns"], series["values"][0], strict=True))
    assert (row["kind"], row["event"]) == ("blocking", "event-1")
    assert row["time"] == int((T0 + STEP * BLOCKED_ROUNDS.start).timestamp())
    assert {annotation["textColumn"], annotation["tagsColumn"]} <= set(series["columns"])


def test_provisioning_points_at_the_dashboard_and_database() -> None:
    datasource = yaml.safe_load((GRAFANA / "provisioning/datasources/influxdb.yml").read_text())
    (ds,) = datasource["datasources"]
    assert (ds["type"], ds["uid"], ds["jsonData"]["dbName"]) == (
        "influxdb",
        "tyndau-influxdb",
        DATABASE,
    )
    assert "$__file{/run/secrets/" in ds["secureJsonData"]["httpHeaderValue1"]
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/tyndau.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    doc = json.loads(DASHBOARD.read_text())
    uids = {t["datasource"]["uid"] for p in doc["panels"] for t in p["targets"]}
    assert uids == {ds["uid"]}
    assert {v["name"] for v in doc["templating"]["list"]} == {"cc", "asn", "network", "target"}
    used = {m for _, q in dashboard_queries() for m in re.findall(r"\$(\w+)", q)}
    assert used == {"cc", "asn", "network", "target", "timeFilter", "__interval"}
