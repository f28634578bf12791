"""``tyndau anomaly scan`` over the collector's real SQLite store, fed with wire records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collector.records import EventKind, EventState
from collector.store import open_store
from probe.cli import main
from probe.model import (
    Category,
    Heartbeat,
    TargetRef,
    Vantage,
    Verdict,
)
from tests.support.records import TLS_RESET, round_of

T0 = datetime(2026, 1, 5, tzinfo=UTC)
ROUND = timedelta(minutes=5)
VANTAGE = Vantage(cc="KZ", asn=64500, network="mobile")
TELEGRAM = TargetRef("telegram", "telegram.test", Category.PLATFORM)
CONTROL = TargetRef("control", "control.test", Category.CONTROL)
CUT = (T0 + timedelta(hours=28), T0 + timedelta(hours=29))  # offline, reported late
BLOCK = (T0 + timedelta(hours=30), T0 + timedelta(hours=31))  # telegram TLS-reset


def records(
    probes: int, rounds: int, *, start: datetime = T0
) -> tuple[list[Verdict], list[Heartbeat]]:
    verdicts: list[Verdict] = []
    heartbeats: list[Heartbeat] = []
    for r in range(rounds):
        at = start + r * ROUND + timedelta(seconds=30)
        round_verdicts, round_heartbeats = round_of(
            r,
            at,
            VANTAGE,
            [f"probe-{p}" for p in range(probes)],
            (TELEGRAM, CONTROL),
            offline=CUT[0] <= at < CUT[1],  # offline, reported late
            blocked={TELEGRAM.name: TLS_RESET} if BLOCK[0] <= at < BLOCK[1] else None,
            uptime_s=60.0 * r,
        )
        verdicts += round_verdicts
        heartbeats += round_heartbeats
    return verdicts, heartbeats


def scan_args(url: str, tmp_path: Path) -> list[str]:
    """``tyndau anomaly scan`` of the store at ``url`` over the hours around the cut and block."""
    return [
        "anomaly",
        "scan",
        "--store",
        url,
        "--since",
        "2026-01-06T02:00Z",
        "--until",
        "2026-01-06T10:00Z",
        "--state-dir",
        str(tmp_path / "state"),
    ]


def test_scan_finds_backfilled_shutdown_and_blocking_then_is_idempotent(
    tmp_path: Path, capsys: Any
) -> None:
    url = f"sqlite:{tmp_path / 'collector.sqlite3'}"
    store = open_store(url)
    verdicts, heartbeats = records(probes=4, rounds=34 * 12)
    store.write_batch(verdicts=verdicts, heartbeats=heartbeats)
    store.close()
    args = scan_args(url, tmp_path)
    assert main(args) == 0
    assert "2 events written" in capsys.readouterr().out

    store = open_store(url)
    events = sorted(store.events(since=T0, until=T0 + timedelta(days=2)), key=lambda e: e.start)
    store.close()
    shutdown, blocking = events
    assert (shutdown.kind, shutdown.state) == (EventKind.SHUTDOWN, EventState.RESOLVED)
    assert (shutdown.start, shutdown.end) == CUT
    assert (shutdown.scope.cc, shutdown.scope.asn, shutdown.scope.network) == (
        "KZ",
        64500,
        "mobile",
    )
    assert shutdown.evidence["offline_verdicts"] == 4 * 2 * 12
    assert (blocking.kind, blocking.target, blocking.method) == (
        EventKind.BLOCKING,
        "telegram",
        "tls",
    )
    assert (blocking.start, blocking.end) == BLOCK
    assert blocking.evidence["reasons"] == {"tls.reset": 4 * 12}

    assert main(args) == 0
    assert "0 events written" in capsys.readouterr().out


def test_a_backlog_after_a_cached_scan_revises_the_event(tmp_path: Path, capsys: Any) -> None:
    """The day-grid cache must not hide late data: probes silent during the cut upload their
    offline verdicts afterwards, and the next scan (same cache) revises the shutdown.

    The outbox uploads oldest first, so nothing measured after the cut arrives before the
    backlog (a silence followed by fresh records but no backlog is sleep, issue 13)."""
    url = f"sqlite:{tmp_path / 'collector.sqlite3'}"
    verdicts, heartbeats = records(probes=4, rounds=34 * 12)
    late = [v for v in verdicts if v.at >= CUT[0]]
    store = open_store(url)
    store.write_batch(
        verdicts=[v for v in verdicts if v.at < CUT[0]],
        heartbeats=[h for h in heartbeats if h.at < CUT[0]],
    )
    args = scan_args(url, tmp_path)
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "1 events written: {'shutdown/open': 1}" in out
    assert "2026-01-05 read from the store (day " in err  # progress, per day
    assert list((tmp_path / "state" / "grids").glob("*/step300/2026-01-0[56].npz"))
    (before,) = [
        e
        for e in store.events(since=T0, until=T0 + timedelta(days=2))
        if e.kind == EventKind.SHUTDOWN
    ]
    assert before.evidence["offline_verdicts"] == 0

    store.write_batch(verdicts=late, heartbeats=[h for h in heartbeats if h.at >= CUT[0]])
    assert main(args) == 0
    assert "2 events written" in capsys.readouterr().out  # the shutdown revised, the block
    (after,) = [
        e
        for e in store.events(since=T0, until=T0 + timedelta(days=2))
        if e.kind == EventKind.SHUTDOWN
    ]
    store.close()
    assert after.id == before.id
    assert (after.state, after.start, after.end) == (EventState.RESOLVED, *CUT)
    assert after.evidence["offline_verdicts"] == 4 * 2 * 12


def test_watch_pages_a_live_shutdown_from_the_real_store(tmp_path: Path, receiver: Any) -> None:
    """Probes report for 30 hours, then fall silent for the last 40 minutes: one page."""
    url = f"sqlite:{tmp_path / 'collector.sqlite3'}"
    now = datetime.now(UTC)
    start = now - timedelta(hours=31)
    start -= timedelta(seconds=start.timestamp() % 300)
    rounds = int((now - timedelta(minutes=40) - start) / ROUND)
    verdicts, heartbeats = records(4, rounds, start=start)
    store = open_store(url)
    store.write_batch(verdicts=verdicts, heartbeats=heartbeats)
    store.close()
    args = [
        "anomaly",
        "watch",
        "--store",
        url,
        "--once",
        "--state-dir",
        str(tmp_path / "s"),
        "--slack-webhook",
        receiver.url + "/slack",
    ]
    assert main(args) == 0
    ((path, body),) = receiver.wait_for(1)
    assert path == "/slack"
    assert body["text"].startswith("[FIRING] Internet shutdown in KZ AS64500 mobile networks")
    assert "4 probes went silent or offline" in body["text"]
    assert main(args) == 0  # the next cycle: nothing new to say
    assert len(receiver.received) == 1
