"""Message content and the ledger that keeps one event from paging twice."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.anomaly.alerts import AlertError, Ledger, Message, deliver, render
from collector.records import Event, EventKind, EventState, Scope

NOW = datetime(2026, 1, 5, 14, tzinfo=UTC)
BASE = "https://tyndau.example/timeline"


def shutdown(state: EventState = EventState.OPEN, end: datetime | None = None) -> Event:
    return Event(
        id="e1",
        kind=EventKind.SHUTDOWN,
        scope=Scope(cc="KZ", probes=24),
        target=None,
        method=None,
        start=datetime(2026, 1, 5, 12, 5, tzinfo=UTC),
        end=end,
        confidence=0.9975,
        state=state,
        evidence={"rounds": 20, "probes_before": 24, "offline_verdicts": 480},
    )


class Recorder:
    """A channel that records what it was given (the delivery logic is pure)."""

    def __init__(self, name: str, *, refreshes: bool = False, fail: bool = False) -> None:
        self.name = name
        self.refreshes = refreshes
        self.fail = fail
        self.batches: list[list[tuple[str, str]]] = []

    def send(self, messages: Sequence[Message], *, now: datetime) -> None:
        if self.fail:
            raise AlertError("down")
        self.batches.append([(m.event.id, m.phase) for m in messages])


def test_message_says_what_where_since_when_evidence_and_link() -> None:
    m = render(shutdown(), base_url=BASE, now=NOW)
    assert m.title == "[FIRING] Internet shutdown in KZ"
    assert "since 2026-01-05 12:05 UTC" in m.text
    assert "24 probes went silent or offline" in m.text and "480 offline verdicts" in m.text
    assert m.link == f"{BASE}?cc=KZ&since=2026-01-05T11%3A05%3A00Z&until=2026-01-05T15%3A00%3A00Z"
    done = render(shutdown(EventState.RESOLVED, NOW), base_url=BASE, now=NOW)
    assert done.phase == "resolved" and "to 2026-01-05 14:00 UTC" in done.text


def test_platform_outage_names_the_countries() -> None:
    event = replace(
        shutdown(),
        kind=EventKind.PLATFORM_OUTAGE,
        scope=Scope(cc="*"),
        target="telegram",
        evidence={"countries": ["KG", "KZ"], "rounds": 3},
    )
    m = render(event, base_url=BASE, now=NOW)
    assert "Platform outage (not censorship) of telegram in several countries (KG, KZ)" in m.title
    assert "cc=" not in m.link


def test_each_phase_is_sent_once_per_channel_and_survives_restart(tmp_path: Path) -> None:
    hook = Recorder("hook")
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    opened = shutdown()
    assert deliver([opened], [], channels=[hook], ledger=ledger, base_url=BASE, now=NOW)
    updated = replace(opened, state=EventState.UPDATED, evidence={"rounds": 30})
    deliver([updated], [updated], channels=[hook], ledger=ledger, base_url=BASE, now=NOW)
    resolved = replace(opened, state=EventState.RESOLVED, end=NOW)
    deliver([resolved], [], channels=[hook], ledger=ledger, base_url=BASE, now=NOW)
    ledger.close()
    again = Ledger(tmp_path / "ledger.sqlite3")
    deliver([resolved], [], channels=[hook], ledger=again, base_url=BASE, now=NOW)
    assert hook.batches == [[("e1", "firing")], [("e1", "resolved")]]


def test_refreshing_channel_gets_open_events_every_cycle_and_failures_retry(
    tmp_path: Path,
) -> None:
    manager = Recorder("am", refreshes=True)
    broken = Recorder("hook", fail=True)
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    event = shutdown()
    for minute in range(3):
        now = NOW + timedelta(minutes=minute)
        deliver([], [event], channels=[manager, broken], ledger=ledger, base_url=BASE, now=now)
    assert manager.batches == [[("e1", "firing")]] * 3
    assert not ledger.was_sent("e1", "firing", "hook")
    broken.fail = False
    deliver([], [event], channels=[broken], ledger=ledger, base_url=BASE, now=NOW)
    assert broken.batches == [[("e1", "firing")]]


def test_final_resolution_after_a_retraction_and_reopening_reaches_every_channel(
    tmp_path: Path,
) -> None:
    ledger = Ledger(tmp_path / "alerts.sqlite3")
    channels = [Recorder("a"), Recorder("b")]
    end = NOW + timedelta(hours=1)
    retracted = replace(
        shutdown(EventState.RESOLVED, end), evidence={"retracted": True, "rounds": 2}
    )
    for event in (shutdown(), retracted, shutdown(EventState.UPDATED)):
        deliver([event], [], channels=channels, ledger=ledger, base_url=BASE, now=NOW)
    deliver(
        [shutdown(EventState.RESOLVED, end)],
        [],
        channels=channels,
        ledger=ledger,
        base_url=BASE,
        now=NOW,
    )
    for channel in channels:  # one page, the retraction, and the real resolution
        assert channel.batches == [[("e1", "firing")], [("e1", "resolved")], [("e1", "resolved")]]
    ledger.close()


def test_refreshing_channel_gets_resolved_events_too_and_keeps_no_ledger(tmp_path: Path) -> None:
    """Alertmanager is sent what the watcher hands over (open and recently resolved events)
    every cycle, stamped with the wall clock; only direct webhooks are in the ledger."""
    manager, hook = Recorder("am", refreshes=True), Recorder("hook")
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    resolved = shutdown(EventState.RESOLVED, NOW)
    wall = NOW + timedelta(days=300)
    stamps: list[datetime] = []
    manager.send = lambda messages, *, now: stamps.append(now)  # type: ignore[method-assign]
    for _ in range(2):
        deliver(
            [],
            [resolved],
            channels=[manager, hook],
            ledger=ledger,
            base_url=BASE,
            now=NOW,
            sent_at=wall,
        )
    assert stamps == [wall, wall]
    assert hook.batches == [[("e1", "resolved")]]
    assert not ledger.was_sent("e1", "resolved", "am")


def test_channels_are_sent_at_once_so_a_hung_node_does_not_hold_the_others(
    tmp_path: Path,
) -> None:
    """Node 1 answers only once node 2 has been sent to: sequential sends would time out."""
    reached = threading.Event()

    class Hung(Recorder):
        def send(self, messages: Sequence[Message], *, now: datetime) -> None:
            if not reached.wait(timeout=10):
                raise AlertError("node 2 was never sent to while node 1 hung")
            super().send(messages, now=now)

    class Quick(Recorder):
        def send(self, messages: Sequence[Message], *, now: datetime) -> None:
            super().send(messages, now=now)
            reached.set()

    first, second = Hung("am1", refreshes=True), Quick("am2", refreshes=True)
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    sent = deliver(
        [], [shutdown()], channels=[first, second], ledger=ledger, base_url=BASE, now=NOW
    )
    assert sent == {"am1": 1, "am2": 1}
    assert first.batches == second.batches == [[("e1", "firing")]]
