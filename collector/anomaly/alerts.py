"""Alert content and delivery bookkeeping: what a message says, and what was already sent.

Two kinds of channel. Alertmanager (``refreshes``) is sent every open event every cycle and
every recently resolved one, as Prometheus sends its alerts: it deduplicates notifications
itself, across the nodes of a cluster too, so any number of watchers may send the same alerts
and any of them may die. Direct webhooks are paged once per phase: the ledger (SQLite, in the
watcher's state directory) remembers (event id, phase, channel) after a channel accepted a
message, so a restart, a re-scan or an ``updated`` revision never pages twice, and a failed
delivery is retried next cycle. The ledger is one watcher's memory, so direct webhooks are for
single-watcher set-ups (``tyndau anomaly watch --replica`` refuses them).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

from collector.records import Event, EventKind, EventState
from probe.model import format_minute, format_time

log = logging.getLogger("tyndau.anomaly.alerts")

FIRING = "firing"
RESOLVED = "resolved"
TITLES = {
    EventKind.SHUTDOWN: "Internet shutdown",
    EventKind.BLOCKING: "Blocking",
    EventKind.THROTTLING: "Throttling",
    EventKind.PLATFORM_OUTAGE: "Platform outage (not censorship)",
}


class AlertError(Exception):
    """A channel did not accept a message; it is retried next cycle."""


@dataclass(frozen=True, slots=True)
class Message:
    """One notification about one event, rendered once for every channel."""

    event: Event
    phase: str  # FIRING | RESOLVED
    title: str
    text: str
    link: str


class Channel(Protocol):
    name: str
    refreshes: bool  # True: sent every open and recently resolved event each cycle (no ledger)

    def send(self, messages: Sequence[Message], *, now: datetime) -> None: ...


def phase_of(event: Event) -> str:
    return RESOLVED if event.state == EventState.RESOLVED else FIRING


def where(event: Event) -> str:
    """Human place of an event: country, ASN, network."""
    scope = event.scope
    if scope.cc == "*":
        countries = event.evidence.get("countries", [])
        return "several countries" + (f" ({', '.join(countries)})" if countries else "")
    parts = [scope.cc]
    if scope.asn is not None:
        parts.append(f"AS{scope.asn}")
    if scope.network is not None:
        parts.append(f"{scope.network} networks")
    return " ".join(parts)


def timeline_link(event: Event, base_url: str, *, now: datetime) -> str:
    """The researcher page for the event's place and time, with an hour either side."""
    scope = event.scope
    query: dict[str, str] = {}
    if scope.cc != "*":
        query["cc"] = scope.cc
    if scope.asn is not None:
        query["asn"] = str(scope.asn)
    if scope.network is not None:
        query["network"] = scope.network
    if event.target is not None:
        query["target"] = event.target
    margin = timedelta(hours=1)
    query["since"] = format_time(event.start - margin, timespec="seconds")
    query["until"] = format_time((event.end or now) + margin, timespec="seconds")
    return f"{base_url}?{urlencode(query)}"


def render(event: Event, *, base_url: str, now: datetime) -> Message:
    """What, where, since when, on what evidence, and the link to look for oneself."""
    phase = phase_of(event)
    what = TITLES[event.kind]
    if event.target is not None:
        what += f" of {event.target}"
    if event.method is not None:
        what += f" ({event.method})"
    title = f"[{phase.upper()}] {what} in {where(event)}"
    span = f"since {format_minute(event.start)} UTC"
    if event.end is not None:
        span = f"from {format_minute(event.start)} UTC to {format_minute(event.end)} UTC"
    link = timeline_link(event, base_url, now=now)
    text = (
        f"{title}, {span}. Evidence: {_evidence(event)}; "
        f"confidence {event.confidence:.3f}. Timeline: {link}"
    )
    return Message(event, phase, title, text, link)


def _evidence(event: Event) -> str:
    ev = event.evidence
    parts = [f"{ev.get('rounds', 0)} rounds"]
    if event.kind == EventKind.SHUTDOWN:
        parts.append(f"{ev.get('probes_before', event.scope.probes)} probes went silent or offline")
        parts.append(f"{ev.get('offline_verdicts', 0)} offline verdicts")
    else:
        parts.append(f"{ev.get('probes', event.scope.probes)} probes")
        parts.append(f"{ev.get('blocked', 0)} of {ev.get('measured', 0)} measurements failed")
        reasons = ev.get("reasons") or {}
        if reasons:
            top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
            parts.append("reasons " + ", ".join(f"{k}={v}" for k, v in top))
    if ev.get("retracted"):
        parts.append("retracted after late data")
    return ", ".join(parts)


class Ledger:
    """Which (event, phase, channel) notifications were accepted; one SQLite file, WAL."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sent (event_id TEXT NOT NULL, phase TEXT NOT NULL, "
            "channel TEXT NOT NULL, sent_at TEXT NOT NULL, PRIMARY KEY (event_id, phase, channel))"
        )

    def was_sent(self, event_id: str, phase: str, channel: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM sent WHERE event_id = ? AND phase = ? AND channel = ?",
            (event_id, phase, channel),
        ).fetchone()
        return row is not None

    def record(self, event_id: str, phase: str, channel: str, *, now: datetime) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO sent VALUES (?, ?, ?, ?)",
            (event_id, phase, channel, now.isoformat()),
        )

    def reopened(self, event_id: str) -> None:
        """The event fires again after a resolution was sent (retracted, then found again by
        late data): forget that resolution, so the final one reaches every channel too."""
        self._db.execute("DELETE FROM sent WHERE event_id = ? AND phase = ?", (event_id, RESOLVED))

    def close(self) -> None:
        self._db.close()


def deliver(
    changed: Sequence[Event],
    current: Sequence[Event],
    *,
    channels: Sequence[Channel],
    ledger: Ledger,
    base_url: str,
    now: datetime,
    sent_at: datetime | None = None,
) -> dict[str, int]:
    """Send ``current`` (open and recently resolved events) to refreshing channels, and what
    each direct channel has not accepted yet; return messages accepted per channel.

    ``now`` is the evaluation time (message text), ``sent_at`` the wall clock (Alertmanager's
    ``endsAt``), ``now`` when not given.
    """
    latest: dict[str, Event] = {e.id: e for e in current}
    latest.update({e.id: e for e in changed})
    for event in latest.values():
        if phase_of(event) == FIRING:
            ledger.reopened(event.id)
    rendered: dict[str, Message] = {}

    def message(event: Event) -> Message:
        if event.id not in rendered:
            rendered[event.id] = render(event, base_url=base_url, now=now)
        return rendered[event.id]

    batches = [
        (channel, [message(e) for e in latest.values() if due(e, channel, ledger)])
        for channel in channels
    ]
    batches = [(channel, messages) for channel, messages in batches if messages]
    # every channel at once, as Prometheus sends to its Alertmanagers: a node that hangs costs
    # its own timeout, not the others' sends
    with ThreadPoolExecutor(max_workers=max(1, len(batches))) as pool:
        sends = [pool.submit(c.send, messages, now=sent_at or now) for c, messages in batches]
    accepted: dict[str, int] = {}
    for (channel, messages), send in zip(batches, sends, strict=True):
        try:
            send.result()
        except AlertError as exc:
            log.warning("alert channel %s failed, retrying next cycle: %s", channel.name, exc)
            continue
        if not channel.refreshes:
            for sent in messages:
                ledger.record(sent.event.id, sent.phase, channel.name, now=now)
        accepted[channel.name] = len(messages)
    return accepted


def due(event: Event, channel: Channel, ledger: Ledger) -> bool:
    """Refreshing channels get every event handed over; direct ones what they lack."""
    return channel.refreshes or not ledger.was_sent(event.id, phase_of(event), channel.name)
