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

from collector.anomaly.reports import reports_bad
from collector.anomaly.slots import SlotTable, Tables
from collector.records import HeartbeatBucket, VerdictBucket

Array = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
# Pair counts: float32 in merged and cached grids (integers, exact below 2**24; a pair has far
# fewer verdicts a bucket), float64 where built from records; detection promotes them to float64
# as soon as they meet a float64 operand, so both give the same results at half the memory.
Counts = npt.NDArray[np.float32] | npt.NDArray[np.float64]
Leaf = tuple[str, int, str]  # (cc, asn, network)
CONTROL = "control"
OTHER = "other"  # a site no target names: imported OONI test-list entries


def is_domestic(target: str, cc: str) -> bool:
    """A control inside the vantage's own country, named ``<cc>-...`` (``kz-gov``) or
    ``domestic...``: it keeps working when only international traffic is cut, so it never
    counts among the probe's international controls."""
    return target.startswith(f"{cc.lower()}-") or target.startswith("domestic")


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
    beats: Array  # (leaves, T) distinct probes heard through heartbeats alone
    bad: Array  # (leaves, T) probes whose own international controls all failed (per-probe judging)
    cut: Array  # (leaves, T) of those, probes whose platforms failed too: cut from abroad
    pairs: list[tuple[int, str]]  # (leaf index, platform target)
    accessible: Counts  # (pairs, T)
    blocked: Counts
    inconclusive: Counts
    probes: Counts
    # blocked verdicts by method (reason) per (pair, bucket): dicts where built from records,
    # SlotTables (slots.py: arrays, shared count dicts) in day and merged grids
    methods: Tables = field(default_factory=dict)
    reasons: Tables = field(default_factory=dict)

    def time(self, index: int) -> datetime:
        return self.since + timedelta(seconds=index * self.step_s)

    def up(self) -> Array:
        """Probes heard and online: heard minus the share of their verdicts saying offline, minus
        the probes cut from international targets (a shutdown where domestic sites still work)."""
        return np.maximum(self.heard - self.down(), 0.0)

    def down(self) -> Array:
        """Probes heard but reporting no connectivity: offline verdicts, or international cut."""
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(self.verdicts > 0, self.offline / self.verdicts, 0.0)
        out: Array = np.minimum(self.heard * share + self.cut, self.heard)
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
    l_rows: list[tuple[int, ...]] = []  # leaf, t, probes, offline, all, control ok, control all
    p_rows: list[tuple[int, ...]] = []  # pair, t, accessible, blocked, inconclusive, probes
    ctrl_index: dict[tuple[int, str], int] = {}
    c_rows: list[tuple[int, ...]] = []  # international control of a leaf, t, failed
    other_index: dict[tuple[int, str], int] = {}
    o_rows: list[tuple[int, ...]] = []  # other site of a leaf, t, failed
    h_rows = _heartbeat_rows(heartbeats, leaf_index, origin, step_s, n_times)
    for vb in verdicts:
        t = int((vb.start.timestamp() - origin) // step_s)
        if not 0 <= t < n_times:
            continue
        leaf = leaf_index.setdefault((vb.cc, vb.asn, vb.network), len(leaf_index))
        total = vb.accessible + vb.blocked + vb.offline + vb.inconclusive
        control = vb.category == CONTROL
        l_rows.append(
            (
                leaf,
                t,
                vb.probes,
                vb.offline,
                total,
                vb.accessible if control else 0,
                total if control else 0,
            )
        )
        if control:
            if not is_domestic(vb.target, vb.cc):
                ctrl = ctrl_index.setdefault((leaf, vb.target), len(ctrl_index))
                c_rows.append((ctrl, t, vb.blocked + vb.inconclusive))
            continue
        if vb.category == OTHER:
            other = other_index.setdefault((leaf, vb.target), len(other_index))
            o_rows.append((other, t, vb.blocked + vb.inconclusive))
        pair = pair_index.setdefault((leaf, vb.target), len(pair_index))
        p_rows.append((pair, t, vb.accessible, vb.blocked, vb.inconclusive, vb.probes))
        if vb.methods:
            _add(methods, (pair, t), vb.methods)
        if vb.reasons:
            _add(reasons, (pair, t), vb.reasons)
    n_leaves, n_pairs = len(leaf_index), len(pair_index)
    h_cols, l_cols, p_cols = _columns(h_rows, 3), _columns(l_rows, 7), _columns(p_rows, 6)
    beats = _scatter(np.maximum, n_leaves, n_times, h_cols[0], h_cols[1], h_cols[2])
    leaf_at = (l_cols[0], l_cols[1])
    heard = np.maximum(beats, _scatter(np.maximum, n_leaves, n_times, *leaf_at, l_cols[2]))
    control_acc = _scatter(np.add, n_leaves, n_times, *leaf_at, l_cols[5])
    control_all = _scatter(np.add, n_leaves, n_times, *leaf_at, l_cols[6])
    with np.errstate(invalid="ignore", divide="ignore"):
        control_ok = np.where(control_all > 0, control_acc / control_all, np.nan)
    pair_at = (p_cols[0], p_cols[1])
    accessible, blocked, inconclusive = (
        _scatter(np.add, n_pairs, n_times, *pair_at, p_cols[i]) for i in (2, 3, 4)
    )
    bad, cut = _bad_and_cut(
        n_leaves,
        n_times,
        [leaf for leaf, _ in ctrl_index],
        _failures_seen(c_rows, len(ctrl_index), n_times),
        [leaf for leaf, _ in pair_index],
        blocked + inconclusive,
    )
    others, pair_leaf = [leaf for leaf, _ in other_index], [leaf for leaf, _ in pair_index]
    o_failed = _failures_seen(o_rows, len(others), n_times)
    bad = reports_bad(bad, beats, others, o_failed, pair_leaf, accessible, blocked + inconclusive)
    return Grid(
        since=since,
        step_s=step_s,
        n_times=n_times,
        leaves=list(leaf_index),
        heard=heard,
        offline=_scatter(np.add, n_leaves, n_times, *leaf_at, l_cols[3]),
        verdicts=_scatter(np.add, n_leaves, n_times, *leaf_at, l_cols[4]),
        control_ok=control_ok,
        beats=beats,
        bad=bad,
        cut=cut,
        pairs=list(pair_index),
        accessible=accessible,
        blocked=blocked,
        inconclusive=inconclusive,
        probes=_scatter(np.maximum, n_pairs, n_times, *pair_at, p_cols[5]),
        methods=methods,
        reasons=reasons,
    )


def _bad_and_cut(
    n_leaves: int,
    n_times: int,
    ctrl_leaf: list[int],
    ctrl_failed: Array,
    pair_leaf: list[int],
    pair_failed: Array,
) -> tuple[Array, Array]:
    """Per leaf and bucket, from aggregates: ``bad``, the probes whose international controls
    all failed (at most the failures of the least-failing control: each such probe fails every
    one), and ``cut``, how many of them failed the platforms too (the median platform's
    failures). A bad probe's verdicts say nothing about a target (DESIGN.md decision 4); a cut
    one is a probe without international connectivity, evidence of a shutdown."""
    bad = np.zeros((n_leaves, n_times))
    cut = np.zeros((n_leaves, n_times))
    controls, platforms = _rows_by_leaf(ctrl_leaf), _rows_by_leaf(pair_leaf)
    for leaf, rows in controls.items():
        least = ctrl_failed[rows].min(axis=0)
        bad[leaf] = np.where(np.isfinite(least), least, 0.0)
        plats = platforms.get(leaf)
        if plats:
            cut[leaf] = np.minimum(bad[leaf], np.median(pair_failed[plats], axis=0))
    return bad, cut


def _heartbeat_rows(
    heartbeats: Iterable[HeartbeatBucket],
    leaf_index: dict[Leaf, int],
    origin: float,
    step_s: int,
    n_times: int,
) -> list[tuple[int, ...]]:
    """(leaf, t, probes) of the heartbeat buckets in the grid; their leaves come first."""
    rows: list[tuple[int, ...]] = []
    for hb in heartbeats:
        t = int((hb.start.timestamp() - origin) // step_s)
        if 0 <= t < n_times:
            leaf = leaf_index.setdefault((hb.cc, hb.asn, hb.network), len(leaf_index))
            rows.append((leaf, t, hb.probes))
    return rows


def _failures_seen(rows: list[tuple[int, ...]], n: int, n_times: int) -> Array:
    """(row, t, failed) tuples as (n, T) failures, infinite where the row was not measured."""
    cols = _columns(rows, 3)
    failed = _scatter(np.add, n, n_times, cols[0], cols[1], cols[2])
    seen = _scatter(np.add, n, n_times, cols[0], cols[1], cols[2] * 0 + 1)
    out: Array = np.where(seen > 0, failed, np.inf)
    return out


def _rows_by_leaf(leaf_of: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for row, leaf in enumerate(leaf_of):
        out.setdefault(leaf, []).append(row)
    return out


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


LEAF_ARRAYS = ("heard", "offline", "verdicts", "control_ok", "beats", "bad", "cut")


def merge_grids(parts: list[Grid], *, since: datetime, until: datetime, step_s: int) -> Grid:
    """One grid over [since, until) from grids of disjoint time ranges (the cached days).

    Rows are matched by leaf and (leaf, target); buckets outside the range are cut, and a leaf or
    pair with nothing in the range is left out, so the result equals ``build_grid`` over the
    same records read for [since, until) at once.
    """
    merger = GridMerger(since=since, until=until, step_s=step_s)
    for part in parts:
        merger.index(part)
    grid = merger.start()
    for part in parts:
        merger.place(part)
    return grid


class GridMerger:
    """``merge_grids`` in two passes, so the parts need not all be held at once: ``index``
    every part in order, ``start`` the grid, then ``place`` the same parts in the same order
    (each may be read again in between, e.g. from the day-grid cache's files)."""

    def __init__(self, *, since: datetime, until: datetime, step_s: int) -> None:
        self.since, self.until, self.step_s = since, until, step_s
        self.n_times = max(0, -(-int((until - since).total_seconds()) // step_s))
        self.leaf_index: dict[Leaf, int] = {}
        self.pair_index: dict[tuple[Leaf, str], int] = {}
        self.grid: Grid | None = None

    def _span(self, part: Grid) -> _Span | None:
        if part.step_s != self.step_s:
            raise ValueError(f"grid step {part.step_s} s, expected {self.step_s} s")
        offset = int((part.since - self.since).total_seconds()) // self.step_s
        lo, hi = max(0, -offset), min(part.n_times, self.n_times - offset)
        return _Span(part, slice(lo, hi), slice(lo + offset, hi + offset)) if hi > lo else None

    def index(self, part: Grid) -> None:
        """Give the rows the part has data for in the range their place, first seen first."""
        span = self._span(part)
        if span is None:
            return
        for leaf, seen in zip(part.leaves, _present(part.heard[:, span.src]), strict=True):
            if seen:
                self.leaf_index.setdefault(leaf, len(self.leaf_index))
        measured = _present(part.probes[:, span.src])
        for (row, target), seen in zip(part.pairs, measured, strict=True):
            if seen:
                self.pair_index.setdefault((part.leaves[row], target), len(self.pair_index))

    def start(self) -> Grid:
        """The empty merged grid (float64), its rows those the indexed parts gave."""
        n_leaves, n_pairs, n_times = len(self.leaf_index), len(self.pair_index), self.n_times
        self.grid = Grid(
            since=self.since,
            step_s=self.step_s,
            n_times=n_times,
            leaves=list(self.leaf_index),
            heard=np.zeros((n_leaves, n_times)),
            offline=np.zeros((n_leaves, n_times)),
            verdicts=np.zeros((n_leaves, n_times)),
            control_ok=np.full((n_leaves, n_times), np.nan),
            beats=np.zeros((n_leaves, n_times)),
            bad=np.zeros((n_leaves, n_times)),
            cut=np.zeros((n_leaves, n_times)),
            pairs=[(self.leaf_index[leaf], target) for leaf, target in self.pair_index],
            accessible=np.zeros((n_pairs, n_times), dtype=np.float32),
            blocked=np.zeros((n_pairs, n_times), dtype=np.float32),
            inconclusive=np.zeros((n_pairs, n_times), dtype=np.float32),
            probes=np.zeros((n_pairs, n_times), dtype=np.float32),
            methods=SlotTable(n_times),
            reasons=SlotTable(n_times),
        )
        return self.grid

    def place(self, part: Grid) -> None:
        """Copy an indexed part's buckets in the range onto the grid ``start`` made."""
        grid, span = self.grid, self._span(part)
        if grid is None:
            raise RuntimeError("GridMerger.place before start")
        if span is None:
            return
        leaf_index, pair_index = self.leaf_index, self.pair_index
        leaves = {i: leaf_index[leaf] for i, leaf in enumerate(part.leaves) if leaf in leaf_index}
        pairs = {
            i: pair_index[key]
            for i, (row, target) in enumerate(part.pairs)
            if (key := (part.leaves[row], target)) in pair_index
        }
        _place(grid, span, leaves, LEAF_ARRAYS)
        _place(grid, span, pairs, ("accessible", "blocked", "inconclusive", "probes"))
        pair_map = np.full(len(part.pairs), -1, dtype=np.int64)
        if pairs:
            pair_map[list(pairs)] = list(pairs.values())
        for source, table in ((part.methods, grid.methods), (part.reasons, grid.reasons)):
            assert isinstance(table, SlotTable)  # made so by start()
            _place_slots(SlotTable.of(source, part.n_times), table, pair_map, span)


def _place_slots(source: SlotTable, table: SlotTable, pair_map: Ints, span: _Span) -> None:
    """Copy a part's blocked-verdict table in the span onto the merged grid's: pairs mapped
    by ``pair_map`` (-1: not in the grid), buckets shifted; equal count dicts stay shared."""
    pair, t, codes = source.slots()
    keep = (t >= span.src.start) & (t < span.src.stop)
    mapped = pair_map[pair[keep]]
    ok = mapped >= 0
    recode = np.array([table.interner.code(v) for v in source.interner.values], dtype=np.int64)
    shift = span.dst.start - span.src.start
    table.extend(mapped[ok], t[keep][ok] + shift, recode[codes[keep][ok]])


@dataclass(frozen=True, slots=True)
class _Span:
    """The buckets ``src`` of a part that land on the buckets ``dst`` of the merged grid."""

    part: Grid
    src: slice
    dst: slice


def _present(rows: Counts) -> list[bool]:
    """Per row: anything in it (a leaf heard, a pair measured)."""
    flags: npt.NDArray[np.bool_] = np.asarray(rows.any(axis=1))
    return [bool(x) for x in flags]


def _place(grid: Grid, span: _Span, rows: dict[int, int], names: tuple[str, ...]) -> None:
    """Copy the part's rows (keys of ``rows``) onto the grid's rows (values) for the span."""
    if not rows:
        return
    mine = np.fromiter(rows.keys(), dtype=np.int64, count=len(rows))
    theirs = np.fromiter(rows.values(), dtype=np.int64, count=len(rows))
    for name in names:
        getattr(grid, name)[theirs, span.dst] = getattr(span.part, name)[mine, span.src]
