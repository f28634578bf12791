"""Time-bucketed aggregates pivoted into dense arrays: one row per series, one column per bucket.

A leaf series is one vantage group (cc, asn, network); a pair series is one platform target seen
from one leaf. Detection reads only these arrays, so it never touches records or stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from collector.records import HeartbeatBucket, VerdictBucket

Array = npt.NDArray[np.float64]
Leaf = tuple[str, int, str]  # (cc, asn, network)
CONTROL = "control"


@dataclass(slots=True)
class Grid:
    """Counts per series and bucket over [since, since + n_times * step_s)."""

    since: datetime
    step_s: int
    n_times: int
    leaves: list[Leaf]
    heard: Array  # (leaves, T) distinct probes heard (heartbeats or verdicts)
    offline: Array  # (leaves, T) "offline" verdicts, every target
    verdicts: Array  # (leaves, T) all verdicts, every target
    control_ok: Array  # (leaves, T) accessible share of control verdicts; NaN: none
    pairs: list[tuple[int, str]]  # (leaf index, platform target)
    accessible: Array  # (pairs, T)
    blocked: Array
    inconclusive: Array
    probes: Array
    methods: dict[tuple[int, int], dict[str, int]] = field(default_factory=dict)
    reasons: dict[tuple[int, int], dict[str, int]] = field(default_factory=dict)

    def time(self, index: int) -> datetime:
        return self.since + timedelta(seconds=index * self.step_s)

    def up(self) -> Array:
        """Probes heard and online: heard minus the share of their verdicts saying offline."""
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(self.verdicts > 0, self.offline / self.verdicts, 0.0)
        out: Array = self.heard * (1.0 - share)
        return out


def bucket_index(moment: datetime, since: datetime, step_s: int) -> int:
    return int((moment - since).total_seconds()) // step_s


def build_grid(
    verdicts: Iterable[VerdictBucket],
    heartbeats: Iterable[HeartbeatBucket],
    *,
    since: datetime,
    until: datetime,
    step_s: int,
) -> Grid:
    """Pivot buckets into a Grid; buckets outside [since, until) are ignored, duplicates add.

    One pass over the records gathers plain columns; numpy scatters them (``ufunc.at``), so the
    per-record cost is a few attribute reads, not numpy scalar writes.
    """
    n_times = max(0, -(-int((until - since).total_seconds()) // step_s))
    origin = since.timestamp()
    leaf_index: dict[Leaf, int] = {}
    pair_index: dict[tuple[int, str], int] = {}
    methods: dict[tuple[int, int], dict[str, int]] = {}
    reasons: dict[tuple[int, int], dict[str, int]] = {}
    h_rows: list[tuple[int, ...]] = []  # leaf, t, probes
    l_rows: list[tuple[int, ...]] = []  # leaf, t, probes, offline, all, control ok, control all
    p_rows: list[tuple[int, ...]] = []  # pair, t, accessible, blocked, inconclusive, probes
    for hb in heartbeats:
        t = int((hb.start.timestamp() - origin) // step_s)
        if 0 <= t < n_times:
            leaf = leaf_index.setdefault((hb.cc, hb.asn, hb.network), len(leaf_index))
            h_rows.append((leaf, t, hb.probes))
    for vb in verdicts:
        t = int((vb.start.timestamp() - origin) // step_s)
        if not 0 <= t < n_times:
            continue
        leaf = leaf_index.setdefault((vb.cc, vb.asn, vb.network), len(leaf_index))
        total = vb.accessible + vb.blocked + vb.offline + vb.inconclusive
        control = vb.category == CONTROL
        l_rows.append((leaf, t, vb.probes, vb.offline, total, vb.accessible if control else 0,
                       total if control else 0))  # fmt: skip
        if control:
            continue
        pair = pair_index.setdefault((leaf, vb.target), len(pair_index))
        p_rows.append((pair, t, vb.accessible, vb.blocked, vb.inconclusive, vb.probes))
        if vb.methods:
            _add(methods, (pair, t), vb.methods)
        if vb.reasons:
            _add(reasons, (pair, t), vb.reasons)
    n_leaves, n_pairs = len(leaf_index), len(pair_index)
    h_cols, l_cols, p_cols = _columns(h_rows, 3), _columns(l_rows, 7), _columns(p_rows, 6)
    heard = _scatter(np.maximum, n_leaves, n_times, h_cols[0], h_cols[1], h_cols[2])
    leaf_at = (l_cols[0], l_cols[1])
    heard = np.maximum(heard, _scatter(np.maximum, n_leaves, n_times, *leaf_at, l_cols[2]))
    control_acc = _scatter(np.add, n_leaves, n_times, *leaf_at, l_cols[5])
    control_all = _scatter(np.add, n_leaves, n_times, *leaf_at, l_cols[6])
    with np.errstate(invalid="ignore", divide="ignore"):
        control_ok = np.where(control_all > 0, control_acc / control_all, np.nan)
    pair_at = (p_cols[0], p_cols[1])
    return Grid(
        since=since,
        step_s=step_s,
        n_times=n_times,
        leaves=list(leaf_index),
        heard=heard,
        offline=_scatter(np.add, n_leaves, n_times, *leaf_at, l_cols[3]),
        verdicts=_scatter(np.add, n_leaves, n_times, *leaf_at, l_cols[4]),
        control_ok=control_ok,
        pairs=list(pair_index),
        accessible=_scatter(np.add, n_pairs, n_times, *pair_at, p_cols[2]),
        blocked=_scatter(np.add, n_pairs, n_times, *pair_at, p_cols[3]),
        inconclusive=_scatter(np.add, n_pairs, n_times, *pair_at, p_cols[4]),
        probes=_scatter(np.maximum, n_pairs, n_times, *pair_at, p_cols[5]),
        methods=methods,
        reasons=reasons,
    )


def _columns(rows: list[tuple[int, ...]], width: int) -> npt.NDArray[np.int64]:
    """Row tuples as a (width, n) integer array: one column per field."""
    if not rows:
        return np.zeros((width, 0), dtype=np.int64)
    return np.array(rows, dtype=np.int64).T


def _scatter(
    ufunc: np.ufunc,
    rows: int,
    cols: int,
    row: npt.NDArray[np.int64],
    col: npt.NDArray[np.int64],
    values: npt.NDArray[np.int64],
) -> Array:
    """A (rows, cols) array where each (row, col) gets its values combined by ``ufunc``."""
    out = np.zeros((rows, cols))
    if values.size:
        ufunc.at(out, (row, col), values.astype(np.float64))
    return out


def _add(
    table: dict[tuple[int, int], dict[str, int]], key: tuple[int, int], counts: dict[str, int]
) -> None:
    slot = table.setdefault(key, {})
    for name, count in counts.items():
        slot[name] = slot.get(name, 0) + count
