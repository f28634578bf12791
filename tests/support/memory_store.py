"""An in-memory anomaly store over bucket lists, for tests and the generator's benchmarks: the
``collector.anomaly.protocols`` methods and nothing else, so detection and lifecycle run as
pure logic. Test support, not shipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TypeVar

from collector.records import Event, HeartbeatBucket, VerdictBucket

B = TypeVar("B", VerdictBucket, HeartbeatBucket)


def _in_range(start: datetime, since: datetime, until: datetime) -> bool:
    return since <= start < until


def _overlaps(event: Event, since: datetime, until: datetime) -> bool:
    return event.start < until and (event.end is None or event.end > since)


class MemoryStore:
    """An in-memory AnomalyStore over bucket lists, for tests, the generator and benchmarks.

    Buckets are stored at the generator's step; asking for another step floors each bucket's
    start to it and does not add buckets together (the real stores sum with GROUP BY time()):
    callers ask at the step the buckets were made with.
    """

    def __init__(
        self,
        verdicts: Iterable[VerdictBucket] = (),
        heartbeats: Iterable[HeartbeatBucket] = (),
    ) -> None:
        self.verdicts: list[VerdictBucket] = list(verdicts)
        self.heartbeats: list[HeartbeatBucket] = list(heartbeats)
        self.stored: dict[str, Event] = {}
        self.writes = 0

    def verdict_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[VerdictBucket]:
        return _window(self.verdicts, since, until, step_s, cc)

    def heartbeat_buckets(
        self, *, since: datetime, until: datetime, step_s: int, cc: str | None = None
    ) -> list[HeartbeatBucket]:
        return _window(self.heartbeats, since, until, step_s, cc)

    def events(self, *, since: datetime, until: datetime, cc: str | None = None) -> list[Event]:
        return [
            e
            for e in self.stored.values()
            if _overlaps(e, since, until) and (cc is None or e.scope.cc == cc)
        ]

    def write_events(self, events: list[Event]) -> None:
        for event in events:
            self.stored[event.id] = event
        self.writes += len(events)


def _window(
    buckets: Iterable[B], since: datetime, until: datetime, step_s: int, cc: str | None
) -> list[B]:
    """The buckets of ``[since, until)`` (of country ``cc``; None: any), starts floored to
    ``step_s``."""
    return [
        replace(b, start=_floor(b.start, step_s))
        for b in buckets
        if _in_range(b.start, since, until) and (cc is None or b.cc == cc)
    ]


def _floor(moment: datetime, step_s: int) -> datetime:
    epoch = int(moment.timestamp())
    return moment - timedelta(seconds=epoch % step_s, microseconds=moment.microsecond)
