"""The failure rate a sparse series starts from: its network's, while it has little of its own.

A series of imported OONI reports is measured a few times a day, so its own background failure
rate takes weeks to learn, and until then it stands on a prior (detect.PRIOR_ROUNDS rounds at
the floor). On a network where every site fails now and then (a lossy link, a flaky resolver),
that prior makes targets look blocked in the series' first day. The network's other series know
better: the lower quartile of the background rates its sparse series have learned so far (each
shrunk towards the floor by POOL_SHRINK rounds, so a series' first rounds do not swing it) is
the prior's mean instead. The lower quartile, so the targets a censor blocks for good do not
raise it while they are fewer than three in four of the list (a median failed a network
blocking 10 of its 16 targets: a new block there went unseen); only from POOL_MIN_SERIES series
with POOL_MIN_ROUNDS rounds each, so a network measured for one or two targets keeps the floor
(a block there from the first measurement is still caught before it becomes the background).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

POOL_MIN_SERIES = 5  # series of a network that must have learned before their quartile counts
POOL_MIN_ROUNDS = 3  # rounds a series must have learned from to count in its network's quartile
POOL_QUANTILE = 4  # the lower quartile: a network blocking up to 3 in 4 of its targets
POOL_SHRINK = 12  # rounds at the floor each series' share in the quartile starts from


def pooled_prior(pool: Ints, own_sum: Array, learned: Array, floor: float) -> Array:
    """Per series: the lower quartile, over the series of its network (``pool``, -1: none), of
    their own mean failure share (``own_sum / learned``, after POOL_SHRINK rounds at ``floor``)
    where at least POOL_MIN_SERIES of them learned POOL_MIN_ROUNDS rounds; never below
    ``floor``, and ``floor`` elsewhere."""
    out = np.full(pool.shape, floor)
    counted = (pool >= 0) & (learned >= POOL_MIN_ROUNDS)
    if counted.sum() < POOL_MIN_SERIES:
        return out
    idx = np.flatnonzero(counted)
    means = (POOL_SHRINK * floor + own_sum[idx]) / (POOL_SHRINK + learned[idx])
    groups = pool[idx]
    order = np.lexsort((means, groups))
    groups, means = groups[order], means[order]
    first = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sizes = np.diff(np.r_[first, len(groups)])
    keep = sizes >= POOL_MIN_SERIES
    first, sizes = first[keep], sizes[keep]
    at_q = first + (sizes - 1) // POOL_QUANTILE
    quartile = dict(zip(groups[first].tolist(), means[at_q].tolist(), strict=True))
    if not quartile:
        return out
    known = np.fromiter(quartile.keys(), dtype=np.int64)
    values = np.fromiter(quartile.values(), dtype=np.float64)
    at = np.searchsorted(known, pool)
    at = np.minimum(at, len(known) - 1)
    hit = (pool >= 0) & (known[at] == pool)
    out[hit] = np.maximum(values[at[hit]], floor)
    return out
