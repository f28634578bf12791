"""Shutdown detections: silence and offline reports per vantage group and pooled.

Each leaf (cc, asn, network) is a series, and so is each network type of a country and each
country (the sums of their leaves), so a cut of many one- and two-probe groups is seen as one.
The rules that tell a cut from sleep are in ``silence.py`` (docs/anomaly.md, "Shutdown").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from collector.anomaly.chance import (
    AROUND,
    Prior,
    chance_rounds,
    population,
    silent_habits,
    unread,
)
from collector.anomaly.detect import Run, detect_silence
from collector.anomaly.grouping import (
    LOOKBACK,
    Detection,
    Item,
    active_leaves,
    by_country,
    clusters,
    detection,
    detections,
    end_of,
    judged,
)
from collector.anomaly.series import Grid, Leaf
from collector.anomaly.silence import (
    SIMULTANEOUS,
    dark_together,
    only_asleep,
    partial_silence,
)
from collector.anomaly.thresholds import Thresholds
from collector.records import EventKind

ANY_NETWORK = "*"  # network of a pooled series covering every network type of a country
MOBILE = "mobile"  # the network type of phones (probe/model.py: "mobile" | "fixed" | free text)
COLLECTOR_GAP_SHARE = 0.5  # most probes of most countries silent at once: the collector's gap


def shutdowns(grid: Grid, th: Thresholds, judge_from: int, hindsight: bool) -> list[Detection]:
    """Silence and offline reports per leaf, and pooled per (cc, network type) and per cc, so a
    cut of many one- and two-probe groups is seen as one; leaves without heartbeats (imported
    measurements) give no silence signal."""
    day = max(1, 86400 // grid.step_s)
    pools = _pools(grid)
    n = len(grid.leaves)
    members = [[i] for i in range(n)] + [m for _, m in pools]
    keys: list[Leaf] = [*grid.leaves, *(k for k, _ in pools)]
    up = _pooled(grid.up(), members)
    heard = _pooled(grid.heard, members)
    down = _pooled(grid.down(), members)
    watched = np.array([bool(grid.beats[m].any()) for m in members], dtype=bool)
    quiet = _collector_gaps(grid, th)
    expected = np.zeros_like(up)
    runs = detect_silence(
        up, heard, th, day=day, down=down, quiet=quiet, watched=watched, expected_out=expected
    )
    items: list[Item] = []
    pooled: list[tuple[Leaf, Item]] = []
    # buckets of each series' runs already found to be events: not its probes' own habits
    events_at = np.zeros(up.shape, dtype=bool)
    kept = {id(r) for r in judged(runs, judge_from)}
    prior = _priors(grid, up[:n], down[:n], heard[:n])
    for run in sorted(runs, key=lambda r: r.start):
        s, end = run.series, end_of(run, grid)
        before = heard[s, max(0, run.start - LOOKBACK) : run.start]
        probes = int(before.max()) if before.size else 0
        # beyond what this hour usually has (desktops off at night): one probe is no outage
        missing = (expected[s, run.start : end] - up[s, run.start : end]).max()
        if min(probes, round(missing)) < th.min_probes or end - run.start < th.min_rounds:
            continue
        evidence = {
            "rounds": end - run.start,
            "probes_before": probes,
            "probes_heard": int(heard[s, run.start : end].max()),
            "offline_verdicts": int(
                sum(grid.offline[x, run.start : end].sum() for x in members[s])
            ),
        }
        if hindsight and only_asleep(run, end, heard[s], down[s], th.min_probes):
            continue
        if dark_together(up[s], run.start) < th.min_probes:
            continue  # probes drifting off one by one (desktops at night), not a cut
        if partial_silence(up[s], down[s], run.start, phones=keys[s][2] == MOBILE):
            continue  # some of a group or pool gone quiet, some still up, none saying offline
        series = (up[s], down[s], heard[s])
        outlasted = _beyond_chance(
            run,
            end,
            probes,
            series,
            th,
            day,
            judge_from,
            int(watched.sum()),
            events_at[s],
            partial(prior, keys[s][2], at=run.start),
            keys[s][2],
        )
        if outlasted is None:
            continue  # as likely as not a chance coincidence of this group's own dropouts
        events_at[s, run.start : end] = True
        if id(run) not in kept:
            continue  # ended before the evaluated range: remembered, not reported
        paged = replace(run, opened=outlasted)
        if s < n:
            items.append(Item(s, paged, evidence))
        else:
            pooled.append((keys[s], Item(members[s][0], paged, evidence)))
    return _events(grid, th, up, items, pooled, dict(pools))


def _events(
    grid: Grid,
    th: Thresholds,
    up: Any,
    items: list[Item],
    pooled: list[tuple[Leaf, Item]],
    pool_of: dict[Leaf, list[int]],
) -> list[Detection]:
    """The leaves' and pools' runs of each country, grouped by overlap into events."""
    out = []
    for cc, group in by_country(grid, items + [i for _, i in pooled]).items():
        for part in clusters(group):
            leaf_part = [i for i in part if any(i is x for x in items)]
            pool_keys = {k for k, i in pooled if any(i is x for x in part)}
            wide = _pool_scope(pool_keys)
            if wide is not None and not leaf_part:  # only the pools saw it: small groups
                network = None if wide == ANY_NETWORK else wide
                out.append(detection(grid, EventKind.SHUTDOWN, cc, None, network, part, None, None))
                continue
            if not leaf_part:
                continue
            rows = range(len(grid.leaves))
            active = active_leaves(up, rows, grid, cc, leaf_part, min_probes=th.min_probes)
            witnesses = active_leaves(up, rows, grid, cc, leaf_part, min_probes=1)
            # a network type whose pool went down: its small leaves are covered, unless seen fine
            pooled_in = {x for k in pool_keys if k[2] != ANY_NETWORK for x in pool_of[k]}
            covered = pooled_in - active - witnesses
            found = detections(
                grid,
                EventKind.SHUTDOWN,
                cc,
                leaf_part,
                active,
                None,
                None,
                witnesses=witnesses,
                covered=covered,
            )
            pools_here = [(pool_of[k], i) for k, i in pooled if any(i is x for x in part)]
            out += [_paged_with_pools(grid, d, pools_here) for d in found]
    return out


def _paged_with_pools(
    grid: Grid, found: Detection, pools: list[tuple[list[int], Item]]
) -> Detection:
    """``found`` opened as early as a pool over its leaves passed: a watcher pages the pool's
    run as soon as it passes (the leaves' own runs may need longer to outlast their probes'
    habits) and the event keeps that page when the leaves join, so a history scan must say
    the same about when it would have alerted."""
    scope = found.scope
    mine = {
        x
        for x, leaf in enumerate(grid.leaves)
        if leaf[0] == scope.cc and scope.asn in (None, leaf[1]) and scope.network in (None, leaf[2])
    }
    earlier = [grid.time(item.run.opened) for members, item in pools if mine.intersection(members)]
    if not earlier:
        return found
    opened = max(found.start, min(found.opened, *earlier))
    return found if opened == found.opened else replace(found, opened=opened)


def _beyond_chance(
    run: Run,
    end: int,
    probes: int,
    series: tuple[Any, Any, Any],
    th: Thresholds,
    day: int,
    judged: int,
    n_series: int,
    events_at: Any,
    prior: Callable[[bool], Prior | None],
    network: str,
) -> int | None:
    """The bucket from which a run is more than its probes' own dropouts meeting by chance
    (``chance.chance_rounds``), or None if it does not last that long. Probes that said
    offline together are judged by how often, and how long, they say offline; silent ones
    by how often, and how long, they go missing from the most the group had in the day read.

    A silent run (nobody said offline) that began so long before the evaluated range that
    this hour yesterday is not read is not judged again (None): the cycles that saw it begin
    read that hour and did not page it, or its event is open and the window reaches back to
    it; on less history it would pass and page, be retracted, and page again (the flapping of
    a short lookback). Runs whose probes said offline are judged on what is read.

    ``events_at``: the buckets of this series' earlier runs that were events. Their dropouts
    are not read as the probes' habits: yesterday's cut at this hour (Myanmar's nightly cuts,
    Iran's daily mobile curfews) does not make tonight's look like chance, as the level and
    failure rate do not learn while an event is open. ``prior``: the dropouts of the
    probes of this network type, for the part of the last day this series was not heard in
    (the first evening, ``chance.chance_rounds``). A silent run of the first evening must
    also be beyond chance under the habits volunteer networks have (``chance.silent_habits``):
    the deployment's first hours show no night yet, so a bedtime coincidence of two desktops
    is not paged before it has clearly outlasted a night (not on a "mobile" network: phones
    doze, and the population prior covers them); probes saying offline together get
    no such default (their reports are direct evidence, rule 2): a cut on day one is paged
    once they say so, and a scan finds it from their backfilled verdicts."""
    up, down, heard = series
    first = down[run.start : run.start + SIMULTANEOUS + 1]
    reported = first.max(initial=0.0) >= th.min_probes
    if not reported and unread(run.start, day, judged):
        return None
    read = heard[max(0, run.start - day - AROUND) : run.start]
    group = max(probes, int(read.max(initial=0.0)))
    signal = np.where(events_at, 0.0, down if reported else np.maximum(group - up, 0.0))
    k = float(first.max()) if reported else min(dark_together(up, run.start), probes)
    together_k = min(round(k), probes)
    known_from = int(np.argmax(heard > 0)) if heard.any() else run.start
    first_evening = run.start - max(0, run.start - day, known_from) < day  # less than a day read
    priors = [prior(bool(reported))] if first_evening else [None]
    if first_evening and not reported and network != MOBILE:
        priors.append(silent_habits(day))  # desktops are switched off at night; phones doze
    rounds = max(
        chance_rounds(
            signal,
            run.start,
            probes,
            together_k,
            day=day,
            judged_from=judged,
            group=group,
            series=n_series,
            known_from=known_from,
            prior=p,
        )
        for p in priors
    )
    if end - run.start < rounds:
        return None
    return max(run.opened, run.start + rounds - 1)


def _priors(grid: Grid, up: Any, down: Any, heard: Any) -> Callable[..., Prior]:
    """The dropouts of the leaves of each network type (all leaves for ANY_NETWORK) before
    bucket ``at``, from the first bucket each was heard in: offline reports (``reported``) or
    probes missing from the most the leaf had. Asked only for series with less than a day
    read (the first evening), and never about the run being judged."""
    cache: dict[tuple[str, bool, int], Prior] = {}

    def get(network: str, reported: bool, *, at: int) -> Prior:
        key = (network, reported, at)
        if key not in cache:
            signals, probes = [], []
            for i, leaf in enumerate(grid.leaves):
                if network not in (ANY_NETWORK, leaf[2]) or not heard[i, :at].any():
                    continue
                first = int(np.argmax(heard[i] > 0))
                most = float(heard[i, first:at].max())
                missing = np.maximum(most - up[i, first:at], 0.0)
                signals.append(down[i, first:at] if reported else missing)
                probes.append(most)
            cache[key] = population(signals, probes)
        return cache[key]

    return get


def _pools(grid: Grid) -> list[tuple[Leaf, list[int]]]:
    """Pooled shutdown series: each network type of a country (asn 0), and each country
    (asn 0, network "*"), when they gather more than one leaf."""
    groups: dict[Leaf, list[int]] = {}
    for i, (cc, _asn, network) in enumerate(grid.leaves):
        groups.setdefault((cc, 0, network), []).append(i)
        groups.setdefault((cc, 0, ANY_NETWORK), []).append(i)
    return [(k, m) for k, m in sorted(groups.items()) if len(m) > 1]


def _pooled(values: Any, members: list[list[int]]) -> Any:
    return np.stack([values[m].sum(axis=0) for m in members]) if members else values


def _pool_scope(keys: set[Leaf]) -> str | None:
    """The network of a pooled detection: the one network type whose pool fired, else
    ANY_NETWORK (the country's pool alone, or the pools of several network types)."""
    if not keys:
        return None
    types = {k[2] for k in keys} - {ANY_NETWORK}
    return next(iter(types)) if len(types) == 1 else ANY_NETWORK


def _collector_gaps(grid: Grid, th: Thresholds) -> Any:
    """Buckets in which most probes of at least ``min_countries`` countries fell silent at once
    and none said "offline": the collector could not be reached (a collector outage), so
    silence there is no evidence anywhere. Backfill brings the data back later."""
    countries = sorted({leaf[0] for leaf in grid.leaves})
    if len(countries) < th.min_countries:
        return np.zeros(grid.n_times, dtype=bool)
    silent = np.zeros(grid.n_times)
    for cc in countries:
        rows = [i for i, leaf in enumerate(grid.leaves) if leaf[0] == cc]
        heard = grid.heard[rows].sum(axis=0)
        offline = grid.down()[rows].sum(axis=0)
        padded = np.concatenate([np.zeros(LOOKBACK), heard])
        usual = np.lib.stride_tricks.sliding_window_view(padded, LOOKBACK)[: grid.n_times]
        before = usual.max(axis=1)  # the most heard in the LOOKBACK buckets before
        gap = (before >= th.min_probes) & (heard < COLLECTOR_GAP_SHARE * before) & (offline < 1)
        silent += gap
    out = silent >= max(th.min_countries, COLLECTOR_GAP_SHARE * len(countries))
    return out
