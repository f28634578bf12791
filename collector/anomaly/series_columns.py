"""A Grid straight from rollup arrays (collector/store/columns.py): no object per bucket.

The same grid ``series.build_grid`` makes from the bucket records of the same rows (leaves and
pairs in the same order, the same sums and maxima), computed with numpy over whole columns;
tests/anomaly/test_cache.py holds the two equal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from collector.anomaly.series import CONTROL, Grid, Leaf, _bad_and_cut, is_domestic
from collector.store.columns import HeartbeatColumns, VerdictColumns

Array = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def _scatter(
    ufunc: np.ufunc, shape: tuple[int, int], rows: Ints, cols: Ints, values: Ints
) -> Array:
    """A ``shape`` array where each (row, col) gets its values summed (np.add) or their
    maximum (np.maximum): bincount and reduceat over whole columns, not ufunc.at per value."""
    size = shape[0] * shape[1]
    if values.size == 0 or size == 0:
        return np.zeros(shape)
    flat = rows * shape[1] + cols
    weights = values.astype(np.float64)
    if ufunc is np.add:
        summed = np.bincount(flat, weights=weights, minlength=size)
        return summed.astype(np.float64).reshape(shape)
    out = np.zeros(size)
    order = np.argsort(flat, kind="stable")
    flat_sorted = flat[order]
    starts = np.flatnonzero(np.r_[True, flat_sorted[1:] != flat_sorted[:-1]])
    out[flat_sorted[starts]] = np.maximum(np.maximum.reduceat(weights[order], starts), 0.0)
    return out.reshape(shape)


def _order(first_t: dict[tuple[object, ...], int]) -> list[tuple[object, ...]]:
    """Keys in the order of their first bucket, then the key: the records' sort order."""
    return sorted(first_t, key=lambda key: (first_t[key], key))


def _first_times(
    keys: list[tuple[object, ...]], codes: Ints, t: Ints
) -> dict[tuple[object, ...], int]:
    out: dict[tuple[object, ...], int] = {}
    if codes.size == 0:
        return out
    order = np.lexsort((t, codes))
    codes_sorted = codes[order]
    starts = np.flatnonzero(np.r_[True, codes_sorted[1:] != codes_sorted[:-1]])
    for index in starts:
        key = keys[int(codes_sorted[index])]
        when = int(t[order[index]])
        if key not in out or when < out[key]:
            out[key] = when
    return out


def grid_from_columns(
    verdicts: VerdictColumns,
    heartbeats: HeartbeatColumns,
    *,
    since: datetime,
    until: datetime,
    step_s: int,
) -> Grid:
    """The Grid of [since, until) from base-step rollup rows whose ``t`` counts from ``since``."""
    n_times = max(0, -(-int((until - since).total_seconds()) // step_s))
    v, h = verdicts.rows, heartbeats.rows
    v = v[(v["t"] >= 0) & (v["t"] < n_times)]
    h = h[(h["t"] >= 0) & (h["t"] < n_times)]
    ix = _Index(verdicts, heartbeats, v, h)
    leaves, pair_keys, leaf_index = ix.leaves, ix.pair_keys, ix.leaf_index
    s_leaf, s_pair, s_ctrl, ctrl_leaf, h_leaf_of = (
        ix.s_leaf,
        ix.s_pair,
        ix.s_ctrl,
        ix.ctrl_leaf,
        ix.h_leaf_of,
    )
    n_leaves, n_pairs = len(leaves), len(pair_keys)
    shape_l, shape_p = (n_leaves, n_times), (n_pairs, n_times)
    t = v["t"]
    rows_l = s_leaf[v["series"]]
    total = v["accessible"] + v["blocked"] + v["offline"] + v["inconclusive"]
    is_ctrl = s_pair[v["series"]] < 0
    hb_rows = h_leaf_of[h["leaf"]]
    beats = _scatter(np.maximum, shape_l, hb_rows, h["t"], h["probes"])
    heard = np.maximum(beats, _scatter(np.maximum, shape_l, rows_l, t, v["probes"]))
    control_acc = _scatter(np.add, shape_l, rows_l, t, np.where(is_ctrl, v["accessible"], 0))
    control_all = _scatter(np.add, shape_l, rows_l, t, np.where(is_ctrl, total, 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        control_ok = np.where(control_all > 0, control_acc / control_all, np.nan)
    plat = ~is_ctrl
    p_rows, p_t = s_pair[v["series"][plat]], t[plat]
    accessible = _scatter(np.add, shape_p, p_rows, p_t, v["accessible"][plat])
    blocked = _scatter(np.add, shape_p, p_rows, p_t, v["blocked"][plat])
    inconclusive = _scatter(np.add, shape_p, p_rows, p_t, v["inconclusive"][plat])
    ctrl_rows = s_ctrl[v["series"]]
    intl = ctrl_rows >= 0
    failed = (v["blocked"] + v["inconclusive"])[intl]
    shape_c = (len(ctrl_leaf), n_times)
    ctrl_failed = _scatter(np.add, shape_c, ctrl_rows[intl], t[intl], failed)
    ctrl_seen = _scatter(np.add, shape_c, ctrl_rows[intl], t[intl], np.ones_like(failed))
    bad, cut = _bad_and_cut(
        n_leaves,
        n_times,
        ctrl_leaf,
        np.where(ctrl_seen > 0, ctrl_failed, np.inf),
        [leaf_index[k[:3]] for k in pair_keys],
        blocked + inconclusive,
    )
    methods, reasons = _blocked(verdicts, s_pair, n_times)
    leaf_list: list[Leaf] = [(str(k[0]), int(k[1]), str(k[2])) for k in leaves]  # type: ignore[call-overload]
    return Grid(
        since=since,
        step_s=step_s,
        n_times=n_times,
        leaves=leaf_list,
        heard=heard,
        offline=_scatter(np.add, shape_l, rows_l, t, v["offline"]),
        verdicts=_scatter(np.add, shape_l, rows_l, t, total),
        control_ok=control_ok,
        beats=beats,
        bad=bad,
        cut=cut,
        pairs=[(leaf_index[k[:3]], str(k[3])) for k in pair_keys],
        accessible=accessible,
        blocked=blocked,
        inconclusive=inconclusive,
        probes=_scatter(np.maximum, shape_p, p_rows, p_t, v["probes"][plat]),
        methods=methods,
        reasons=reasons,
    )


class _Index:
    """Codes of the rows mapped to dense rows of the grid, in ``build_grid``'s order."""

    def __init__(
        self, verdicts: VerdictColumns, heartbeats: HeartbeatColumns, v: npt.NDArray[Any],
        h: npt.NDArray[Any],
    ) -> None:  # fmt: skip
        size_s = max(verdicts.series, default=0) + 1
        size_l = max(heartbeats.leaves, default=0) + 1
        s_keys: list[tuple[object, ...]] = [()] * size_s
        for code, named in verdicts.series.items():
            s_keys[code] = named
        hb_leaf_keys: list[tuple[object, ...]] = [()] * size_l
        for code, heard_leaf in heartbeats.leaves.items():
            hb_leaf_keys[code] = heard_leaf
        # leaves: heartbeat leaves first (in record order), then leaves seen in verdicts only
        hb_first = _first_times(hb_leaf_keys, h["leaf"], h["t"])
        leaf_of_series = [key[:3] for key in s_keys]
        v_first = _first_times(s_keys, v["series"], v["t"])
        leaf_first: dict[tuple[object, ...], int] = {}
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
        for code, s_key in enumerate(s_keys):
            if not s_key or s_key not in v_first:
                continue
            row = leaf_index[leaf_of_series[code]]
            s_leaf[code] = row
            cc, target, category = str(s_key[0]), str(s_key[3]), s_key[4]
            if category != CONTROL:
                s_pair[code] = pair_index[(row, target)]
            elif not is_domestic(target, cc):
                s_ctrl[code] = len(ctrl_leaf)
                ctrl_leaf.append(row)
        h_leaf_of = np.full(size_l, -1, dtype=np.int64)
        for code, leaf_key in heartbeats.leaves.items():
            if leaf_key in leaf_index:
                h_leaf_of[code] = leaf_index[leaf_key]
        self.leaves, self.pair_keys, self.leaf_index = leaves, pair_keys, leaf_index
        self.s_leaf, self.s_pair, self.s_ctrl = s_leaf, s_pair, s_ctrl
        self.ctrl_leaf, self.h_leaf_of = ctrl_leaf, h_leaf_of


def _blocked(
    verdicts: VerdictColumns, s_pair: Ints, n_times: int
) -> tuple[dict[tuple[int, int], dict[str, int]], dict[tuple[int, int], dict[str, int]]]:
    """Blocked verdicts by method and by reason per (pair, bucket)."""
    methods: dict[tuple[int, int], dict[str, int]] = {}
    reasons: dict[tuple[int, int], dict[str, int]] = {}
    for code, when, method, reason, count in verdicts.blocked:
        if not 0 <= when < n_times or code >= s_pair.size or s_pair[code] < 0:
            continue
        slot = (int(s_pair[code]), int(when))
        for table, name in ((methods, method), (reasons, reason)):
            if name:
                counts = table.setdefault(slot, {})
                counts[name] = counts.get(name, 0) + int(count)
    return methods, reasons
