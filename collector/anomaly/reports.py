"""Control judging for series without heartbeats (imported OONI reports), from their other sites.

Our probes measure international controls every round, so a probe whose own network is broken is
known (series.py's ``bad``). An OONI report has no controls, but it measures many test-list sites
that name no platform (category ``other``). In a bucket where a sparse leaf measured at least
MIN_OTHERS such sites and every target it measured failed, those sites and the platforms alike,
the user's own network was broken, not the platforms: those reports count as ``bad`` (each takes
one failed verdict out of every pair, as a probe whose controls all failed does). One target that
worked in the bucket shows the network did: a list of mostly blocked sites is no broken network.
Leaves with heartbeats are our probes: their controls already judge them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Counts = npt.NDArray[np.float32] | npt.NDArray[np.float64] | npt.NDArray[np.int64]

# Sites a bucket must have measured before "all of them failed" says the network was broken: one
# blocked news site failing alone says nothing about the user's connection.
MIN_OTHERS = 5


def reports_bad(
    bad: Array,
    beats: Array,
    other_leaf: list[int],
    other_failed: Array,
    pair_leaf: list[int],
    pair_accessible: Counts,
    pair_failed: Counts,
) -> Array:
    """``bad`` (leaves, T) raised, on leaves with no heartbeat, to the reports whose every target
    failed: where the leaf measured at least MIN_OTHERS other sites in the bucket, the failures
    of its least-failing target measured there (platforms and other sites alike: a platform
    that worked shows the network did). ``other_failed`` is (other sites, T), infinite where
    that site was not measured, ``other_leaf`` names each site's leaf; ``pair_*`` are the
    leaves' pairs (the other sites among them), (pairs, T), with each pair's leaf."""
    if not other_leaf:
        return bad
    sparse = np.asarray((beats > 0).sum(axis=1) == 0)
    sites: dict[int, list[int]] = {}
    for row, leaf in enumerate(other_leaf):
        if sparse[leaf]:
            sites.setdefault(leaf, []).append(row)
    if not sites:
        return bad
    pairs: dict[int, list[int]] = {}
    for row, leaf in enumerate(pair_leaf):
        if leaf in sites:
            pairs.setdefault(leaf, []).append(row)
    out = bad.copy()
    for leaf, rows in sites.items():
        enough = np.isfinite(other_failed[rows]).sum(axis=0) >= MIN_OTHERS
        failed = np.asarray(pair_failed[pairs[leaf]], dtype=np.float64)
        measured = np.asarray(pair_accessible[pairs[leaf]], dtype=np.float64) + failed > 0
        least = np.where(measured, failed, np.inf).min(axis=0)
        out[leaf] = np.maximum(out[leaf], np.where(enough & np.isfinite(least), least, 0.0))
    return out
