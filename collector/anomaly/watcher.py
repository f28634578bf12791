"""One evaluation of the anomaly watcher: read aggregates, detect, reconcile, write, alert.

Pure of I/O except through the injected store, channels, ledger and leases, so ``scan`` (history)
and ``watch`` (periodic) share it and tests drive it with ``MemoryStore`` and a fixed clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

from collector.anomaly.alerts import Channel, Ledger, deliver
from collector.anomaly.cache import GridCache, Progress, StampedSource
from collector.anomaly.classify import EVERYWHERE, detect
from collector.anomaly.lease import Lease
from collector.anomaly.lifecycle import reconcile
from collector.anomaly.protocols import AnomalyStore
from collector.anomaly.series import build_grid
from collector.anomaly.settings import AnomalySettings
from collector.anomaly.thresholds import Thresholds
from collector.records import Event, EventState

log = logging.getLogger("tyndau.anomaly")
MAX_EVENT_AGE = timedelta(days=60)  # open events older than this are not looked for
PREFETCH_PER_CYCLE = 1  # older days read into the grid cache per cycle (cache.py)
Owns = Callable[[str], bool]


def floor_time(moment: datetime, step_s: int) -> datetime:
    epoch = int(moment.timestamp())
    return moment - timedelta(seconds=epoch % step_s, microseconds=moment.microsecond)


def evaluate(
    store: AnomalyStore,
    *,
    since: datetime,
    until: datetime,
    th: Thresholds,
    now: datetime,
    owns: Owns = lambda _partition: True,
    cache: GridCache | None = None,
    progress: Progress | None = None,
) -> list[Event]:
    """Detect over [since, until) with warm-up before it; write and return what changed.

    With a ``cache`` and a store that keeps day stamps, unchanged days come from the cache.
    """
    since, until = floor_time(since, th.step_s), floor_time(until, th.step_s)
    read_from = since - timedelta(seconds=th.warmup_s)
    read_from = floor_time(read_from, th.step_s)
    if cache is not None and hasattr(store, "day_stamps"):
        stamped = cast(StampedSource, store)
        grid = cache.grid(
            stamped, since=read_from, until=until, step_s=th.step_s, progress=progress
        )
    else:
        verdicts = store.verdict_buckets(since=read_from, until=until, step_s=th.step_s)
        heartbeats = store.heartbeat_buckets(since=read_from, until=until, step_s=th.step_s)
        grid = build_grid(verdicts, heartbeats, since=read_from, until=until, step_s=th.step_s)
    judge_from = int((since - read_from).total_seconds()) // th.step_s
    detections = [d for d in detect(grid, th, judge_from=judge_from) if owns(d.scope.cc)]
    stored = [e for e in store.events(since=read_from, until=until) if owns(e.scope.cc)]
    changes = reconcile(stored, detections, evaluated_since=since, evaluated_until=until, now=now)
    if changes:
        store.write_events(changes)
    return changes


class Watcher:
    """The periodic evaluator: holds partition leases across cycles, alerts what changed."""

    def __init__(
        self,
        store: AnomalyStore,
        settings: AnomalySettings,
        *,
        channels: Sequence[Channel],
        ledger: Ledger,
        state_dir: Path,
        countries: Sequence[str] = (),
        cache: GridCache | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.channels = channels
        self.ledger = ledger
        self.state_dir = state_dir
        self.countries = {c.upper() for c in countries}
        self.leases: dict[str, Lease] = {}
        self.cache = cache
        self.open_events = 0  # events open after the last cycle (the per-cycle log line)

    def owns(self, partition: str) -> bool:
        """Take (or keep) the lease of a partition this watcher may serve."""
        if self.countries and partition not in self.countries and partition != EVERYWHERE:
            return False
        lease = self.leases.get(partition)
        if lease is None:
            lease = self.leases[partition] = Lease(self.state_dir, partition)
        return lease.acquire()

    def cycle(self, now: datetime) -> list[Event]:
        """One evaluation up to ``now`` minus the settle time; returns the changed events."""
        th = self.settings.thresholds
        until = now - timedelta(seconds=th.settle_s)
        oldest = until - MAX_EVENT_AGE
        known = self.store.events(since=oldest, until=until)
        # An event open for longer than MAX_EVENT_AGE is followed from MAX_EVENT_AGE back only:
        # the window, and with it every cycle's read, is bounded whatever is stored.
        open_starts = [max(e.start, oldest) for e in known if e.state != EventState.RESOLVED]
        since = min([until - timedelta(seconds=self.settings.lookback_s), *open_starts])
        changes = evaluate(
            self.store, since=since, until=until, th=th, now=now, owns=self.owns, cache=self.cache
        )
        if self.cache is not None and hasattr(self.store, "day_stamps"):
            # one older day a cycle into the cache, so scans of the last MAX_EVENT_AGE are fast
            # even for history from before this watcher started
            read_from = since - timedelta(seconds=th.warmup_s)
            self.cache.prefetch(
                cast(StampedSource, self.store),
                since=until - MAX_EVENT_AGE,
                until=read_from,
                step_s=th.step_s,
                limit=PREFETCH_PER_CYCLE,
            )
        changed_ids = {e.id for e in changes}
        still_open = [
            e
            for e in known
            if e.state != EventState.RESOLVED and e.id not in changed_ids and self.owns(e.scope.cc)
        ]
        sent = deliver(
            changes,
            still_open,
            channels=self.channels,
            ledger=self.ledger,
            base_url=self.settings.timeline_url,
            now=now,
        )
        self.open_events = len([e for e in changes if e.state != EventState.RESOLVED]) + len(
            still_open
        )
        for event in changes:
            log.info(
                "event %s %s %s %s target=%s since %s",
                event.id,
                event.state.value,
                event.kind.value,
                event.scope,
                event.target,
                event.start.isoformat(),
            )
        if sent:
            log.info("alerts accepted: %s", sent)
        return changes

    def close(self) -> None:
        for lease in self.leases.values():
            lease.release()
        self.ledger.close()
