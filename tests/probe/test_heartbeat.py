"""Heartbeats carry nothing finer than the shutdown detector needs (issue 18), and
``probe run --no-heartbeats`` sends none at all while rounds go on."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from probe.cli import build_parser
from probe.daemon import Daemon
from probe.heartbeat import coarse_depth, coarse_uptime, make_heartbeat
from probe.ids import uuid7
from probe.model import Category, Measurement, TargetRef, Vantage, utcnow
from probe.outbox import Outbox
from probe.settings import OutboxSettings, ProbeSettings, ScheduleSettings
from probe.status import render
from tests.support.records import measurement

VANTAGE = Vantage("KZ", 9198, "fixed")
T0 = datetime(2022, 1, 5, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "published"),
    [(-5.0, 0.0), (0.0, 0.0), (3599.999, 0.0), (3600.0, 3600.0), (9000.25, 7200.0)],
)
def test_uptime_is_whole_hours(seconds: float, published: float) -> None:
    assert coarse_uptime(seconds) == published


@pytest.mark.parametrize(
    ("records", "published"),
    [(0, 0), (7, 7), (99, 99), (100, 100), (187, 180), (1234, 1200), (987_654, 980_000)],
)
def test_outbox_depth_keeps_two_significant_digits(records: int, published: int) -> None:
    assert coarse_depth(records) == published


def test_a_heartbeat_is_coarsened_before_it_is_stored() -> None:
    beat = make_heartbeat(
        probe_id="p1",
        vantage=VANTAGE,
        at=T0 + timedelta(hours=5, minutes=17, seconds=3.25),
        started_at=T0,
        outbox_depth=4321,
        dropped={"measurement": 3},
    )
    assert beat.uptime_s == 5 * 3600
    assert beat.outbox_depth == 4300
    assert beat.dropped == {"measurement": 3}  # data-loss accounting stays exact


@dataclass
class _Round:
    round_id: str
    started_at: datetime
    measurements: list[Measurement]
    verdicts: list[Any]


async def _one_measurement(settings: ProbeSettings, *, probe_id: str, tests: Any) -> _Round:
    at, round_id = utcnow(), uuid7()
    target = TargetRef("example", "example.test", Category.PLATFORM)
    m = measurement(uuid7(), probe_id, VANTAGE, target, at, round_id=round_id)
    return _Round(round_id, at, [m], [])


def _run_briefly(tmp_path: Path, *, heartbeats: bool) -> Daemon:
    settings = ProbeSettings(
        cc="KZ",
        asn=9198,
        network="fixed",
        state_dir=tmp_path,
        schedule=ScheduleSettings(round_minutes=0.02, jitter_seconds=0, heartbeat_seconds=0.2),
        outbox=OutboxSettings(path=tmp_path / "outbox.sqlite3", max_bytes=10**7),
    )
    daemon = Daemon(
        settings,
        probe_id="p1",
        outbox=Outbox(settings.outbox.path, max_bytes=settings.outbox.max_bytes),
        uploader=None,
        round_function=_one_measurement,
        heartbeats=heartbeats,
    )
    runner = threading.Thread(target=lambda: daemon.run(first_round_delay_s=0.05))
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and daemon.rounds < 2:
            time.sleep(0.05)
        time.sleep(0.5)  # several heartbeat intervals
    finally:
        daemon.stop_event.set()
        runner.join(timeout=10)
    assert not runner.is_alive()
    return daemon


@pytest.mark.parametrize("heartbeats", [True, False])
def test_no_heartbeats_sends_none_and_rounds_go_on(tmp_path: Path, heartbeats: bool) -> None:
    daemon = _run_briefly(tmp_path, heartbeats=heartbeats)
    counts = daemon.outbox.counts_by_kind()
    assert daemon.rounds >= 2 and counts.get("measurement", 0) >= 2
    assert (counts.get("heartbeat", 0) > 0) is heartbeats
    assert daemon.status()["heartbeats"] is heartbeats
    assert ("heartbeats: off" in render(daemon.status())) is not heartbeats


def test_the_cli_flag_reaches_the_daemon() -> None:
    args = build_parser().parse_args(["probe", "run", "--no-heartbeats"])
    assert args.no_heartbeats is True
    assert build_parser().parse_args(["probe", "run"]).no_heartbeats is False
