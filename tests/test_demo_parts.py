"""The demo's pure parts, without root: its targets and probe configuration, the kz-2022
ground truth and how detected events are matched to it, the alert receiver, and the store
copied into scenario time (``tests/test_demo.py`` runs the whole demo in the lab)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from collector.records import Event, EventKind, EventState, Scope
from collector.store import open_store
from collector.timeline import parse_query, read_timeline
from lab.demo.config import DEMO_TARGETS, Vantage, demo_thresholds, probe_toml, targets_toml
from lab.demo.receiver import AlertReceiver
from lab.demo.replay import ScenarioTime, restamp_store, stored_records
from lab.demo.report import uploaded_rounds
from lab.demo.truth import Clock, Episode, episodes, match
from lab.scenario import load_scenario
from probe import model
from probe.ids import uuid7
from probe.settings import load_probe_settings
from probe.shipped import DEFAULT_TARGETS
from probe.targets import load_targets
from tests.support.records import measurement, verdict


def test_demo_targets_are_the_kz_platforms_plus_controls(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text(targets_toml(DEFAULT_TARGETS))
    targets = {t.name: t for t in load_targets(path)}
    assert set(targets) == set(DEMO_TARGETS)
    assert {str(t.category) for t in targets.values()} == {"platform", "control"}
    assert "web.whatsapp.com" in targets["whatsapp"].hosts
    with pytest.raises(ValueError, match="nosuch"):
        targets_toml(DEFAULT_TARGETS, ("whatsapp", "nosuch"))


def test_demo_probe_config_is_a_valid_probe_config(tmp_path: Path) -> None:
    text = probe_toml(
        vantage=Vantage("mobile", 29355, "Kcell"),
        state_dir=tmp_path,
        targets=tmp_path / "targets.toml",
        ca_bundle=tmp_path / "ca.pem",
        collector_url="http://198.19.254.2:8080",
    )
    (tmp_path / "probe.toml").write_text(text)
    settings = load_probe_settings(tmp_path / "probe.toml")
    assert (settings.cc, settings.asn, settings.network) == ("KZ", 29355, "mobile")
    assert settings.schedule.round_minutes * 60 < demo_thresholds().step_s
    assert settings.timeouts.tls == 1.0
    assert str(settings.allow_net[0]) == "198.18.0.0/15"


def scenario_episodes(min_gap: float) -> dict[tuple[str, str, str | None], list[Episode]]:
    scenario = load_scenario("kz-2022")
    out: dict[tuple[str, str, str | None], list[Episode]] = {}
    for ep in episodes(scenario, min_gap=min_gap):
        out.setdefault((ep.kind.value, ep.group, ep.target), []).append(ep)
    return out


def test_kz_2022_ground_truth_episodes() -> None:
    raw = scenario_episodes(0)
    assert [(e.start / 3600, e.end / 3600) for e in raw[("shutdown", "mobile", None)]] == [(4, 162)]
    assert len(raw[("shutdown", "fixed", None)]) == 5  # the night cut and three daily windows
    assert [(e.start / 3600, e.end / 3600) for e in raw[("blocking", "all", "whatsapp")]] == [
        (2, 216)
    ]
    merged = scenario_episodes(8 * 3600)  # windows of 4 h are shorter than the resolution
    fixed = merged[("shutdown", "fixed", None)]
    assert [(e.start / 3600, e.end / 3600, e.merged) for e in fixed] == [(22.5, 132, 4)]


def event(kind: EventKind, network: str | None, start: datetime, end: datetime | None) -> Event:
    return Event(
        "x",
        kind,
        Scope("KZ", None, network, 3),
        None,
        None,
        start,
        end,
        0.99,
        EventState.RESOLVED if end else EventState.OPEN,
    )


def test_match_reports_edge_deltas_in_buckets() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    clock = Clock(t0, speed=3600.0)  # one wall second = one scenario hour
    episode = Episode(EventKind.SHUTDOWN, "mobile", None, 4 * 3600, 162 * 3600)
    seconds = timedelta(seconds=1)
    detected = [
        event(EventKind.SHUTDOWN, "fixed", t0 + 4 * seconds, t0 + 100 * seconds),  # not mobile
        event(EventKind.SHUTDOWN, "mobile", t0 + 8 * seconds, t0 + 166 * seconds),
    ]
    m = match(episode, detected, clock=clock, step_s=4, resolution=8 * 3600)
    assert (m.start_delta, m.end_delta) == (1.0, 1.0)
    assert m.within(2) and not m.within(0.5)
    missed = match(episode, detected[:1], clock=clock, step_s=4, resolution=8 * 3600)
    assert not missed.detected and missed.resolvable
    short = Episode(EventKind.THROTTLING, "mobile", None, 0, 3600)
    assert not match(short, detected, clock=clock, step_s=4, resolution=8 * 3600).resolvable


def test_alert_receiver_records_json_posts() -> None:
    with AlertReceiver() as receiver:
        with httpx.Client() as client:
            assert client.post(receiver.url, json={"status": "FIRING"}).status_code == 200
            assert client.post(receiver.url, json={"status": "RESOLVED"}).status_code == 200
            assert client.post(receiver.url, content=b"not json").status_code == 400
        assert receiver.counts() == {"firing": 1, "resolved": 1}


def test_uploaded_rounds_counts_distinct_rounds_in_the_store(tmp_path: Path) -> None:
    path = tmp_path / "collector.sqlite3"
    assert uploaded_rounds(f"sqlite:{path}") is None  # no store yet: unknown, not zero
    open_store(f"sqlite:{path}").close()  # the collector's schema
    assert uploaded_rounds(f"sqlite:{path}") == 0
    vantage = model.Vantage("KZ", 9198, "fixed")
    target = model.TargetRef("t", "t.test", model.Category.PLATFORM)
    at = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    verdicts = [
        verdict(f"v{i}", "p", vantage, target, at, round_id=round_id)
        for i, round_id in enumerate(["r1", "r1", "r2"])
    ]
    store = open_store(f"sqlite:{path}")
    store.write_batch(verdicts=verdicts)
    store.close()
    assert uploaded_rounds(f"sqlite:{path}") == 2
    assert uploaded_rounds("influxdb:http://198.18.0.9:8086/db") is None


def test_the_store_is_copied_into_scenario_time(tmp_path: Path) -> None:
    """Wall-clock records of a compressed replay land on the scenario's 2022 dates, ids and
    the references between them re-stamped alike."""
    t0 = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    wall = t0 + timedelta(seconds=10)  # 10 s x3600 = 10 h into the scenario
    vantage = model.Vantage("KZ", 29355, "mobile")
    target = model.TargetRef("x", "x.test", model.Category.PLATFORM)
    ms = int(wall.timestamp() * 1000)
    m = measurement(
        uuid7(unix_ms=ms),
        "p",
        vantage,
        target,
        wall,
        outcome="generic_timeout_error",
        round_id=uuid7(unix_ms=ms),
        duration_ms=5.0,
        version="0.1",
    )
    v = verdict(
        uuid7(unix_ms=ms),
        "p",
        vantage,
        target,
        wall,
        model.VerdictKind.OFFLINE,
        round_id=m.round_id,
        confidence=0.6,
        measurement_ids=(m.id,),
    )
    source = open_store(f"sqlite:{tmp_path / 'wall.sqlite3'}")
    source.write_batch(measurements=[m], verdicts=[v])
    source.write_events(
        [
            Event(
                "e",
                EventKind.SHUTDOWN,
                Scope("KZ", None, "mobile", 1),
                None,
                None,
                t0,
                wall,
                0.9,
                EventState.RESOLVED,
            )
        ]
    )
    source.close()
    origin = datetime(2022, 1, 4, 12, 0, tzinfo=UTC)
    time = ScenarioTime(Clock(t0, 3600.0), origin)
    counts = restamp_store(tmp_path / "wall.sqlite3", tmp_path / "kz-2022.sqlite3", time)
    assert counts == {"measurements": 1, "verdicts": 1, "heartbeats": 0, "events": 1}
    copy = open_store(f"sqlite:{tmp_path / 'kz-2022.sqlite3'}")
    try:
        [event] = copy.events(since=origin - timedelta(days=1), until=origin + timedelta(days=1))
        assert (event.start, event.end) == (origin, origin + timedelta(hours=10))
        query = parse_query(
            cc="KZ", since="2022-01-04T00:00:00Z", until="2022-01-05T00:00:00Z", step="1h"
        )
        [series] = read_timeline(copy, query)["series"]
        assert [(p["start"], p["offline"]) for p in series["points"]] == [
            ("2022-01-04T22:00:00.000000Z", 1)
        ]
    finally:
        copy.close()
    with sqlite3.connect(tmp_path / "kz-2022.sqlite3") as db:
        [measured] = stored_records(db, "measurements")
        [judged] = stored_records(db, "verdicts")
    assert judged["measurement_ids"] == [measured["id"]] != [m.id]
    assert judged["round_id"] == measured["round_id"]
    assert int(measured["id"].replace("-", "")[:12], 16) == int(
        (origin + timedelta(hours=10)).timestamp() * 1000
    )
    with pytest.raises(FileExistsError):
        restamp_store(tmp_path / "wall.sqlite3", tmp_path / "kz-2022.sqlite3", time)
