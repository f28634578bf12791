"""The demo's ending: a final anomaly scan over the whole run, the alerts, and the charts.

The scan is ``tyndau anomaly scan``'s ``evaluate`` over [baseline start, end] once every outbox
has drained, so it sees the measurements taken during the shutdowns that arrived late. Charts are
drawn by collector/chart.py from the same document ``tyndau timeline`` reads, over the store's
copy in scenario time (lab/demo/replay.py), so their axes show 2022.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector.anomaly.detect import detect_silence
from collector.anomaly.protocols import AnomalyStore
from collector.anomaly.series import build_grid
from collector.anomaly.thresholds import Thresholds
from collector.anomaly.watcher import evaluate
from collector.chart import render_timeline, timeline_from_api
from collector.records import Event, EventKind, EventState, Scope
from collector.store import open_store
from collector.store.codec import event_to_dict
from collector.timeline import parse_query, read_timeline
from lab.demo.config import VANTAGES
from lab.demo.receiver import AlertReceiver
from lab.demo.replay import stored_records
from probe.model import format_time


@dataclass
class Summary:
    events: list[Event]
    silences: list[Event]  # per-network shutdown runs, before events merge overlapping scopes
    alerts: Counter[str]
    charts: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def final_report(
    *,
    store_url: str,
    since: datetime,
    until: datetime,
    thresholds: Thresholds,
    receiver: AlertReceiver,
) -> Summary:
    """Scan, read the events and the per-network silences, summarise the alerts."""
    store = open_store(store_url)
    try:
        changes = evaluate(store, since=since, until=until, th=thresholds, now=datetime.now(UTC))
        events = store.events(since=since, until=until, cc="KZ")
        silences = network_silences(store, since=since, until=until, th=thresholds)
    finally:
        store.close()
    alerts = receiver.counts()
    lines = [
        f"Final scan over the run: {len(events)} events stored ({len(changes)} revised by the "
        "scan after the outboxes drained)",
        f"Alerts delivered to {receiver.url}: {alerts.get('firing', 0)} firing, "
        f"{alerts.get('resolved', 0)} resolved",
    ]
    sample = next((b for b in receiver.snapshot() if b.get("summary")), None)
    if sample is not None:
        lines.append(f"  sample ({sample.get('status')}): {str(sample['summary']).splitlines()[0]}")
    return Summary(events, silences, alerts, [], lines)


def draw_charts(
    *,
    store_url: str,
    since: datetime,
    until: datetime,
    step_s: int,
    silences: list[Event],
    output: Path,
) -> list[Path]:
    """One PNG per vantage network from the store at ``store_url`` (the scenario-time copy)."""
    store = open_store(store_url)
    charts = []
    try:
        output.mkdir(parents=True, exist_ok=True)
        for vantage in VANTAGES:
            query = parse_query(
                cc="KZ",
                since=format_time(since),
                until=format_time(until),
                step=f"{step_s}s",
                network=vantage.group,
            )
            doc = read_timeline(store, query)
            # Shutdown bands from this network's own detector runs: the stored event of a
            # mobile cut joined by a fixed one is country-wide and would hide fixed's windows.
            doc["events"] = [
                e
                for e in doc["events"]
                if e["kind"] != EventKind.SHUTDOWN.value and _concerns(e, vantage.group)
            ] + [event_to_dict(e) for e in silences if e.scope.network == vantage.group]
            path = output / f"kz-2022-{vantage.group}.png"
            render_timeline(timeline_from_api(doc, network=vantage.group), path)
            charts.append(path)
    finally:
        store.close()
    return charts


def network_silences(
    store: AnomalyStore, *, since: datetime, until: datetime, th: Thresholds
) -> list[Event]:
    """The shutdown detector's runs per (ASN, network) leaf, as unsaved events.

    Events merge overlapping cuts of several networks into one country-wide event (a mobile
    cut joined by a fixed one); the comparison with the ground truth needs each network's own
    edges, which are the detector's runs one step before that merge.
    """
    step = th.step_s
    grid = build_grid(
        store.verdict_buckets(since=since, until=until, step_s=step, cc="KZ"),
        store.heartbeat_buckets(since=since, until=until, step_s=step, cc="KZ"),
        since=since,
        until=until,
        step_s=step,
    )
    out = []
    for run in detect_silence(grid.up(), grid.heard, th, day=max(1, 86400 // step)):
        end = None if run.end is None else run.end
        if (end if end is not None else grid.n_times) - run.start < th.min_rounds:
            continue
        cc, asn, network = grid.leaves[run.series]
        before = grid.heard[run.series, max(0, run.start - 12) : run.start]
        probes = int(before.max()) if before.size else 0
        out.append(
            Event(
                id=f"silence-{run.series}-{run.start}",
                kind=EventKind.SHUTDOWN,
                scope=Scope(cc, asn, network, probes),
                target=None,
                method=None,
                start=grid.time(run.start),
                end=None if end is None else grid.time(end),
                confidence=0.0,
                state=EventState.OPEN if end is None else EventState.RESOLVED,
            )
        )
    return out


def _concerns(event: dict[str, Any], network: str) -> bool:
    """An event belongs on a network's chart when its scope is that network or every network.

    (The timeline document lists every event of the country, whatever its network.)
    """
    return event.get("scope", {}).get("network") in (network, None)


def uploaded_rounds(store_url: str) -> int | None:
    """Distinct probe rounds the collector has stored (SQLite only; None when unknown)."""
    scheme, _, path = store_url.partition(":")
    if scheme != "sqlite" or not Path(path).is_file():
        return None
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
            return len({v["round_id"] for v in stored_records(db, "verdicts")})
    except sqlite3.Error:
        return None
