"""Control judging for series without heartbeats (imported OONI reports), from their other sites.

Our probes measure international controls every round, so a probe whose own network is broken is
known (series.py's ``bad``). An OONI report has no controls, but it measures many test-list sites
that name no platform (category ``other``). In a bucket where a sparse leaf measured at least
MIN_OTHERS such sites and every one failed, the user's own network was broken, not the platforms:
those reports count as ``bad`` (each takes one failed verdict out of every pair, as a probe whose
controls all failed does). Leaves with heartbeats are our probes: their controls already judge them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

# Sites a bucket must have measured before "all of them failed" says the network was broken: one
# blocked news site failing alone says nothing about the user's connection.
MIN_OTHERS = 5


def reports_bad(bad: Array, beats: Array, other_leaf: list[int], other_failed: Array) -> Array:
    """``bad`` (leaves, T) raised, on leaves with no heartbeat, to the reports whose other sites
    all failed: the failures of the least-failing other site measured, where at least MIN_OTHERS
    were. ``other_failed`` is (other sites, T), infinite where that site was not measured;
    ``other_leaf`` names each site's leaf."""
    if not other_leaf:
        return bad
    sparse = np.asarray((beats > 0).sum(axis=1) == 0)
    rows: dict[int, list[int]] = {}
    for row, leaf in enumerate(other_leaf):
        if sparse[leaf]:
            rows.setdefault(leaf, []).append(row)
    if not rows:
        return bad
    out = bad.copy()
    for leaf, sites in rows.items():
        failed = other_failed[sites]
        measured = np.isfinite(failed).sum(axis=0)
        least = failed.min(axis=0)
        broken = np.where((measured >= MIN_OTHERS) & np.isfinite(least), least, 0.0)
        out[leaf] = np.maximum(out[leaf], broken)
    return out
