"""Whole UTC days of bucket counts, kept while the store says the day is unchanged.

The pages read aggregates over up to 90 days; a store computes them from raw rows, which for a
busy country takes seconds per month. As the anomaly scan does (collector/anomaly/cache.py),
the pages keep each whole day's buckets keyed by the store's day stamp
(``Store.day_stamps``: it changes whenever a write adds records timed in that day, late uploads
included), so a day is read again only when data for it arrived. Partial days at the edges
of a range are always read fresh. The cache lives in the app (one per process), bounded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from collector.records import HeartbeatBucket, VerdictBucket
from collector.store import Store

DAY_S = 86_400
MAX_ENTRIES = 2_000  # (kind, cc, step, day) entries: about 90 days x 20 pages' worth
B = TypeVar("B", VerdictBucket, HeartbeatBucket)
Key = tuple[str, str | None, int, int]


class DayCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Key, tuple[int, Sequence[object]]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    def verdict_buckets(
        self, store: Store, *, since: datetime, until: datetime, step_s: int, cc: str | None
    ) -> list[VerdictBucket]:
        return self._read("verdicts", store.verdict_buckets, store, since, until, step_s, cc)

    def heartbeat_buckets(
        self, store: Store, *, since: datetime, until: datetime, step_s: int, cc: str | None
    ) -> list[HeartbeatBucket]:
        return self._read("heartbeats", store.heartbeat_buckets, store, since, until, step_s, cc)

    def _read(
        self,
        kind: str,
        read: Callable[..., list[B]],
        store: Store,
        since: datetime,
        until: datetime,
        step_s: int,
        cc: str | None,
    ) -> list[B]:
        first = -(-int(since.timestamp()) // DAY_S) * DAY_S
        last = int(until.timestamp()) // DAY_S * DAY_S
        if self._max == 0 or DAY_S % step_s or last <= first:  # no cache, or no whole day
            return read(since=since, until=until, step_s=step_s, cc=cc)
        out: list[B] = []
        start, end = _at(first), _at(last)
        if since < start:
            out += read(since=since, until=start, step_s=step_s, cc=cc)
        stamps = store.day_stamps(since=start, until=end)
        for day in range(first, last, DAY_S):
            key: Key = (kind, cc, step_s, day)
            stamp = stamps.get(day, 0)  # 0: never written (so nothing to read either)
            with self._lock:
                found = self._entries.get(key)
                if found is not None and found[0] == stamp:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    out += found[1]  # type: ignore[arg-type]
                    continue
            fresh = (
                []
                if day not in stamps
                else read(since=_at(day), until=_at(day + DAY_S), step_s=step_s, cc=cc)
            )
            with self._lock:
                self.misses += 1
                self._entries[key] = (stamp, fresh)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
            out += fresh
        if end < until:
            out += read(since=end, until=until, step_s=step_s, cc=cc)
        return out


def _at(seconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
