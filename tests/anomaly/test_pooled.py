"""The prior a sparse series' failure rate starts from: its network's lower quartile."""

from __future__ import annotations

import numpy as np

from collector.anomaly.pooled import POOL_MIN_ROUNDS, POOL_SHRINK, pooled_prior

FLOOR = 0.02


def _shrunk(share: float, rounds: int) -> float:
    return (POOL_SHRINK * FLOOR + share * rounds) / (POOL_SHRINK + rounds)


def test_each_network_gets_the_lower_quartile_of_its_series_and_never_below_the_floor() -> None:
    rounds = 40
    shares = [0.3, 0.3, 0.5, 1.0, 1.0, 1.0, 1.0, 0.1, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0]
    pool = np.array([0] * 7 + [1, 1] + [2] * 5, dtype=np.int64)
    learned = np.full(len(shares), float(rounds))
    own_sum = np.array(shares) * rounds
    out = pooled_prior(pool, own_sum, learned, FLOOR)
    # network 0: sorted 0.3 0.3 0.5 1 1 1 1, lower quartile the second (index (7-1)//4 = 1)
    assert np.allclose(out[:7], _shrunk(0.3, rounds))
    assert np.allclose(out[7:9], FLOOR)  # two series: too few to speak for a network
    assert np.allclose(out[9:], FLOOR)  # a network that never fails: the floor


def test_series_with_few_rounds_or_none_of_a_network_keep_the_floor() -> None:
    pool = np.array([0, 0, 0, 0, 0, 0, -1], dtype=np.int64)
    learned = np.array([POOL_MIN_ROUNDS - 1] * 5 + [50, 50], dtype=np.float64)
    own_sum = learned * 0.5
    out = pooled_prior(pool, own_sum, learned, FLOOR)
    assert np.allclose(out, FLOOR)  # one series of network 0 learned enough; -1: dense
    learned[:5] = POOL_MIN_ROUNDS
    out = pooled_prior(pool, learned * 0.5, learned, FLOOR)
    assert np.allclose(out[:6], _shrunk(0.5, POOL_MIN_ROUNDS))  # quartile of 6: 2nd lowest
    assert out[6] == FLOOR
