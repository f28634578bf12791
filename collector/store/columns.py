"""Rollups as arrays: what a scan reads when a store can hand them over without bucket objects.

``rows`` are numpy structured arrays, one element per stored rollup row at the base step
(collector/store/rollup.py), ``t`` counted in base buckets from the start of the read; series
and leaves are named once in small dictionaries keyed by the integer codes the rows carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Series = tuple[str, int, str, str, str]  # cc, asn, network, target, category
Leaf = tuple[str, int, str]


@dataclass(frozen=True, slots=True)
class VerdictColumns:
    """Fields of ``rows``: series, t, accessible, blocked, offline, inconclusive, probes."""

    series: dict[int, Series]
    rows: npt.NDArray[Any]
    blocked: list[tuple[int, int, str, str, int]]  # (series, t, method, reason, count)


@dataclass(frozen=True, slots=True)
class HeartbeatColumns:
    """Fields of ``rows``: leaf, t, probes."""

    leaves: dict[int, Leaf]
    rows: npt.NDArray[Any]


def empty(dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    return np.zeros(0, dtype=dtype)
