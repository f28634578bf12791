"""The detector on synthetic histories: recall and precision on a mixed set, silence on noise."""

from __future__ import annotations

from datetime import timedelta

from synth.history import STEP_S, WARMUP, History, score
from synth.legacy import World, generate

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
