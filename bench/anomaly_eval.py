"""Evaluate the anomaly detector on labelled synthetic histories, against a fixed threshold.

python bench/anomaly_eval.py [--seeds 0-4] [--days 7] [--events 14] [--noise-days 30] [--legacy]
                             [--timelines]
                             [--quick] [--views scan,watch] [--perturb]
                             [--watch-days D] [--lookback-h 24] [--no-baseline]

Two views per history (docs/anomaly.md, "Figures"): ``scan``, everything backfilled, as
``tyndau anomaly scan`` sees history; ``watch``, the real watcher (``Watcher.cycle``) replayed
once per round against a store holding only the records that had arrived by then
(``synth/replay.py``): its pages, first-page latency in rounds after onset. ``--quick`` (and
the legacy set, which has no per-record upload times) replaces the replay by ``watch~``: one
detection over each bucket as it stood a round after it, without hindsight (minutes faster).
``--perturb`` runs the same with each realism knob of the generator halved and doubled
(``synth/perturb.py``) and prints one table row per variant and view.
Goals: recall and precision >= 0.95, median onset <= 2 rounds, 0 events in 30 noise-only days;
a cut of every probe of a group paged within 2 rounds (printed apart: "whole-group cuts").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # tests/support is not installed

import numpy as np
from synth import legacy, perturb, timelines, volunteers
from synth.history import STEP_S, WARMUP, Score, index_of, matches, score
from synth.replay import replay

from collector.anomaly.classify import Detection, detect
from collector.anomaly.series import Grid, build_grid
from collector.anomaly.settings import AnomalySettings
from collector.anomaly.thresholds import Thresholds
from collector.records import EventKind, Scope


def grid_of(history: Any, *, realtime: bool) -> Grid:
    verdicts, heartbeats = history.realtime() if realtime else history.view()
    until = history.since + timedelta(seconds=history.n_times * STEP_S)
    return build_grid(verdicts, heartbeats, since=history.since, until=until, step_s=STEP_S)


def baseline(grid: Grid) -> list[Detection]:
    """A fixed-threshold detector: a leaf with half its usual probes silent for 3 rounds is a
    shutdown; a pair failing >= 50% for 3 rounds is blocking (dominant method), or a platform
    outage when it fails in two countries at once. No learning beyond a day's median."""
    out: list[Detection] = []
    day = 86400 // STEP_S
    up = grid.up()
    for s, (cc, asn, net) in enumerate(grid.leaves):
        usual = np.array([np.median(up[s, max(0, t - day) : t + 1]) for t in range(grid.n_times)])
        low = (up[s] < 0.5 * usual) & (usual >= 2)
        out += _runs(grid, low[WARMUP:], EventKind.SHUTDOWN, Scope(cc, asn, net), None, None)
    failed = grid.blocked + grid.inconclusive
    measured = failed + grid.accessible
    share = np.divide(failed, measured, out=np.zeros_like(failed), where=measured > 0)
    high = (share >= 0.5) & (measured >= 2)
    by_target: dict[str, list[Detection]] = {}
    for p, (leaf, target) in enumerate(grid.pairs):
        cc, asn, net = grid.leaves[leaf]
        methods: dict[str, int] = {}
        for (pp, _t), counts in grid.methods.items():
            if pp == p:
                for k, v in counts.items():
                    methods[k] = methods.get(k, 0) + v
        method = max(methods, key=lambda k: methods[k]) if methods else None
        kind = EventKind.THROTTLING if method == "throttled" else EventKind.BLOCKING
        dets = _runs(grid, high[p, WARMUP:], kind, Scope(cc, asn, net), target, method)
        by_target.setdefault(target, []).extend(dets)
    for dets in by_target.values():
        countries = {d.scope.cc for d in dets}
        for d in dets:
            twins = {e.scope.cc for e in dets if abs((e.start - d.start).total_seconds()) < 900}
            if len(twins) >= 2 and len(countries) >= 2:
                out.append(
                    replace(d, kind=EventKind.PLATFORM_OUTAGE, scope=Scope("*"), method=None)
                )
            else:
                out.append(d)
    return out


def _runs(
    grid: Grid, flags: Any, kind: EventKind, scope: Scope, target: str | None, method: str | None
) -> list[Detection]:
    out = []
    run = 0
    for i, flag in enumerate([*flags.tolist(), False]):
        if flag:
            run += 1
            continue
        if run >= 3:
            t = WARMUP + i
            start, end, opened = grid.time(t - run), grid.time(t), grid.time(t - run + 2)
            out.append(Detection(kind, scope, target, method, start, end, opened, 0.9))
        run = 0
    return out


def evaluate_set(
    name: str,
    histories: list[Any],
    th: Thresholds,
    *,
    verbose: bool,
    views: tuple[str, ...],
    lookback_s: int = 0,
    baseline_too: bool = True,
    watch_days: float | None = None,
) -> dict[str, list[Score]]:
    names = (*views, "baseline scan") if baseline_too else views
    scores: dict[str, list[Score]] = {view: [] for view in names}
    for seed, history in histories:
        for view in views:
            label = f"{name} seed {seed}"
            found = found_in(
                history, th, view, label=label, lookback_s=lookback_s, watch_days=watch_days
            )
            scores[view].append(
                score(within(history, watch_days if view == "watch" else None), found)
            )
            if verbose:
                _explain(history, found, f"{name} seed {seed} {view}")
            if view == "scan" and baseline_too:
                grid = grid_of(history, realtime=False)
                scores["baseline scan"].append(score(history, baseline(grid)))
    return scores


def within(history: Any, days: float | None) -> Any:
    """The history with only the truths a replay of its first ``days`` could page: begun an
    hour or more before the replay's end (all of them when ``days`` is None)."""
    if days is None:
        return history
    last = WARMUP + int(days * 86400) // STEP_S - 12
    return replace(history, truths=[t for t in history.truths if t.start < last])


LOOKBACK_S = AnomalySettings().lookback_s  # the replayed watcher's (--lookback-h): 24 h
WHOLE_GOAL = 2  # rounds after onset: a cut of every probe of a group is paged by then


def found_in(
    history: Any,
    th: Thresholds,
    view: str,
    *,
    label: str,
    lookback_s: int = LOOKBACK_S,
    watch_days: float | None = None,
) -> list[Detection]:
    """What a view reports: the scan's detections, the approximation's, or the watcher's pages."""
    if view == "watch":
        began = time.perf_counter()

        def progress(done: int, total: int) -> None:
            print(
                f"  {label} watch replay: day {done // 288 + 1} of {-(-total // 288)} "
                f"({time.perf_counter() - began:.0f} s)",
                file=sys.stderr,
                flush=True,
            )

        result = replay(history, th, lookback_s=lookback_s, days=watch_days, progress=progress)
        if result.notices:
            print(f"  {label} watch: {len(result.notices)} events only ever sent as resolved")
        return result.pages
    grid = grid_of(history, realtime=view == "watch~")
    return detect(grid, th, judge_from=WARMUP, hindsight=view == "scan")


@dataclass(frozen=True, slots=True)
class Totals:
    """One view's figures over several histories."""

    truths: int
    detections: int
    precision: float
    recall: float
    median: float
    p90: int
    whole: int  # found whole-group cuts (synth.history.Truth.whole)
    whole_median: float
    whole_p90: int
    kind_acc: float
    method_acc: float
    scope_acc: float


def totals(rows: list[Score]) -> Totals:
    dets = sum(s.detections for s in rows)
    truths = sum(s.truths for s in rows)
    hits = sum(s.found for s in rows)
    delays = sorted(d for s in rows for d in s.onset_delays)
    whole = sorted(d for s in rows for d in s.whole_delays)
    mh, mt = sum(s.method_hits for s in rows), sum(s.method_total for s in rows)
    kh, kt = sum(s.kind_hits for s in rows), sum(s.kind_total for s in rows)
    return Totals(
        truths=truths,
        detections=dets,
        precision=sum(s.true_positives for s in rows) / max(dets, 1),
        recall=hits / max(truths, 1),
        median=statistics.median(delays) if delays else 0,
        p90=delays[int(len(delays) * 0.9)] if delays else 0,
        whole=len(whole),
        whole_median=statistics.median(whole) if whole else 0,
        whole_p90=whole[int(len(whole) * 0.9)] if whole else 0,
        kind_acc=kh / max(kt, 1),
        method_acc=mh / max(mt, 1),
        scope_acc=sum(s.scope_hits for s in rows) / max(hits, 1),
    )


def report(name: str, scores: dict[str, list[Score]]) -> None:
    for view, rows in scores.items():
        t = totals(rows)
        print(
            f"{name:10s} {view:14s} events={t.truths} detections={t.detections} "
            f"precision={t.precision:.3f} recall={t.recall:.3f} "
            f"onset median={t.median:g} p90={t.p90} rounds "
            f"(whole-group cuts: {t.whole}, median={t.whole_median:g} p90={t.whole_p90}) "
            f"kind_acc={t.kind_acc:.3f} "
            f"method_acc={t.method_acc:.3f} scope_acc={t.scope_acc:.3f}"
        )


def perturbed(
    args: argparse.Namespace, th: Thresholds, views: tuple[str, ...], lookback_s: int
) -> None:
    """Every realism knob halved and doubled (``synth/perturb.py``): one table row per
    variant and view, with the false events of the variant's noise-only history."""
    print("| variant | view | events | precision | recall | onset median / p90 | noise events |")
    print("|---|---|---|---|---|---|---|")
    for label, realism in perturb.variants():
        histories = [
            (s, volunteers.generate(days=args.days, events=args.events, seed=s, realism=realism))
            for s in seeds_of(args.seeds)
        ]
        scores = evaluate_set(
            label,
            histories,
            th,
            verbose=args.verbose,
            views=views,
            lookback_s=lookback_s,
            baseline_too=False,
            watch_days=args.watch_days,
        )
        noise = None
        if args.noise_days > 0:
            noise = volunteers.generate(days=args.noise_days, events=0, seed=1000, realism=realism)
        for view in views:
            t = totals(scores[view])
            days = args.watch_days if view == "watch" else None
            alarms = "-"
            if noise is not None:
                found = found_in(
                    noise, th, view, label="noise", lookback_s=lookback_s, watch_days=days
                )
                alarms = f"{len(found)} in {days or args.noise_days:g} days"
            print(
                f"| {label} | {view} | {t.truths} | {t.precision:.3f} | {t.recall:.3f} | "
                f"{t.median:g} / {t.p90} | {alarms} |",
                flush=True,
            )


def _explain(history: Any, found: list[Detection], label: str) -> None:
    for truth in history.truths:
        hits = [d for d in found if matches(history, truth, d)]
        if not hits:
            print(f"  {label} missed: {truth}")
            continue
        first = min(hits, key=lambda d: d.opened)
        late = index_of(first.opened, history.since) - truth.start
        if truth.whole and late > WHOLE_GOAL:  # the goal of the whole-group cuts' line
            print(f"  {label} late by {late}: {truth} paged as {first.kind} {first.scope}")
    for det in found:
        if not any(matches(history, t, det) for t in history.truths):
            s = index_of(det.start, history.since)
            evidence = {k: v for k, v in det.evidence.items() if k != "leaves"}
            print(
                f"  {label} false: {det.kind} {det.scope} {det.target} {det.method} @{s} {evidence}"
            )


def seeds_of(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0-4", help="a range, e.g. 0-4 (tuning) or 5-9")
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--events", type=int, default=14)
    parser.add_argument("--noise-days", type=float, default=30)
    parser.add_argument("--legacy", action="store_true", help="also the first generator's set")
    parser.add_argument(
        "--timelines",
        action="store_true",
        help="also the timelines set (real events at their hours, another population model)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print misses, false events and whole-group cuts paged late",
    )
    parser.add_argument(
        "--watch-days", type=float, help="replay the watcher over the first days only (time)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the fixed threshold")
    parser.add_argument(
        "--perturb",
        action="store_true",
        help="every realism knob halved and doubled: P/R/noise per variant (a table)",
    )
    parser.add_argument("--views", default="scan,watch", help="which views, e.g. scan or watch")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="approximate the watcher (watch~) instead of replaying it",
    )
    parser.add_argument(
        "--lookback-h",
        type=float,
        default=LOOKBACK_S / 3600,
        help="the replayed watcher's lookback (hours; warm-up comes on top)",
    )
    args = parser.parse_args()
    lookback_s = int(args.lookback_h * 3600)
    views = tuple(
        "watch~" if v == "watch" and args.quick else v for v in args.views.split(",") if v
    )
    th = Thresholds()
    began = time.perf_counter()
    if args.perturb:
        perturbed(args, th, views, lookback_s)
        print(f"({time.perf_counter() - began:.0f} s)")
        return
    seeds = seeds_of(args.seeds)
    histories = [
        (s, volunteers.generate(days=args.days, events=args.events, seed=s)) for s in seeds
    ]

    def family(name: str, of_seeds: list[Any]) -> None:
        kept = evaluate_set(
            name,
            of_seeds,
            th,
            verbose=args.verbose,
            views=views,
            lookback_s=lookback_s,
            baseline_too=not args.no_baseline,
            watch_days=args.watch_days,
        )
        report(name, kept)

    family("volunteers", histories)
    if args.legacy:
        world = legacy.World()
        old = [(s, legacy.generate(world, days=7, events=28, seed=s)) for s in seeds]
        report(
            "legacy",
            evaluate_set(
                "legacy",
                old,
                th,
                verbose=args.verbose,
                views=("scan", "watch~"),
                baseline_too=not args.no_baseline,
            ),
        )
    if args.timelines:
        real = [(s, timelines.generate(seed=s, days=max(args.days, timelines.DAYS))) for s in seeds]
        family("timelines", real)
    if args.noise_days > 0:
        noise = volunteers.generate(days=args.noise_days, events=0, seed=1000)
        for view in views:
            days = args.watch_days if view == "watch" else None
            alarms = found_in(
                noise, th, view, label="noise", lookback_s=lookback_s, watch_days=days
            )
            scan = view == "scan" and not args.no_baseline
            base = len(baseline(grid_of(noise, realtime=False))) if scan else "-"
            print(
                f"noise      {view:14s} {days or args.noise_days:g} days: {len(alarms)} events; "
                f"baseline: {base}",
                flush=True,
            )
            for det in alarms:
                s = index_of(det.start, noise.since)
                print(f"  false: {det.kind} {det.scope} {det.target} @{s} {det.evidence}")
    print(f"({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
