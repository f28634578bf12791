"""Throughput measurement: bytes per second of a bounded download, judged against the controls.

Throttling shows as a rate far below what the same vantage gets from control targets in the same
round (the method of Xue et al., "Throttling Twitter: an Emerging Censorship Technique in Russia",
IMC 2021, who compared throttled and unthrottled downloads from one vantage).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from probe.failures import Failure
from probe.http import Fetch

MIN_SAMPLE_BYTES = 32 * 1024  # below this a rate is latency, not bandwidth
THROTTLE_RATIO = 0.2  # throttled when under a fifth of the controls' median rate
# A transfer done in under a second is not throttled in any way a user notices, and its rate is
# dominated by scheduling and TCP slow start: only longer (or time-capped) transfers are judged.
MIN_SLOW_SECONDS = 1.0
# When not even the first byte of the page arrives, the handshake is the only transfer seen: a
# handshake ten times slower than the controls' (and slower than SLOW_HANDSHAKE_S) means the path's
# bandwidth is cut, not the page blocked (a shaper delays every byte; a blackhole drops them all).
SLOW_HANDSHAKE_RATIO = 10.0
SLOW_HANDSHAKE_S = 0.2


def rate_of(fetch: Fetch) -> float | None:
    """Body bytes per second after the first byte; None when the sample cannot tell.

    A download cut by the time cap is a valid sample whatever its size (that is what a throttled
    transfer looks like); a completed one must be large enough for bandwidth to dominate latency.
    """
    if fetch.status is None or fetch.t_first_byte is None:
        return None
    time_capped = fetch.failure == Failure.GENERIC_TIMEOUT
    if not time_capped and fetch.failure not in (None, Failure.HTTP_BODY_TOO_LARGE):
        return None
    if not time_capped and fetch.body_length < MIN_SAMPLE_BYTES:
        return None
    seconds = max(fetch.t - fetch.t_first_byte, 1e-3)
    return fetch.body_length / seconds


def is_throttled(rate: float | None, control_rates: Sequence[float]) -> bool | None:
    """True when ``rate`` is far below the controls' median; None when nothing compares."""
    if rate is None or not control_rates:
        return None
    return rate < THROTTLE_RATIO * statistics.median(control_rates)


def noticeably_slow(fetch: Fetch) -> bool:
    """The transfer ran into the time cap or lasted at least ``MIN_SLOW_SECONDS``."""
    if fetch.t_first_byte is None:
        return False
    return fetch.failure == Failure.GENERIC_TIMEOUT or fetch.t - fetch.t_first_byte >= (
        MIN_SLOW_SECONDS
    )


def slow_handshake(handshake_s: float | None, control_handshakes: Sequence[float]) -> bool | None:
    """For a stalled download: was this target's TLS handshake far slower than the controls'?"""
    if handshake_s is None or not control_handshakes:
        return None
    reference = statistics.median(control_handshakes)
    return handshake_s >= max(SLOW_HANDSHAKE_S, SLOW_HANDSHAKE_RATIO * reference)
