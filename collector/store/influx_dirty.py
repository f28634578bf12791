"""The InfluxDB store's dirty rollup buckets: recomputed in coalesced passes off the request path.

A write marks the (vantage, 5-minute bucket) pairs its accepted verdicts and heartbeats touched
and returns. A background thread recomputes the marked pairs every ``interval_s`` (one query per
cluster of nearby buckets, for all marked vantages at once, however many batches marked them)
and writes the rollup points with the full counts (collector/store/influx_rollup.py).

Consistency model:

- Within one process, a bucket read runs the pending recomputes first (``flush``), so a write
  is in the rollups this process reads next (read your writes).
- Other processes (another collector worker, the watcher) see a write in the rollups within
  about ``interval_s`` (1 s by default) of the write.
- Exact under re-sends: a recompute counts the raw points, it never increments.
- Exact under concurrent writers: every pair is recomputed a second time ``settle_s`` after its
  first recompute, and again after any recompute whose query-to-write took longer than
  ``settle_s``. Of two workers recomputing one bucket, the one whose query missed the other's
  raw points can finish last only if its recompute was slow, and then it runs again; otherwise
  the other's second pass comes after it. So the last rollup point written for a bucket counts
  every raw point written before it. This holds for any ``settle_s``; a longer one means fewer
  slow passes run again. Under a store so loaded that passes take longer than ``settle_s``,
  the pairs stay marked and are recomputed every ``interval_s`` until a pass is quick again.
- A store that closes runs every pending pass at once, without waiting ``settle_s``: its last
  raw points could then be missed by another writer's concurrent recompute that finishes after
  it, and a process that dies leaves its pending buckets as their last recompute left them;
  either way the bucket is exact again after the next write into it, or after
  ``rebuild_rollups``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from collector.store.base import StoreError

Leaf = tuple[str, int, str]  # cc, asn, network
Pair = tuple[str, Leaf, int]  # "v" (verdicts) or "h" (heartbeats), vantage, base bucket
Recompute = Callable[[set[Pair]], None]

log = logging.getLogger(__name__)


class DirtyBuckets:
    """Pairs waiting for their first recompute, pairs waiting for their second, and the thread
    that runs both."""

    def __init__(
        self, recompute: Recompute, *, interval_s: float = 1.0, settle_s: float = 2.0
    ) -> None:
        self._recompute = recompute
        self.interval_s = interval_s
        self.settle_s = settle_s
        self._state = threading.Lock()  # guards the two sets; held only briefly
        self._running = threading.Lock()  # one recompute at a time (thread, reads, close)
        self._first: set[Pair] = set()
        self._again: dict[Pair, float] = {}  # pair -> monotonic time its second pass is due
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0  # recomputes run (for tests and the benchmark)

    def mark(self, pairs: set[Pair]) -> None:
        """Pairs touched by a write whose raw points are stored."""
        if not pairs:
            return
        with self._state:
            self._first |= pairs
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="rollup-recompute", daemon=True
                )
                self._thread.start()

    def pending(self) -> int:
        with self._state:
            return len(self._first) + len(self._again)

    def flush(self, *, everything: bool = False) -> None:
        """Run the first recomputes now (and the second ones too with ``everything``)."""
        with self._running:
            self._pass(everything=everything)

    def close(self) -> None:
        """Stop the thread after recomputing every pending pair once, second passes included,
        at once (a store that closes does not wait ``settle_s`` for them)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            self.flush(everything=True)
        except StoreError as exc:
            log.warning(
                "rollup recompute at close failed, %d pair(s) left: %s", self.pending(), exc
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                with self._running:
                    self._pass(everything=False)
            except StoreError as exc:  # the store is down: the pairs stay marked, retried
                log.warning("rollup recompute failed, retried in %.1f s: %s", self.interval_s, exc)
            except Exception:  # never let the thread die with work pending
                log.exception("rollup recompute failed")

    def _pass(self, *, everything: bool) -> None:
        now = time.monotonic()
        with self._state:
            first, self._first = self._first, set()
            due = {p for p, at in self._again.items() if everything or at <= now}
            for pair in due:
                del self._again[pair]
        work = first | due
        if not work:
            return
        started = time.monotonic()
        try:
            self._recompute(work)
        except BaseException:
            with self._state:
                self._first |= work  # recomputed from scratch next time: exact either way
            raise
        finished = time.monotonic()
        self.passes += 1
        slow = finished - started > self.settle_s
        again = first | (due if slow else set())
        if again and not everything:
            with self._state:
                for pair in again:
                    self._again.setdefault(pair, finished + self.settle_s)
