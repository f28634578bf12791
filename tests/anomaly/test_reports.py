"""Judging imported reports by the test list's other sites (collector/anomaly/reports.py)."""

from __future__ import annotations

import numpy as np

from collector.anomaly.reports import MIN_OTHERS, reports_bad

INF = np.inf


def _case(
    platform: list[float], sites: list[list[float]], platform_ok: float = 0.0
) -> tuple[list[int], np.ndarray, list[int], np.ndarray, np.ndarray]:
    """One leaf (0), one bucket: a platform pair, then the other sites (failures; INF: not
    measured), each also a pair (accessible 1 where measured and not failed)."""
    other_failed = np.array(sites, dtype=np.float64)
    failed = np.vstack([np.array([platform]), np.where(np.isfinite(other_failed), other_failed, 0)])
    accessible = np.vstack(
        [np.array([[platform_ok]]), np.where(np.isfinite(other_failed) & (other_failed == 0), 1, 0)]
    )
    return [0] * len(sites), other_failed, [0] * (len(sites) + 1), accessible, failed


def test_a_report_whose_every_target_failed_is_the_users_network() -> None:
    bad, beats = np.zeros((1, 1)), np.zeros((1, 1))
    leaf, other, pairs, acc, failed = _case([1.0], [[1.0]] * MIN_OTHERS)
    assert reports_bad(bad, beats, leaf, other, pairs, acc, failed)[0, 0] == 1.0


def test_one_target_that_worked_shows_the_network_did() -> None:
    bad, beats = np.zeros((1, 1)), np.zeros((1, 1))
    # every other site failed (a list of blocked sites), the platform loaded
    leaf, other, pairs, acc, failed = _case([0.0], [[1.0]] * MIN_OTHERS, platform_ok=1.0)
    assert reports_bad(bad, beats, leaf, other, pairs, acc, failed)[0, 0] == 0.0
    # one other site loaded, the platform failed: a block, not a broken network
    leaf, other, pairs, acc, failed = _case([1.0], [[1.0]] * MIN_OTHERS + [[0.0]])
    assert reports_bad(bad, beats, leaf, other, pairs, acc, failed)[0, 0] == 0.0


def test_too_few_sites_or_a_leaf_with_heartbeats_is_not_judged() -> None:
    bad = np.zeros((1, 1))
    few = _case([1.0], [[1.0]] * (MIN_OTHERS - 1) + [[INF]] * 3)
    assert reports_bad(bad, np.zeros((1, 1)), *few)[0, 0] == 0.0
    enough = _case([1.0], [[1.0]] * MIN_OTHERS)
    # our probes send heartbeats: their own controls judge them (series._bad_and_cut)
    assert reports_bad(bad, np.ones((1, 1)), *enough)[0, 0] == 0.0
