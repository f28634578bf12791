"""Evaluate the anomaly detector on synthetic histories: precision, recall, onset delay, methods.

python bench/anomaly_eval.py [--seeds N] [--days D] [--events E] [--noise-days D]
Goals (docs/anomaly.md): recall and precision >= 0.95 on a mixed set, median onset delay <= 2
rounds, no event at all on 30 days of noise.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from collector.anomaly.classify import Detection, detect
from collector.anomaly.series import build_grid
from collector.anomaly.settings import Thresholds
from collector.anomaly.synth import STEP_S, WARMUP, History, Score, World, generate, score


def run_detector(history: History, *, realtime: bool, th: Thresholds) -> list[Detection]:
    verdicts, heartbeats = history.realtime() if realtime else history.view()
    until = history.since + timedelta(seconds=history.n_times * STEP_S)
    grid = build_grid(verdicts, heartbeats, since=history.since, until=until, step_s=STEP_S)
    return detect(grid, th, judge_from=WARMUP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--events", type=int, default=28)
    parser.add_argument("--noise-days", type=float, default=30)
    args = parser.parse_args()
    th = Thresholds()
    world = World()
    totals: dict[str, list[Score]] = {"realtime": [], "backfilled": []}
    for seed in range(args.seeds):
        history = generate(world, days=args.days, events=args.events, seed=seed)
        for view, scores in totals.items():
            found = run_detector(history, realtime=view == "realtime", th=th)
            scores.append(score(history, found))
            if view == "realtime":
                _explain(history, found, seed)
    for view, scores in totals.items():
        truths = sum(s.truths for s in scores)
        dets = sum(s.detections for s in scores)
        tp = sum(s.true_positives for s in scores)
        hits = sum(s.found for s in scores)
        delays = sorted(d for s in scores for d in s.onset_delays)
        mh = sum(s.method_hits for s in scores)
        mt = sum(s.method_total for s in scores)
        sh = sum(s.scope_hits for s in scores)
        print(
            f"{view:10s} events={truths} detections={dets} precision={tp / max(dets, 1):.3f} "
            f"recall={hits / max(truths, 1):.3f} "
            f"median_onset_delay={delays[len(delays) // 2] if delays else 0} rounds "
            f"p90_delay={delays[int(len(delays) * 0.9)] if delays else 0} "
            f"method_accuracy={mh / max(mt, 1):.3f} scope_accuracy={sh / max(hits, 1):.3f} "
            f"extra_detections_of_found_events={tp - hits}"
        )
    began = time.perf_counter()
    noise = generate(world, days=args.noise_days, events=0, seed=1000)
    alarms = run_detector(noise, realtime=True, th=th) + run_detector(noise, realtime=False, th=th)
    print(
        f"noise: {args.noise_days:g} days, {len(alarms)} events "
        f"({time.perf_counter() - began:.1f} s incl. generation)"
    )
    for det in alarms:
        print("  false alarm:", det.kind, det.scope, det.target, det.start, det.evidence)


def _explain(history: History, found: list[Detection], seed: int) -> None:
    """Print misses and false alarms so a regression can be read, not guessed."""
    from collector.anomaly.synth import _matches

    for truth in history.truths:
        if not any(_matches(history, truth, d) for d in found):
            print(f"  seed {seed} missed: {truth}")
    for det in found:
        if not any(_matches(history, t, det) for t in history.truths):
            s = int((det.start - history.since).total_seconds()) // STEP_S
            print(f"  seed {seed} false: {det.kind} {det.scope} {det.target} @{s} {det.evidence}")


if __name__ == "__main__":
    main()
