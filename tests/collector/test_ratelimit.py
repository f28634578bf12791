"""Token buckets with an injected clock: bursts, refill, and the Retry-After value."""

from __future__ import annotations

import pytest

from collector.ratelimit import RateLimiter, retry_after
from tests.support.clock import Clock


def test_burst_then_refill() -> None:
    clock = Clock(1000.0)
    limiter = RateLimiter(rate_per_s=0.5, burst=2, clock=clock)
    assert [limiter.take("p"), limiter.take("p")] == [0.0, 0.0]
    assert limiter.take("p") == pytest.approx(2.0)
    assert limiter.take("other") == 0.0
    clock.now += 1.0
    assert limiter.take("p") == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.take("p") == 0.0
    clock.now += 3600
    assert [limiter.take("p"), limiter.take("p"), limiter.take("p") > 0] == [0.0, 0.0, True]


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(0.01), retry_after(1.0), retry_after(1.2)] == ["1", "1", "2"]


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        RateLimiter(rate_per_s=0, burst=1)
