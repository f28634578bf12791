"""The daemon in process, with a fake round: rounds stored before upload, never overlapping,
per-test intervals, a hung or crashing round, heartbeats, the scheduler's start and stop.
test_daemon_processes.py runs it as real processes."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from probe.daemon import due_tests
from probe.model import (
    TestKind,
)
from probe.outbox import Kind, Outbox
from probe.settings import ProbeSettings
from tests.support.daemon import fake_result, make_daemon, wait_for


def test_due_tests_honours_per_test_intervals() -> None:
    now = datetime(2022, 1, 5, 12, tzinfo=UTC)
    allowed = frozenset(TestKind)
    every = {"throughput": 30.0}
    assert due_tests(now, last_run={}, test_minutes=every, allowed=allowed) == allowed
    recent = {"throughput": now - timedelta(minutes=10)}
    chosen = due_tests(now, last_run=recent, test_minutes=every, allowed=allowed)
    assert chosen == allowed - {TestKind.THROUGHPUT}
    old = {"throughput": now - timedelta(minutes=31)}
    assert due_tests(now, last_run=old, test_minutes=every, allowed=allowed) == allowed
    no_raw = allowed - {TestKind.DNS_INJECTION}
    assert due_tests(now, last_run={}, test_minutes={}, allowed=no_raw) == no_raw


def test_a_round_is_stored_before_any_upload_and_reported_in_status(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    asked: list[frozenset[TestKind]] = []
    result = fake_result("p1")

    async def round_function(settings: ProbeSettings, *, probe_id: str, tests: Any) -> Any:
        asked.append(tests)
        return result

    daemon = make_daemon(tmp_path, round_function, write_status=seen.append)
    assert daemon.round()
    expected = {m.id for m in result.measurements} | {result.verdicts[0].id}
    assert daemon.outbox.ids() == expected
    assert TestKind.DNS_INJECTION not in asked[0]  # no CAP_NET_RAW granted here
    last = seen[-1]["last_round"]
    assert last["round_id"] == result.round_id
    assert last["verdicts"] == [{"target": "example", "verdict": "accessible", "reason": None}]
    assert seen[-1]["outbox_depth"] == 4


def test_a_test_with_its_own_interval_skips_rounds_until_due(tmp_path: Path) -> None:
    asked: list[frozenset[TestKind]] = []

    async def round_function(settings: ProbeSettings, *, probe_id: str, tests: Any) -> Any:
        asked.append(tests)
        return fake_result(probe_id, n=1)

    now = [datetime(2022, 1, 5, 12, tzinfo=UTC)]
    daemon = make_daemon(
        tmp_path, round_function, test_minutes={"throughput": 30.0}, clock=lambda: now[0]
    )
    for _ in range(7):  # every 5 minutes for 30 minutes
        daemon.round()
        now[0] += timedelta(minutes=5)
    with_throughput = [TestKind.THROUGHPUT in tests for tests in asked]
    assert with_throughput == [True, False, False, False, False, False, True]
    assert all(TestKind.DNS in tests for tests in asked)


def test_rounds_never_overlap_a_slow_round_delays_the_next(tmp_path: Path) -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    async def slow(settings: ProbeSettings, *, probe_id: str, tests: Any) -> Any:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        await asyncio.sleep(0.2)
        with lock:
            running -= 1
        return fake_result(probe_id, n=1)

    daemon = make_daemon(tmp_path, slow)
    threads = [threading.Thread(target=daemon.round) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert peak == 1
    assert daemon.rounds == 3


def test_stop_abandons_a_hung_round_within_the_grace(tmp_path: Path) -> None:
    async def hung(settings: ProbeSettings, *, probe_id: str, tests: Any) -> Any:
        await asyncio.sleep(60)

    daemon = make_daemon(tmp_path, hung)
    daemon.outbox.put([(Kind.MEASUREMENT, {"id": "earlier"})])
    threading.Timer(0.2, daemon.stop_event.set).start()
    started = time.monotonic()
    assert daemon.round() is False
    assert time.monotonic() - started < 5
    assert daemon.outbox.ids() == {"earlier"}  # what was stored stays


def test_a_crashing_round_is_logged_and_the_daemon_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def flaky(settings: ProbeSettings, *, probe_id: str, tests: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("bug in a test")
        return fake_result(probe_id, n=1)

    daemon = make_daemon(tmp_path, flaky)
    assert daemon.round() is False
    assert "round failed" in caplog.text
    assert daemon.round() is True


def test_heartbeat_reports_what_the_cap_dropped_once(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "small.sqlite3", max_bytes=100_000)

    async def big(settings: ProbeSettings, *, probe_id: str, tests: Any) -> Any:
        return fake_result(probe_id, n=10, pad=2000)

    daemon = make_daemon(tmp_path, big, outbox=box)
    for _ in range(8):
        daemon.round()
    dropped = box.pending_dropped()
    assert dropped.get("measurement", 0) > 0
    daemon.heartbeat()
    beats = [json.loads(r.body) for r in box.newest(max_records=1, max_bytes=10**6)]
    assert beats[0]["id"] in box.ids() and beats[0]["dropped"] == dropped
    assert box.pending_dropped() == {}
    daemon.heartbeat()
    assert json.loads(box.newest(max_records=1, max_bytes=10**6)[0].body)["dropped"] == {}


def test_the_scheduler_runs_rounds_and_heartbeats_and_stops(tmp_path: Path) -> None:
    async def quick(settings: ProbeSettings, *, probe_id: str, tests: Any) -> Any:
        return fake_result(probe_id, n=1)

    daemon = make_daemon(tmp_path, quick)

    def run() -> None:
        daemon.finished = daemon.run(first_round_delay_s=0.1)  # type: ignore[attr-defined]

    runner = threading.Thread(target=run)
    runner.start()
    try:
        wait_for(lambda: daemon.rounds >= 1, 10, "a first round")
        assert daemon.outbox.counts_by_kind().get("heartbeat", 0) >= 1
        assert daemon.status()["next_round"] is not None
    finally:
        daemon.stop_event.set()
        runner.join(timeout=10)
    assert not runner.is_alive() and daemon.finished is True  # type: ignore[attr-defined]
