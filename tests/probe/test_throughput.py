"""Throughput samples and the throttling rule."""

from __future__ import annotations

import pytest

from probe.failures import Failure
from probe.http import Fetch
from probe.throughput import is_throttled, noticeably_slow, rate_of, slow_handshake


def sample(length: int, seconds: float, failure: str | None = None) -> Fetch:
    return Fetch(
        "u", None, failure, status=200, body_length=length, t=0.1 + seconds, t_first_byte=0.1
    )


@pytest.mark.parametrize(
    ("fetch", "rate"),
    [
        (sample(150_000, 0.5), 300_000),
        (sample(1_000, 0.5), None),  # too small to be bandwidth
        (sample(20_000, 5.0, Failure.GENERIC_TIMEOUT), 4_000),  # cut by the time cap: valid
        (sample(20_000, 5.0, Failure.CONNECTION_RESET), None),
        (Fetch("u", None, Failure.GENERIC_TIMEOUT), None),  # nothing arrived
    ],
)
def test_rate_of(fetch: Fetch, rate: float | None) -> None:
    got = rate_of(fetch)
    assert got == (pytest.approx(rate) if rate is not None else None)


@pytest.mark.parametrize(
    ("rate", "controls", "expected"),
    [
        (4_000.0, [10e6, 20e6], True),
        (9e6, [10e6, 20e6], False),
        (None, [10e6], None),
        (4_000.0, [], None),
    ],
)
def test_is_throttled(rate: float | None, controls: list[float], expected: bool | None) -> None:
    assert is_throttled(rate, controls) is expected


@pytest.mark.parametrize(
    ("fetch", "slow"),
    [
        (sample(150_000, 0.03), False),  # 5 MB/s, done in 30 ms: nobody waits for that
        (sample(150_000, 2.0), True),
        (sample(8_000, 2.0, Failure.GENERIC_TIMEOUT), True),
        (Fetch("u", None, Failure.GENERIC_TIMEOUT), False),
    ],
)
def test_noticeably_slow(fetch: Fetch, slow: bool) -> None:
    assert noticeably_slow(fetch) is slow


@pytest.mark.parametrize(
    ("handshake", "controls", "slow"),
    [
        (0.38, [0.004, 0.006], True),  # the lab's 32 kbit/s shaper
        (0.05, [0.004, 0.006], False),  # 10x slower but still quick: a busy path, not a shaper
        (0.3, [0.1, 0.2], False),
        (None, [0.004], None),
        (0.4, [], None),
    ],
)
def test_slow_handshake(handshake: float | None, controls: list[float], slow: bool | None) -> None:
    assert slow_handshake(handshake, controls) is slow
