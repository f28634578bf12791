"""The belief accumulator and the two detectors, on tables of counts."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from collector.anomaly.detect import belief_runs, detect_failures, detect_silence
from collector.anomaly.seasonal import SeasonalMemory, expectations
from collector.anomaly.thresholds import Thresholds

TH = Thresholds()
DAY = 288


def runs_of(llrs: list[float]) -> list[tuple[int, int | None, int]]:
    values = np.array([llrs], dtype=np.float64)
    found = belief_runs(1, len(llrs), lambda t, belief: values[:, t], TH)
    return [(r.start, r.end, r.opened) for r in found]


@pytest.mark.parametrize(
    ("llrs", "expected"),
    [
        ([0, 0, 0, 0], []),  # nothing
        ([-3, 3, -3, 3, -3], []),  # one odd round at a time never opens
        ([0, 3, 3, -3, -3, -3, 0], [(1, 3, 2)]),  # two strong rounds open, three good close
        ([0, 9, 9, -3, -3, -3], [(1, 3, 2)]),  # a bucket adds at most llr_cap
        ([0, 3, 3, 3, 3], [(1, None, 2)]),  # still anomalous at the end: ongoing
        ([0, 3, 3, -3, 1, -3, -3, -3], [(1, 5, 2)]),  # hysteresis: a dip does not end it
        ([2, 2, -3, 3, 3, -3, -3, -3], [(0, 5, 4)]),  # onset: the last time belief left zero
    ],
)
def test_belief_runs_open_close_and_onset(
    llrs: list[float], expected: list[tuple[int, int | None, int]]
) -> None:
    assert runs_of(llrs) == expected


def steady(probes: int, n: int) -> npt.NDArray[np.float64]:
    return np.full((1, n), float(probes))


def test_silence_finds_a_cut_within_two_rounds_and_its_end() -> None:
    up = steady(8, DAY + 60)
    up[0, DAY + 20 : DAY + 40] = 0
    (run,) = detect_silence(up, up, TH, day=DAY)
    assert run.start == DAY + 20
    assert run.opened - run.start <= 2
    assert run.end == DAY + 40


def test_silence_ignores_slow_decline_and_one_missing_probe() -> None:
    up = steady(10, 3 * DAY)
    up[0, DAY:] = np.linspace(10, 4, 2 * DAY)  # volunteers leave over two days
    up[0, DAY + 50] = 9
    assert detect_silence(up, up, TH, day=DAY) == []


def test_silence_learns_the_daily_sleep_but_still_sees_a_cut_at_night() -> None:
    n = 4 * DAY
    up = steady(6, n)
    for d in range(4):  # four of six probes sleep six hours every night, all at once
        up[0, d * DAY + 200 : d * DAY + 272] = 2
    cut = 3 * DAY + 100
    up[0, cut : cut + 12] = 0
    runs = [r for r in detect_silence(up, up, TH, day=DAY) if r.start >= DAY]
    assert [(r.start, r.end) for r in runs] == [(cut, cut + 12)]


def test_silence_needs_min_probes() -> None:
    up = steady(1, DAY + 40)
    up[0, DAY + 10 :] = 0
    assert detect_silence(up, up, TH, day=DAY) == []


def test_failures_open_on_blocking_not_on_background() -> None:
    n = 200
    rng = np.random.default_rng(7)
    measured = np.full((2, n), 6.0)
    failed = rng.binomial(6, 0.02, size=(2, n)).astype(np.float64)
    failed[1, 120:150] = 6
    usable = np.ones((2, n), dtype=bool)
    runs = detect_failures(failed, measured, usable, TH)
    assert [(r.series, r.start, r.end) for r in runs] == [(1, 120, 150)]


def test_failures_when_controls_fail_say_nothing() -> None:
    measured = np.full((1, 100), 6.0)
    failed = np.zeros((1, 100))
    failed[0, 40:60] = 6
    usable = np.ones((1, 100), dtype=bool)
    usable[0, 40:60] = False
    assert detect_failures(failed, measured, usable, TH) == []


def test_first_day_silence_is_seen_while_it_lasts() -> None:
    """Without a day of history a cut on the first day must still build evidence.

    (Regression: the seasonal window used this day's last buckets as "yesterday", so one
    silent bucket made the next ones expect silence and a live shutdown was never opened.)
    """
    up = np.full((1, 60), 3.0)
    up[0, 20:40] = 0
    th = Thresholds(step_s=4, warmup_s=0, settle_s=4)
    (run,) = detect_silence(up, up, th, day=21600)
    assert (run.start, run.end) == (20, 40)
    assert run.opened - run.start <= 2


@pytest.mark.parametrize("at", [DAY // 2, 2 * DAY])  # on the first day and later
def test_a_cut_of_a_network_of_just_two_probes_is_found(at: int) -> None:
    """Two probes are the least evidence we accept; the level learning during the first silent
    bucket must not lower the bar below them and hide the cut."""
    heard = steady(2, 3 * DAY)
    heard[0, at : at + 24] = 0
    runs = detect_silence(heard, heard, TH, day=DAY)
    assert [(r.start, r.end) for r in runs] == [(at, at + 24)]
    assert runs[0].opened - at <= 3
    one = steady(1, 3 * DAY)
    one[0, at : at + 24] = 0
    assert detect_silence(one, one, TH, day=DAY) == []  # one probe alone never is


def test_seasonal_expectations_for_every_bucket_equal_the_stepwise_memory() -> None:
    rng = np.random.default_rng(7)
    for _ in range(10):
        n_t, n_s, day = int(rng.integers(1, 160)), int(rng.integers(1, 5)), int(rng.integers(8, 30))
        heard = rng.integers(0, 4, (n_t, n_s)).astype(float)
        heard[: int(rng.integers(0, n_t)), 0] = 0  # a series heard only later
        memory = SeasonalMemory(n_s, day)
        typical, least = expectations(heard, day)
        known = np.zeros(n_s, bool)
        for t in range(n_t):
            want_typical, want_least = memory.expected(t)
            assert np.array_equal(typical[t], want_typical)
            assert np.array_equal(least[t], want_least)
            known |= heard[t] > 0
            memory.learn(t, heard[t], known)


def test_a_sparse_series_adds_up_failures_hours_apart_a_dense_one_does_not() -> None:
    """OONI measurements come when users run the app: one an hour is the series' normal
    cadence, so the hours between its failures are no silence (rule 7) and do not fade it."""
    n = 3 * DAY
    measured, failed = np.zeros((2, n)), np.zeros((2, n))
    measured[:, ::12] = 1.0  # one measurement an hour, both series
    block = 2 * DAY
    failed[:, block::12] = 1.0  # every measurement fails from day 3
    usable = np.ones((2, n), dtype=bool)
    sparse = np.array([True, False])
    runs = detect_failures(failed, measured, usable, TH, sparse=sparse)
    assert [(r.series, r.start) for r in runs] == [(0, block)]
    # by the sixth failing hour: each failure adds up to 1.7 (less as the background rate
    # learns them), each hour between two takes 0.5 x 11/12; the dense series loses 5.5
    assert block + 3 * 12 <= runs[0].opened <= block + 5 * 12


def test_a_sparse_series_learns_a_flaky_background_from_its_first_rounds() -> None:
    """A target failing 40% of the time from a busy user's first runs (one every 10 minutes)
    is its background, not a block: the failure rate starts from the mean of the series'
    first measured rounds (from the floor of 2%, learning a day's worth per round, 5 of
    these 10 histories opened a run)."""
    n = 10 * DAY
    measured = np.zeros((1, n))
    measured[0, ::2] = 1.0
    usable = np.ones((1, n), dtype=bool)
    for seed in range(10):
        failed = measured * (np.random.default_rng(seed).random((1, n)) < 0.4)
        assert detect_failures(failed, measured, usable, TH, sparse=np.array([True])) == []


Array2 = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


def _network(
    seed: int, n: int, share: float, blocked: set[int], later: int | None, every: int = 6
) -> Array2:
    """16 sparse series of one network, measured every ``every`` buckets (6: two runs an hour),
    each failing ``share`` of the time; those in ``blocked`` fail always, series 0 from
    ``later``."""
    rng = np.random.default_rng(seed)
    measured = np.zeros((16, n))
    measured[:, ::every] = 1.0
    failed = measured * (rng.random((16, n)) < share)
    for s in blocked:
        failed[s] = measured[s]
    if later is not None:
        failed[0, later:] = measured[0, later:]
    return measured, failed


def test_a_network_flaky_for_every_target_is_no_block_from_its_first_day() -> None:
    """A lossy link: all 16 targets fail 40% of the time from the first measurement, a run
    every 15 minutes. With the floor as every series' prior, 7 runs opened in these 6 two-day
    histories; the network's lower-quartile rate as the prior (pooled.py) knows it is the
    background."""
    n = 2 * DAY
    usable = np.ones((16, n), dtype=bool)
    sparse, pool = np.ones(16, dtype=bool), np.zeros(16, dtype=np.int64)
    alone = 0
    for seed in range(6):
        measured, failed = _network(seed, n, 0.4, set(), None, every=3)
        assert detect_failures(failed, measured, usable, TH, sparse=sparse, pool=pool) == []
        alone += len(detect_failures(failed, measured, usable, TH, sparse=sparse))
    assert alone > 0  # the same histories, each series on its own prior: runs opened


def test_a_new_block_on_a_network_that_blocks_most_of_its_list_is_still_found() -> None:
    """10 of 16 targets blocked for good (a heavily censored test list), then series 0 blocked
    from day 4: the lower quartile of the network's rates stays the unblocked targets', so the
    new block opens, and so do the old ones from the first measurements."""
    n = 6 * DAY
    usable = np.ones((16, n), dtype=bool)
    sparse, pool = np.ones(16, dtype=bool), np.zeros(16, dtype=np.int64)
    old = set(range(6, 16))
    measured, failed = _network(1, n, 0.05, old, 3 * DAY)
    runs = detect_failures(failed, measured, usable, TH, sparse=sparse, pool=pool)
    assert {r.series for r in runs} == old | {0}, runs
    (new,) = [r for r in runs if r.series == 0]
    assert new.start >= 3 * DAY
    assert new.opened <= 3 * DAY + 12 * 6
