"""Target-failure detections: blocking, throttling, and platform outages.

A pair (one platform target seen from one leaf) fails when its failures rise far above its
background rate, after per-probe control judging. The same target failing with the same onset
in several countries is the platform's own outage, not censorship (OONI's cross-vantage
reasoning; DESIGN.md decision 4). docs/anomaly.md, "Blocking, throttling, platform outage".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from collector.anomaly.detect import SESSION_GAP, Run, detect_failures
from collector.anomaly.grouping import (
    EVERYWHERE,
    LOOKBACK,
    ONSET_SLACK,
    Detection,
    Item,
    active_leaves,
    by_country,
    clusters,
    detections,
    dominant,
    end_of,
    judged,
    merge_evidence,
    onset_groups,
)
from collector.anomaly.series import Grid
from collector.anomaly.thresholds import Thresholds
from collector.records import EventKind


def failures(grid: Grid, th: Thresholds, judge_from: int) -> list[Detection]:
    leaf_of = np.array([leaf for leaf, _ in grid.pairs], dtype=np.int64)
    measured = _PairCounts(grid, leaf_of, failed=False)
    failed = _PairCounts(grid, leaf_of, failed=True)
    usable = np.broadcast_to(np.True_, measured.shape)  # a view: no array of its own
    # rule 7: vantages without heartbeats (imported OONI measurements) are measured when
    # their users run a test, not every round (detect_failures: their evidence fades slower)
    heartbeats = np.asarray(np.asarray(grid.beats).sum(axis=1) > 0, dtype=np.bool_)
    sparse = ~heartbeats[leaf_of]
    by_target: dict[str, list[Item]] = {}
    pool = np.where(sparse, leaf_of, -1)  # a sparse pair's prior starts from its network's
    runs = detect_failures(failed, measured, usable, th, sparse=sparse, pool=pool)
    for run in judged(runs, judge_from):
        p, end = run.series, end_of(run, grid)
        probes = int(grid.probes[p, run.start : end].max())
        failing = _failing(grid, failed, p, run.start, end, sparse=bool(sparse[p]))
        if end - run.start < th.min_rounds:
            continue  # min_probes is asked of all the groups failing together (_enough)
        methods: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for t in range(run.start, end):
            methods.update(grid.methods.get((p, t), {}))
            reasons.update(grid.reasons.get((p, t), {}))
        evidence = {
            "rounds": end - run.start,
            "probes": probes,
            "measured": int(measured[p, run.start : end].sum()),
            "blocked": int(grid.blocked[p, run.start : end].sum()),
            "inconclusive": int(grid.inconclusive[p, run.start : end].sum()),
            "methods": dict(methods),
            "reasons": dict(reasons),
        }
        by_target.setdefault(grid.pairs[p][1], []).append(Item(p, run, evidence, failing))
    out: list[Detection] = []
    for target, items in sorted(by_target.items()):
        out += _target_detections(grid, th, target, items, leaf_of)
    return out


def _failing(grid: Grid, failed: _PairCounts, p: int, start: int, end: int, *, sparse: bool) -> int:
    """Distinct probes failing behind a pair's run: the most in one round. Without heartbeats
    (imported OONI data) each report is a "probe" of its own (collector/ooni/ids.py), and one
    user on a bad network runs the test again and again: their failing reports within
    SESSION_GAP of each other are one session, and the sessions are added (the most failing
    in one round of each), so failures from one sitting never make an event alone."""
    if not sparse:
        return int(np.asarray(failed[p, start:end]).max())
    rows = np.minimum(failed[p, start:end], np.asarray(grid.probes[p, start:end], np.float64))
    total, best, last = 0.0, 0.0, -SESSION_GAP - 1
    for t in np.flatnonzero(rows > 0).tolist():
        if t - last > SESSION_GAP:
            total, best = total + best, 0.0
        best, last = max(best, float(rows[t])), t
    return int(total + best)


class _PairCounts:
    """Measured or failed verdicts per pair and bucket, computed for the rows and buckets
    asked (``[rows, buckets]``, as numpy indexes them), so no pair x time copy is kept (a
    month of 1,000 pairs is 69 MB an array; detect_failures reads 256 buckets at a time).

    Per-probe control judging: a probe whose own international controls all failed this
    round contributes nothing (each such probe takes one failed verdict out of the pair)."""

    def __init__(self, grid: Grid, leaf_of: Any, *, failed: bool) -> None:
        self.grid, self.leaf_of, self.failed = grid, leaf_of, failed
        self.shape = (len(leaf_of), grid.n_times)

    def __getitem__(self, key: tuple[Any, Any]) -> Any:
        rows, buckets = key
        grid = self.grid
        bad = grid.bad[self.leaf_of[rows], buckets]
        raw_failed = grid.blocked[rows, buckets] + grid.inconclusive[rows, buckets]
        measured = np.maximum(raw_failed + grid.accessible[rows, buckets] - bad, 0.0)
        if not self.failed:
            return measured
        return np.minimum(np.maximum(raw_failed - bad, 0.0), measured)


def _target_detections(
    grid: Grid, th: Thresholds, target: str, items: list[Item], leaf_of: Any
) -> list[Detection]:
    as_leaf = [Item(int(leaf_of[i.leaf]), i.run, i.evidence, i.failing) for i in items]
    pair_rows = [p for p, (_, name) in enumerate(grid.pairs) if name == target]
    seen = grid.accessible[pair_rows] + grid.blocked[pair_rows] + grid.inconclusive[pair_rows]
    countries = [grid.leaves[int(leaf_of[p])][0] for p in pair_rows]

    def measuring(start: int) -> set[str]:
        """The countries that measured ``target`` in the LOOKBACK rounds from ``start``."""
        span = seen[:, start : start + LOOKBACK].sum(axis=1)
        return {cc for cc, n in zip(countries, span.tolist(), strict=True) if n > 0}

    outages, local = _outages(grid, th, as_leaf, measuring)
    out: list[Detection] = []
    for group in outages:
        if _enough(group, th):
            out += detections(
                grid, EventKind.PLATFORM_OUTAGE, EVERYWHERE, group, set(), target, None
            )
    for cc, group in by_country(grid, local).items():
        for cluster in clusters(group):
            if not _enough(cluster, th):
                continue
            actions = _actions(grid, th, cluster)
            for part in actions:
                out += _local_detections(
                    grid, th, cc, target, part, pair_rows, leaf_of, alone=len(actions) == 1
                )
    return out


def _local_detections(
    grid: Grid,
    th: Thresholds,
    cc: str,
    target: str,
    part: list[Item],
    pair_rows: list[int],
    leaf_of: Any,
    *,
    alone: bool,
) -> list[Detection]:
    """One country's blocking or throttling of ``target`` (runs of one action), or nothing:
    failures mostly inconclusive, or of mixed kinds."""
    healthy = grid.accessible

    def fine(min_probes: int) -> set[int]:
        return active_leaves(
            healthy, pair_rows, grid, cc, part, min_probes=min_probes, leaf_of=leaf_of
        )

    evidence = merge_evidence([i.evidence for i in part])
    method = dominant(evidence["methods"])
    if evidence["inconclusive"] > evidence["blocked"]:
        # the control endpoint cannot reach it either: not censorship, and one country
        # alone never makes a platform outage (that needs min_countries)
        return []
    if method is None or evidence["methods"][method] < th.method_share * evidence["blocked"]:
        return []  # failures of mixed kinds: background noise, not one censor's action
    kind = EventKind.THROTTLING if method == "throttled" else EventKind.BLOCKING
    active = fine(th.min_probes)
    return detections(grid, kind, cc, part, active, target, method, witnesses=fine(1), alone=alone)


def _actions(grid: Grid, th: Thresholds, cluster: list[Item]) -> list[list[Item]]:
    """A cluster's runs split into censors' actions: ASNs whose runs began within
    ONSET_SLACK rounds of each other share one; an ASN that began clearly later applied the
    order on its own time (Russia 2022: each ISP blocked the platform when it did), so it is
    its own event. Kept whole unless every action has ``min_probes`` probes failing."""
    first: dict[int, int] = {}
    for item in cluster:
        asn = grid.leaves[item.leaf][1]
        first[asn] = min(first.get(asn, item.run.start), item.run.start)
    groups: list[list[int]] = []
    for asn in sorted(first, key=lambda a: (first[a], a)):
        if groups and first[asn] - first[groups[-1][0]] <= ONSET_SLACK:
            groups[-1].append(asn)
        else:
            groups.append([asn])
    actions = [[i for i in cluster if grid.leaves[i.leaf][1] in g] for g in groups]
    if len(actions) > 1 and all(_enough(a, th) for a in actions):
        return actions
    return [cluster]


def _outages(
    grid: Grid, th: Thresholds, items: list[Item], measuring: Callable[[int], set[str]]
) -> tuple[list[list[Item]], list[Item]]:
    """Runs starting together in ``min_countries`` countries and in at least half the
    countries measuring the target then (platform outages: a global outage is seen from
    everywhere at once, while two countries' censors blocking one platform, each on its own
    time, are two blocks), with the late-starting leaves of a running outage attached; and
    the rest, per country."""
    outages: list[list[Item]] = []
    local: list[Item] = []
    for onset_group in onset_groups(items):
        countries = {grid.leaves[i.leaf][0] for i in onset_group}
        start = min(i.run.start for i in onset_group)
        wide = 2 * len(countries) >= len(measuring(start) | countries)
        if len(countries) >= th.min_countries and wide:
            outages.append(onset_group)
        else:
            local += onset_group
    outages = _overlapping_merged(outages)
    spans = [_span(o) for o in outages]  # of the onset groups alone, before attaching
    for item in list(local):  # a late-starting leaf of a running outage belongs to it
        outage = next(
            (o for o, span in zip(outages, spans, strict=True) if _within(item.run, span)), None
        )
        if outage is not None:
            first = min(i.run.start for i in outage)
            run = replace(item.run, start=max(item.run.start, first))
            outage.append(Item(item.leaf, run, item.evidence, item.failing))
            local.remove(item)
    return outages, local


def _overlapping_merged(outages: list[list[Item]]) -> list[list[Item]]:
    """Outages of one target that overlap in time are one outage: a second onset group that
    begins while the first still runs (more countries failing a little later) joins it, so
    the detector reports one event, as the lifecycle would write one (lifecycle.reconcile
    expects overlapping detections of one kind and target to have disjoint scopes)."""
    merged: list[list[Item]] = []
    for group in sorted(outages, key=lambda g: min(i.run.start for i in g)):
        if merged and min(i.run.start for i in group) < _span(merged[-1])[1]:
            merged[-1] = merged[-1] + group
        else:
            merged.append(list(group))
    return merged


def _enough(group: list[Item], th: Thresholds) -> bool:
    """At least ``min_probes`` distinct probes failing, over all the groups whose runs make
    one event: a block seen by one probe in each of several one-probe groups counts, as their
    pools do for shutdowns (issue 13), and one probe alone never makes an event."""
    return sum(i.failing for i in group) >= th.min_probes


def _span(group: list[Item]) -> tuple[int, float]:
    first = min(i.run.start for i in group)
    return first, max(math.inf if i.run.end is None else i.run.end for i in group)


def _within(run: Run, span: tuple[int, float]) -> bool:
    """The run starts while the outage's own runs are under way (or shortly before: a small
    series' belief may leave zero on a stray failure some rounds before the real onset) and
    ends with them. Judged against the onset group's span, not one grown by attached runs,
    and a run outlasting the outage is its country's own (a block running on after it):
    otherwise one country's block, restarting after each nightly cut, was chained onto a
    six-hour outage for days."""
    first, last = span
    end = math.inf if run.end is None else run.end
    return first - LOOKBACK <= run.start < last and end <= last + LOOKBACK
