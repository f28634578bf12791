"""Detection's memory layout: the same numbers with no pair x time working copy (issue 17).

The blocked-verdict tables as arrays (slots.py), the failure counts per slice (failures.py),
the time-major blocks and the seasonal memory in groups of series (detect.py) must each give
what the whole-array form gave; detection over a grid must stay within one pair array.
"""

from __future__ import annotations

import importlib
import tracemalloc
from datetime import UTC, datetime

import numpy as np
import pytest

from collector.anomaly.cache import _packed, _unpacked
from collector.anomaly.classify import detect
from collector.anomaly.detect import _expectations, _TimeBlocks
from collector.anomaly.failures import _PairCounts
from collector.anomaly.seasonal import expectations
from collector.anomaly.series import Grid
from collector.anomaly.slots import SlotTable
from collector.anomaly.thresholds import Thresholds

SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def _tables() -> dict[tuple[int, int], dict[str, int]]:
    return {
        (0, 5): {"dns": 1},
        (0, 6): {"dns": 1},
        (3, 0): {"dns": 2, "tcp": 1},
        (2, 287): {"tls": 4},
        (1, 100): {},
    }


def test_slot_table_reads_as_the_dict_it_was_built_from() -> None:
    plain = _tables()
    table = SlotTable.of(plain, 288)
    assert table == plain and plain == table and len(table) == len(plain)
    assert list(table) == sorted(plain)  # bucket order: by pair, then time
    assert table[(3, 0)] == {"dns": 2, "tcp": 1}
    assert table.get((0, 7)) is None and table.get((0, 7), {}) == {}
    assert (2, 287) in table and (2, 288) not in table and (-1, 5) not in table
    assert table.get((1, 288 + 5)) is None  # beyond the width: never another pair's bucket
    with pytest.raises(KeyError):
        table[(9, 9)]
    assert table[(0, 5)] is table[(0, 6)]  # equal contents share one dict
    assert SlotTable.of({}, 0) == {}


def test_slot_table_keeps_the_last_value_given_for_a_bucket() -> None:
    table = SlotTable(10)
    one, two = table.interner.code({"dns": 1}), table.interner.code({"tcp": 2})
    table.extend(np.array([1, 2]), np.array([3, 4]), np.array([one, one]))
    table.extend(np.array([1]), np.array([3]), np.array([two]))
    assert dict(table.items()) == {(1, 3): {"tcp": 2}, (2, 4): {"dns": 1}}
    with pytest.raises(ValueError, match="bucket"):
        table.extend(np.array([0]), np.array([10]), np.array([one]))


def test_packed_tables_come_back_equal() -> None:
    plain = _tables()
    for source in (plain, SlotTable.of(plain, 288)):
        rows, names = _packed(source, 288)
        back = _unpacked(rows, names, 288)
        assert back == {k: v for k, v in plain.items() if v}  # an empty bucket has no rows
    rows, names = _packed({}, 288)
    assert rows.shape == (0, 4) and _unpacked(rows, names, 288) == {}


def _grid(pairs: int, n_times: int, seed: int = 5) -> Grid:
    """A grid of ``pairs`` (several per leaf), float32 pair counts as merged grids have."""
    rng = np.random.default_rng(seed)
    leaves = max(1, pairs // 10)
    heard = rng.integers(0, 6, size=(leaves, n_times)).astype(np.float64)
    heard[0, n_times // 2 : n_times // 2 + 24] = 0  # a silence, so shutdown code runs too
    leaf_of = np.arange(pairs) % leaves
    probes = heard[leaf_of].astype(np.float32)
    blocked = rng.binomial(probes.astype(np.int64), 0.02).astype(np.float32)
    blocked[1, n_times // 3 : n_times // 3 + 40] = probes[1, n_times // 3 : n_times // 3 + 40]
    inconclusive = rng.binomial((probes - blocked).astype(np.int64), 0.01).astype(np.float32)
    bad = rng.binomial(heard.astype(np.int64), 0.01).astype(np.float64)
    grid = Grid(
        since=SINCE,
        step_s=300,
        n_times=n_times,
        leaves=[("ZZ" if i % 2 else "YY", 64500 + i, "fixed") for i in range(leaves)],
        heard=heard,
        offline=np.zeros_like(heard),
        verdicts=heard * 21,
        control_ok=np.ones_like(heard),
        beats=heard.copy(),
        bad=bad,
        cut=np.zeros_like(heard),
        pairs=[(int(leaf), f"platform-{p // leaves}") for p, leaf in enumerate(leaf_of)],
        accessible=probes - blocked - inconclusive,
        blocked=blocked,
        inconclusive=inconclusive,
        probes=probes,
    )
    grid.methods = {(1, t): {"dns": int(blocked[1, t])} for t in np.flatnonzero(blocked[1])}
    return grid


def test_failure_counts_per_slice_equal_the_whole_array_formula() -> None:
    grid = _grid(40, 600)
    leaf_of = np.array([leaf for leaf, _ in grid.pairs], dtype=np.int64)
    bad = grid.bad[leaf_of]
    raw_failed = grid.blocked + grid.inconclusive
    measured = np.maximum(raw_failed + grid.accessible - bad, 0.0)
    failed = np.minimum(np.maximum(raw_failed - bad, 0.0), measured)
    lazy_measured = _PairCounts(grid, leaf_of, failed=False)
    lazy_failed = _PairCounts(grid, leaf_of, failed=True)
    assert lazy_measured.shape == measured.shape
    for key in ((slice(None), slice(0, 256)), (slice(None), slice(512, 900)), (7, slice(3, 90))):
        assert np.array_equal(lazy_measured[key], measured[key])
        assert np.array_equal(lazy_failed[key], failed[key])
        assert lazy_failed[key].dtype == failed[key].dtype == np.float64


def test_time_blocks_give_the_rows_of_the_whole_transpose() -> None:
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 9, size=(5, 700)).astype(np.float32)
    mask = rng.random((5, 700)) > 0.5
    blocks = _TimeBlocks((counts, mask), (np.float64, None))
    whole = np.ascontiguousarray(counts.T, dtype=np.float64), mask.T
    for t in range(700):
        got = blocks.at(t)
        assert np.array_equal(got[0], whole[0][t]) and got[0].dtype == np.float64
        assert np.array_equal(got[1], whole[1][t]) and got[1].dtype == np.bool_


def test_seasonal_memory_in_groups_of_series_equals_all_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(2)
    heard_t = rng.integers(0, 5, size=(3 * 288 + 17, 11)).astype(np.float64)
    heard_t[:300, 4] = 0  # a series first heard late
    want = expectations(heard_t, 288)
    detect_module = importlib.import_module("collector.anomaly.detect")  # not the function
    monkeypatch.setattr(detect_module, "SEASON_CELLS", 3 * 288)  # one series at a time
    got = _expectations(heard_t, 288)
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b)


def test_detection_holds_less_than_two_pair_arrays_besides_the_grid() -> None:
    """Whole-array detection held five float64 pair x time copies and more (~360 MB at 1,000
    series x 30 days); now it reads blocks of 256 buckets. Traced allocations (numpy's
    included) during detect() over 8 days."""
    pairs, n_times = 400, 8 * 288
    grid = _grid(pairs, n_times)
    one_array = pairs * n_times * 8  # a float64 pair x time array
    th = Thresholds()
    detect(_grid(20, 2 * 288), th, judge_from=288)  # imports and caches warmed up
    tracemalloc.start()
    try:
        found = detect(grid, th, judge_from=288)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert any(d.target == "platform-0" for d in found), "the grid's block is found"
    assert peak < 2 * one_array, f"{peak / 2**20:.1f} MiB; a pair array {one_array / 2**20:.1f}"
