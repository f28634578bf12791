"""Rollups as arrays: what a scan reads when a store can hand them over without bucket objects.

Counts are dense per stored series (or leaf) and base bucket (collector/store/rollup.py), ``t``
counted in base buckets from the start of the read, as int32 (exact: a bucket holds far fewer
than 2**31 verdicts); a bucket without a rollup row is all zeros. Series and leaves are named
once in small dictionaries keyed by the integer codes the arrays carry; blocked verdicts by kind
are sparse columns (a few per cent of the buckets), their kinds named once too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Series = tuple[str, int, str, str, str]  # cc, asn, network, target, category
Leaf = tuple[str, int, str]
Ints = npt.NDArray[np.int64]
Counts = npt.NDArray[np.int32]
V_FIELDS = ("accessible", "blocked", "offline", "inconclusive", "probes")


def _no_ints() -> Ints:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class BlockedColumns:
    """Blocked verdicts per (series, t, kind): ``kinds`` names a kind code (method, reason)."""

    series: Ints = field(default_factory=_no_ints)
    t: Ints = field(default_factory=_no_ints)
    kind: Ints = field(default_factory=_no_ints)
    count: Ints = field(default_factory=_no_ints)
    kinds: dict[int, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VerdictColumns:
    """``counts[i, f, t]``: field ``f`` (V_FIELDS) of series ``keys[i]`` in bucket ``t``."""

    series: dict[int, Series]
    keys: Ints
    counts: Counts  # (len(keys), 5, buckets)
    blocked: BlockedColumns = field(default_factory=BlockedColumns)


@dataclass(frozen=True, slots=True)
class HeartbeatColumns:
    """``probes[i, t]``: distinct probes of leaf ``keys[i]`` heard by heartbeat in bucket ``t``."""

    leaves: dict[int, Leaf]
    keys: Ints
    probes: Counts  # (len(keys), buckets)


def dense(keys: Ints, t: Ints, values: list[Ints], buckets: int) -> tuple[Ints, Counts]:
    """Sparse rows (key, t, *values) as (distinct keys, counts (keys, len(values), buckets))."""
    distinct, row = np.unique(keys, return_inverse=True)
    out = np.zeros((distinct.size, len(values), buckets), dtype=np.int32)
    for index, column in enumerate(values):
        out[row, index, t] = column
    return distinct.astype(np.int64), out
