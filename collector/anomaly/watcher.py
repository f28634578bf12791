"""One evaluation of the anomaly watcher: read aggregates, detect, reconcile, write, alert.

Pure of I/O except through the injected store, channels, ledger and clock, so ``scan``
(history) and ``watch`` (periodic) share it and tests drive it with an in-memory store and a fixed
clock. Deterministic: what an evaluation writes depends on the stored data and the evaluated
range only (times written are the range's end, never the wall clock), so N identical watchers
over one store write the same events with the same ids and content, idempotently, and any of
them may die (Prometheus' high-availability model; docs/operators.md, "Several watchers").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from collector.anomaly.alerts import Channel, Ledger, deliver
from collector.anomaly.cache import GridCache, Progress, StampedSource
from collector.anomaly.classify import detect
from collector.anomaly.lifecycle import reconcile
from collector.anomaly.protocols import AnomalyStore
from collector.anomaly.series import build_grid
from collector.anomaly.settings import AnomalySettings
from collector.anomaly.shard import Partitions
from collector.anomaly.thresholds import Thresholds
from collector.records import Event, EventState

log = logging.getLogger("tyndau.anomaly")
MAX_EVENT_AGE = timedelta(days=60)  # open events older than this are not looked for
PREFETCH_PER_CYCLE = 1  # older days read into the grid cache per cycle (cache.py)
# A resolved event is re-sent to refreshing channels (Alertmanager) this long after it was
# resolved, so a node restarted meanwhile learns it; Prometheus keeps resolved alerts 15 min.
RESOLVED_RESEND = timedelta(minutes=15)
Owns = Callable[[str], bool]
Clock = Callable[[], datetime]


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
    ``now`` is stamped on what changes (``updated_at``, a retraction's end): the watcher and
    ``scan`` pass the evaluated range's end, not the wall clock, so every evaluation of the
    same data and range writes the same content.
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
    """The periodic evaluator of its partitions (``shard``); alerts what is open or just over.

    Every cycle sends every open event, and every event resolved in the last
    ``RESOLVED_RESEND``, to refreshing channels (Alertmanager), as Prometheus re-sends its
    firing alerts each evaluation; direct webhooks get each phase once (the ledger).
    """

    def __init__(
        self,
        store: AnomalyStore,
        settings: AnomalySettings,
        *,
        channels: Sequence[Channel],
        ledger: Ledger,
        countries: Sequence[str] = (),
        partitions: Partitions | None = None,
        cache: GridCache | None = None,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings
        self.channels = channels
        self.ledger = ledger
        self.partitions = partitions or Partitions.of(countries=countries)
        self.cache = cache
        self.clock = clock  # alert times (Alertmanager's endsAt); evaluation time is cycle()'s
        self.open_events = 0  # events open after the last cycle (the per-cycle log line)

    def owns(self, partition: str) -> bool:
        """This watcher writes and alerts for the partition (a country, or ``*``)."""
        return self.partitions.owns(partition)

    def cycle(self, now: datetime) -> list[Event]:
        """One evaluation up to ``now`` minus the settle time; returns the changed events."""
        th = self.settings.thresholds
        until = floor_time(now - timedelta(seconds=th.settle_s), th.step_s)
        oldest = until - MAX_EVENT_AGE
        known = self.store.events(since=oldest, until=until)
        # An event open for longer than MAX_EVENT_AGE is followed from MAX_EVENT_AGE back only:
        # the window, and with it every cycle's read, is bounded whatever is stored.
        open_starts = [max(e.start, oldest) for e in known if e.state != EventState.RESOLVED]
        since = min([until - timedelta(seconds=self.settings.lookback_s), *open_starts])
        # Stamped with the evaluated end, not the wall clock: identical watchers that run the
        # same step write identical rows.
        changes = evaluate(
            self.store, since=since, until=until, th=th, now=until, owns=self.owns, cache=self.cache
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
        current = {e.id: e for e in known if self.owns(e.scope.cc) and _due(e, until)}
        current.update({e.id: e for e in changes})
        sent = deliver(
            changes,
            list(current.values()),
            channels=self.channels,
            ledger=self.ledger,
            base_url=self.settings.timeline_url,
            now=until,
            sent_at=self.clock(),
        )
        self.open_events = sum(1 for e in current.values() if e.state != EventState.RESOLVED)
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
        self.ledger.close()


def _due(event: Event, until: datetime) -> bool:
    """Open, or resolved within ``RESOLVED_RESEND`` of the evaluated end."""
    if event.state != EventState.RESOLVED:
        return True
    return event.updated_at is not None and event.updated_at >= until - RESOLVED_RESEND
