"""Token-bucket rate limits per key (probe id, or a client address held in memory only).

Classic token bucket (RFC 2697's single-rate idea): ``rate`` tokens per second, up to ``burst``.
``take`` answers how long to wait, which becomes the ``Retry-After`` header of a 429.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

_MAX_KEYS = 50_000


class RateLimiter:
    """Per-key token buckets; the clock is injected so tests need no sleeping."""

    def __init__(
        self, *, rate_per_s: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate = rate_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens: 0.0 if allowed, else seconds until it would be (nothing spent)."""
        now = self._clock()
        with self._lock:
            tokens, updated = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            if tokens >= cost:
                self._store(key, tokens - cost, now)
                return 0.0
            self._store(key, tokens, now)
            return (cost - tokens) / self.rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        if key not in self._buckets and len(self._buckets) >= _MAX_KEYS:
            full_after = self.burst / self.rate
            self._buckets = {
                k: v for k, v in self._buckets.items() if now - v[1] < full_after
            }  # forget buckets that have refilled anyway
        self._buckets[key] = (tokens, now)


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
