"""A Grid straight from dense rollup arrays (collector/store/columns.py): no object per bucket.

The same grid ``series.build_grid`` makes from the bucket records of the same rows (leaves and
pairs in the same order, the same sums and maxima): each grid row is a group of stored series
(a leaf: every target of one vantage; a pair: one target), reduced with ``ufunc.reduceat`` over
the rows sorted by group; tests/anomaly/test_cache.py holds the two equal.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import numpy.typing as npt

from collector.anomaly.reports import reports_bad
from collector.anomaly.series import CONTROL, OTHER, Grid, _bad_and_cut, is_domestic
from collector.anomaly.slots import SlotTable
from collector.store.columns import BlockedColumns, HeartbeatColumns, VerdictColumns

Array = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Key = tuple[object, ...]


def _grouped(ufunc: np.ufunc, groups: Ints, values: npt.NDArray[np.generic], size: int) -> Array:
    """A (size, T) float array: row g is ``ufunc`` over the rows of ``values`` in group g
    (groups < 0 are left out; groups without rows are zeros)."""
    out = np.zeros((size, values.shape[1]))
    keep = np.flatnonzero(groups >= 0)
    if keep.size == 0:
        return out
    order = keep[np.argsort(groups[keep], kind="stable")]
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    out[sorted_groups[starts]] = ufunc.reduceat(values[order], starts, axis=0)
    return out


def _first_times(keys: list[Key], codes: Ints, present: npt.NDArray[np.bool_]) -> dict[Key, int]:
    """The first bucket with data of each named key (several codes of one key: the earliest)."""
    out: dict[Key, int] = {}
    seen = present.any(axis=1)
    first = present.argmax(axis=1)
    for code, when in zip(codes[seen].tolist(), first[seen].tolist(), strict=True):
        key = keys[code]
        if key not in out or when < out[key]:
            out[key] = when
    return out


def _order(first_t: dict[Key, int]) -> list[Key]:
    """Keys in the order of their first bucket, then the key: the records' sort order."""
    return sorted(first_t, key=lambda key: (first_t[key], key))


def grid_from_columns(
    verdicts: VerdictColumns,
    heartbeats: HeartbeatColumns,
    *,
    since: datetime,
    until: datetime,
    step_s: int,
) -> Grid:
    """The Grid of [since, until) from base-step rollup arrays whose ``t`` counts from ``since``."""
    n_times = max(0, -(-int((until - since).total_seconds()) // step_s))
    counts = verdicts.counts[:, :, :n_times]
    beats_in = heartbeats.probes[:, :n_times]
    if counts.shape[2] < n_times or beats_in.shape[1] < n_times:
        pad = n_times - counts.shape[2], n_times - beats_in.shape[1]
        counts = np.pad(counts, ((0, 0), (0, 0), (0, pad[0])))
        beats_in = np.pad(beats_in, ((0, 0), (0, pad[1])))
    accessible, blocked, offline, inconclusive = (counts[:, f, :] for f in range(4))
    total = counts[:, :4, :].sum(axis=1, dtype=np.int64)
    present = total > 0  # a rollup row: some verdict in the bucket
    probes = np.where(present, counts[:, 4, :], 0)
    ix = _Index(verdicts, heartbeats, present, beats_in > 0)
    n_leaves, n_pairs = len(ix.leaves), len(ix.pair_keys)
    rows_l, rows_p, rows_c = (
        ix.s_leaf[verdicts.keys],
        ix.s_pair[verdicts.keys],
        ix.s_ctrl[verdicts.keys],
    )
    is_ctrl = (rows_l >= 0) & (rows_p < 0)
    beats = _grouped(np.maximum, ix.h_leaf_of[heartbeats.keys], beats_in, n_leaves)
    heard = np.maximum(beats, _grouped(np.maximum, rows_l, probes, n_leaves))
    ctrl_l = np.where(is_ctrl, rows_l, -1)
    control_acc = _grouped(np.add, ctrl_l, accessible, n_leaves)
    control_all = _grouped(np.add, ctrl_l, total, n_leaves)
    with np.errstate(invalid="ignore", divide="ignore"):
        control_ok = np.where(control_all > 0, control_acc / control_all, np.nan)
    del control_acc, control_all
    p_blocked = _grouped(np.add, rows_p, blocked, n_pairs)
    p_inconclusive = _grouped(np.add, rows_p, inconclusive, n_pairs)
    ctrl_failed = _grouped(
        np.add, rows_c, blocked.astype(np.int64) + inconclusive, len(ix.ctrl_leaf)
    )
    ctrl_seen = _grouped(np.add, rows_c, present, len(ix.ctrl_leaf))
    bad, cut = _bad_and_cut(
        n_leaves,
        n_times,
        ix.ctrl_leaf,
        np.where(ctrl_seen > 0, ctrl_failed, np.inf),
        [ix.leaf_index[k[:3]] for k in ix.pair_keys],
        p_blocked + p_inconclusive,
    )
    del ctrl_failed, ctrl_seen
    rows_o = ix.s_other[verdicts.keys]
    o_failed = _grouped(np.add, rows_o, blocked.astype(np.int64) + inconclusive, len(ix.other_leaf))
    o_seen = _grouped(np.add, rows_o, present, len(ix.other_leaf))
    p_accessible = _grouped(np.add, rows_p, accessible, n_pairs)
    pair_leaf = [ix.leaf_index[k[:3]] for k in ix.pair_keys]
    o_failed = np.where(o_seen > 0, o_failed, np.inf)
    p_failed = p_blocked + p_inconclusive
    bad = reports_bad(bad, beats, ix.other_leaf, o_failed, pair_leaf, p_accessible, p_failed)
    del o_failed, o_seen, p_failed
    methods, reasons = _by_kind(verdicts.blocked, ix.s_pair, n_times)
    return Grid(
        since=since,
        step_s=step_s,
        n_times=n_times,
        leaves=[(str(k[0]), int(k[1]), str(k[2])) for k in ix.leaves],  # type: ignore[call-overload]
        heard=heard,
        offline=_grouped(np.add, rows_l, offline, n_leaves),
        verdicts=_grouped(np.add, rows_l, total, n_leaves),
        control_ok=control_ok,
        beats=beats,
        bad=bad,
        cut=cut,
        pairs=[(ix.leaf_index[k[:3]], str(k[3])) for k in ix.pair_keys],
        accessible=p_accessible,
        blocked=p_blocked,
        inconclusive=p_inconclusive,
        probes=_grouped(np.maximum, rows_p, probes, n_pairs),
        methods=methods,
        reasons=reasons,
    )


class _Index:
    """Codes of the rows mapped to dense rows of the grid, in ``build_grid``'s order."""

    def __init__(
        self,
        verdicts: VerdictColumns,
        heartbeats: HeartbeatColumns,
        v_present: npt.NDArray[np.bool_],
        h_present: npt.NDArray[np.bool_],
    ) -> None:
        size_s = max([*verdicts.series, *verdicts.keys.tolist()], default=0) + 1
        size_l = max([*heartbeats.leaves, *heartbeats.keys.tolist()], default=0) + 1
        s_keys: list[Key] = [()] * size_s
        for code, named in verdicts.series.items():
            s_keys[code] = named
        hb_leaf_keys: list[Key] = [()] * size_l
        for code, heard_leaf in heartbeats.leaves.items():
            hb_leaf_keys[code] = heard_leaf
        # leaves: heartbeat leaves first (in record order), then leaves seen in verdicts only
        hb_first = _first_times(hb_leaf_keys, heartbeats.keys, h_present)
        v_first = _first_times(s_keys, verdicts.keys, v_present)
        leaf_first: dict[Key, int] = {}
        for first_key, when in v_first.items():
            prefix = first_key[:3]
            leaf_first[prefix] = min(when, leaf_first.get(prefix, when))
        leaves = _order(hb_first)
        seen = set(leaves)
        leaves += [k for k in _order(leaf_first) if k not in seen]
        leaf_index = {leaf: i for i, leaf in enumerate(leaves)}
        pair_keys = [k for k in _order(v_first) if k[4] != CONTROL]
        pair_index = {(leaf_index[k[:3]], str(k[3])): i for i, k in enumerate(pair_keys)}
        # per-series lookups: leaf row, pair row (-1: control), international control row (-1)
        s_leaf = np.full(size_s, -1, dtype=np.int64)
        s_pair = np.full(size_s, -1, dtype=np.int64)
        s_ctrl = np.full(size_s, -1, dtype=np.int64)
        ctrl_leaf: list[int] = []
        s_other = np.full(size_s, -1, dtype=np.int64)  # other site row (-1)
        other_leaf: list[int] = []
        for code, s_key in enumerate(s_keys):
            if not s_key or s_key not in v_first:
                continue
            row = leaf_index[s_key[:3]]
            s_leaf[code] = row
            cc, target, category = str(s_key[0]), str(s_key[3]), s_key[4]
            if category == OTHER:
                s_other[code] = len(other_leaf)
                other_leaf.append(row)
            if category != CONTROL:
                s_pair[code] = pair_index[(row, target)]
            elif not is_domestic(target, cc):
                s_ctrl[code] = len(ctrl_leaf)
                ctrl_leaf.append(row)
        h_leaf_of = np.full(size_l, -1, dtype=np.int64)
        for code, leaf_key in heartbeats.leaves.items():
            if leaf_key in leaf_index:
                h_leaf_of[code] = leaf_index[leaf_key]
        self.leaves: list[Key] = leaves
        self.pair_keys, self.leaf_index = pair_keys, leaf_index
        self.s_leaf, self.s_pair, self.s_ctrl = s_leaf, s_pair, s_ctrl
        self.ctrl_leaf, self.h_leaf_of = ctrl_leaf, h_leaf_of
        self.s_other, self.other_leaf = s_other, other_leaf


def _by_kind(blocked: BlockedColumns, s_pair: Ints, n_times: int) -> tuple[SlotTable, SlotTable]:
    """Blocked verdicts by method and by reason per (pair, bucket): summed per name in numpy,
    one small dict per bucket with blocked verdicts, kept once per distinct content."""
    code = blocked.series
    keep = (blocked.t >= 0) & (blocked.t < n_times) & (code >= 0) & (code < s_pair.size)
    keep[keep] = s_pair[code[keep]] >= 0
    pair, when = s_pair[code[keep]], blocked.t[keep]
    kind, count = blocked.kind[keep], blocked.count[keep]
    kinds = sorted(blocked.kinds)
    out: list[SlotTable] = []
    for part in (0, 1):  # method, reason
        names = sorted({blocked.kinds[k][part] for k in kinds} - {""})
        name_of = {n: i for i, n in enumerate(names)}
        lookup = np.full(max(kinds, default=0) + 1, -1, dtype=np.int64)
        for k in kinds:
            lookup[k] = name_of.get(blocked.kinds[k][part], -1)
        name = lookup[kind] if kind.size else kind
        named = name >= 0
        width = max(1, len(names))
        slot = (pair[named] * n_times + when[named]) * width + name[named]
        unique, inverse = np.unique(slot, return_inverse=True)
        sums = np.bincount(inverse, weights=count[named], minlength=unique.size)
        cells: dict[int, dict[str, int]] = {}
        for key, total in zip(unique.tolist(), sums.tolist(), strict=True):
            cell, which = divmod(key, width)
            entry = cells.get(cell)
            if entry is None:
                entry = cells[cell] = {}
            entry[names[which]] = int(total)
        table = SlotTable(n_times)
        flat = np.fromiter(cells, dtype=np.int64, count=len(cells))
        codes = np.fromiter(map(table.interner.code, cells.values()), np.int64, len(cells))
        table.extend(flat // max(1, n_times), flat % max(1, n_times), codes)
        out.append(table)
    return out[0], out[1]
