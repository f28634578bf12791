"""The detector on synthetic histories: recall and precision on a mixed set, silence on noise."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
from synth import volunteers
from synth.history import STEP_S, WARMUP, History, score
from synth.legacy import World, generate
from synth.replay import ArrivedGrids, grid_of_records

from collector.anomaly.classify import Detection, detect
from collector.anomaly.series import build_grid
from collector.anomaly.thresholds import Thresholds


def detections(history: History, *, realtime: bool) -> list[Detection]:
    verdicts, heartbeats = history.realtime() if realtime else history.view()
    until = history.since + timedelta(seconds=history.n_times * STEP_S)
    grid = build_grid(verdicts, heartbeats, since=history.since, until=until, step_s=STEP_S)
    return detect(grid, Thresholds(), judge_from=WARMUP, hindsight=not realtime)


def test_mixed_events_are_found_with_short_delay() -> None:
    history = generate(World(), days=2, events=12, seed=11)
    for realtime in (True, False):
        result = score(history, detections(history, realtime=realtime))
        assert result.truths == 12
        assert result.recall >= 0.95 and result.precision >= 0.95, result
        assert result.median_delay <= 2
        assert result.method_hits == result.method_total


def test_noise_alone_raises_nothing() -> None:
    history = generate(World(), days=3, events=0, seed=5)
    assert detections(history, realtime=True) == []
    assert detections(history, realtime=False) == []


def test_replay_grids_equal_the_store_buckets_pivoted() -> None:
    """The watcher replay builds each cycle's grid from the records arrived by then; it must
    equal build_grid over the buckets a store holding those records would answer."""
    history = volunteers.generate(days=1, events=2, seed=3)
    grids = ArrivedGrids(history, Path("/nonexistent"))
    for lo, hi, arrived_by in ((100, 400, 350), (0, 200, 150), (300, 500, 900)):
        since = history.since + timedelta(seconds=lo * STEP_S)
        until = history.since + timedelta(seconds=hi * STEP_S)
        verdicts, heartbeats = history.view(arrived_by=arrived_by)
        want = build_grid(verdicts, heartbeats, since=since, until=until, step_s=STEP_S)
        got = grid_of_records(grids, lo, hi, arrived_by, since)
        assert (got.leaves, got.pairs, got.n_times) == (want.leaves, want.pairs, want.n_times)
        for name in (
            "heard",
            "offline",
            "verdicts",
            "control_ok",
            "beats",
            "bad",
            "cut",
            "accessible",
            "blocked",
            "inconclusive",
            "probes",
        ):
            assert np.array_equal(getattr(got, name), getattr(want, name), equal_nan=True), name
        assert (got.methods, got.reasons) == (want.methods, want.reasons)
