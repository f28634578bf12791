"""From anomalous runs to events: kind (shutdown, blocking, throttling, platform outage) and scope.

A run is one series' anomaly; an event explains runs together. Runs of one country that overlap
collapse to the widest scope they fully cover (network -> ASN -> country), so a mobile-only cut
is told from a nationwide one. A target failing with the same onset in several countries, or
failing as "inconclusive" (the control endpoint cannot reach it either), is the platform's own
outage, not censorship (OONI's cross-vantage reasoning; DESIGN.md decision 4).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from collector.anomaly.detect import Run, detect_failures, detect_silence
from collector.anomaly.series import Grid, Leaf
from collector.anomaly.silence import (
    SIMULTANEOUS,
    chance_rounds,
    dark_together,
    only_asleep,
    partial_silence,
)
from collector.anomaly.thresholds import Thresholds
from collector.records import EventKind, Scope

EVERYWHERE = "*"  # scope.cc of an event seen from several countries
ONSET_SLACK = 3  # buckets: runs starting this close together share one cause
LOOKBACK = 12  # buckets before an onset that tell which probes were there
ANY_NETWORK = "*"  # network of a pooled series covering every network type of a country
COLLECTOR_GAP_SHARE = 0.5  # most probes of most countries silent at once: the collector's gap


@dataclass(frozen=True, slots=True)
class Detection:
    """An event as seen in one evaluation, before it gets an id and a lifecycle state."""

    kind: EventKind
    scope: Scope
    target: str | None
    method: str | None
    start: datetime
    end: datetime | None
    opened: datetime  # start of the bucket in which the evidence became sufficient
    confidence: float
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Item:
    leaf: int
    run: Run
    evidence: dict[str, Any]
    failing: int = 0  # target failures: the most distinct probes failing in one round


def detect(
    grid: Grid, th: Thresholds, *, judge_from: int = 0, hindsight: bool = True
) -> list[Detection]:
    """Every event the grid shows, shutdowns first, then target failures.

    Buckets before ``judge_from`` are warm-up: they teach baselines (a day at least, for the
    daily pattern), and anomalies that ended inside them are not reported. ``hindsight=False``
    judges each silence without what came after it (what a watcher knew when it paged), so
    a silence whose probes came back without offline records is not yet dropped as sleep.
    """
    if grid.n_times == 0:
        return []
    return _shutdowns(grid, th, judge_from, hindsight) + _failures(grid, th, judge_from)


def _judged(runs: list[Run], judge_from: int) -> list[Run]:
    return [r for r in runs if r.end is None or r.end > judge_from]


def _shutdowns(grid: Grid, th: Thresholds, judge_from: int, hindsight: bool) -> list[Detection]:
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
    runs = detect_silence(up, heard, th, day=day, down=down, quiet=quiet, watched=watched,
                          expected_out=expected)  # fmt: skip
    items: list[_Item] = []
    pooled: list[tuple[Leaf, _Item]] = []
    for run in _judged(runs, judge_from):
        s, end = run.series, _end(run, grid)
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
        if partial_silence(up[s], down[s], run.start):
            continue  # some of a group or pool gone quiet, some still up, none saying offline
        outlasted = _beyond_chance(run, end, probes, up[s], down[s], th, day)
        if outlasted is None:
            continue  # as likely as not a chance coincidence of this group's own dropouts
        paged = replace(run, opened=outlasted)
        if s < n:
            items.append(_Item(s, paged, evidence))
        else:
            pooled.append((keys[s], _Item(members[s][0], paged, evidence)))
    out = []
    for cc, group in _by_country(grid, items + [i for _, i in pooled]).items():
        for part in _clusters(group):
            leaf_part = [i for i in part if any(i is x for x in items)]
            pool_keys = {k for k, i in pooled if any(i is x for x in part)}
            wide = _pool_scope(pool_keys)
            if wide is not None and not leaf_part:  # only the pools saw it: small groups
                network = None if wide == ANY_NETWORK else wide
                out.append(
                    _detection(grid, EventKind.SHUTDOWN, cc, None, network, part, None, None)
                )
                continue
            if not leaf_part:
                continue
            active = _active_leaves(
                up, range(len(grid.leaves)), grid, cc, leaf_part, min_probes=th.min_probes
            )
            out += _detections(grid, EventKind.SHUTDOWN, cc, leaf_part, active, None, None)
    return out


def _beyond_chance(
    run: Run, end: int, probes: int, up: Any, down: Any, th: Thresholds, day: int
) -> int | None:
    """The bucket from which a run is more than its probes' own dropouts meeting by chance
    (``silence.chance_rounds``), or None if it does not last that long. Probes that said
    offline together are judged by how often, and how long, they say offline; silent ones
    by how often, and how long, they go missing."""
    first = down[run.start : run.start + SIMULTANEOUS + 1]
    reported = first.max(initial=0.0) >= th.min_probes
    signal = down if reported else np.maximum(probes - up, 0.0)
    k = float(first.max()) if reported else min(dark_together(up, run.start), probes)
    rounds = chance_rounds(signal, run.start, probes, min(round(k), probes), day=day)
    if end - run.start < rounds:
        return None
    return max(run.opened, run.start + rounds - 1)


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


def _failures(grid: Grid, th: Thresholds, judge_from: int) -> list[Detection]:
    leaf_of = np.array([leaf for leaf, _ in grid.pairs], dtype=np.int64)
    # Per-probe control judging: a probe whose own international controls all failed this
    # round contributes nothing (each such probe takes one failed verdict out of the pair).
    bad = grid.bad[leaf_of] if len(leaf_of) else np.zeros((0, grid.n_times))
    raw_failed = grid.blocked + grid.inconclusive
    measured = np.maximum(raw_failed + grid.accessible - bad, 0.0)
    failed = np.minimum(np.maximum(raw_failed - bad, 0.0), measured)
    usable = np.ones(measured.shape, dtype=bool)
    by_target: dict[str, list[_Item]] = {}
    for run in _judged(detect_failures(failed, measured, usable, th), judge_from):
        p, end = run.series, _end(run, grid)
        probes = int(grid.probes[p, run.start : end].max())
        failing = int(failed[p, run.start : end].max())  # distinct probes failing in a round
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
        by_target.setdefault(grid.pairs[p][1], []).append(_Item(p, run, evidence, failing))
    out: list[Detection] = []
    for target, items in sorted(by_target.items()):
        out += _target_detections(grid, th, target, items, leaf_of)
    return out


def _target_detections(
    grid: Grid, th: Thresholds, target: str, items: list[_Item], leaf_of: Any
) -> list[Detection]:
    as_leaf = [_Item(int(leaf_of[i.leaf]), i.run, i.evidence, i.failing) for i in items]
    outages, local = _outages(grid, th, as_leaf)
    out: list[Detection] = []
    for group in outages:
        if _enough(group, th):
            out += _detections(
                grid, EventKind.PLATFORM_OUTAGE, EVERYWHERE, group, set(), target, None
            )
    pair_rows = [p for p, (_, name) in enumerate(grid.pairs) if name == target]
    for cc, group in _by_country(grid, local).items():
        for part in _clusters(group):
            if not _enough(part, th):
                continue
            active = _active_leaves(
                grid.accessible,
                pair_rows,
                grid,
                cc,
                part,
                min_probes=th.min_probes,
                leaf_of=leaf_of,
            )
            evidence = _merge_evidence([i.evidence for i in part])
            method = _dominant(evidence["methods"])
            if evidence["inconclusive"] > evidence["blocked"]:
                # the control endpoint cannot reach it either: not censorship, and one country
                # alone never makes a platform outage (that needs min_countries)
                continue
            if (
                method is None
                or evidence["methods"][method] < th.method_share * evidence["blocked"]
            ):
                continue  # failures of mixed kinds: background noise, not one censor's action
            elif method == "throttled":
                kind = EventKind.THROTTLING
            else:
                kind = EventKind.BLOCKING
            out += _detections(grid, kind, cc, part, active, target, method)
    return out


def _outages(
    grid: Grid, th: Thresholds, items: list[_Item]
) -> tuple[list[list[_Item]], list[_Item]]:
    """Runs starting together in ``min_countries`` countries (platform outages), with the
    late-starting leaves of a running outage attached; and the rest, per country."""
    outages: list[list[_Item]] = []
    local: list[_Item] = []
    for onset_group in _onset_groups(items):
        countries = {grid.leaves[i.leaf][0] for i in onset_group}
        if len(countries) >= th.min_countries:
            outages.append(onset_group)
        else:
            local += onset_group
    for item in list(local):  # a late-starting leaf of a running outage belongs to it
        outage = next((o for o in outages if _within(item.run, o)), None)
        if outage is not None:
            first = min(i.run.start for i in outage)
            run = replace(item.run, start=max(item.run.start, first))
            outage.append(_Item(item.leaf, run, item.evidence, item.failing))
            local.remove(item)
    return outages, local


def _enough(group: list[_Item], th: Thresholds) -> bool:
    """At least ``min_probes`` distinct probes failing, over all the groups whose runs make
    one event: a block seen by one probe in each of several one-probe groups counts, as their
    pools do for shutdowns (issue 13), and one probe alone never makes an event."""
    return sum(i.failing for i in group) >= th.min_probes


def _within(run: Run, group: list[_Item]) -> bool:
    """The run starts while the group's runs are under way (or shortly before: a small
    series' belief may leave zero on a stray failure some rounds before the real onset)."""
    first = min(i.run.start for i in group)
    last = max(math.inf if i.run.end is None else i.run.end for i in group)
    return first - LOOKBACK <= run.start < last


def _end(run: Run, grid: Grid) -> int:
    return grid.n_times if run.end is None else run.end


def _by_country(grid: Grid, items: list[_Item]) -> dict[str, list[_Item]]:
    groups: dict[str, list[_Item]] = {}
    for item in items:
        groups.setdefault(grid.leaves[item.leaf][0], []).append(item)
    return groups


def _active_leaves(
    healthy: Any,
    rows: Sequence[int] | range,
    grid: Grid,
    cc: str,
    group: list[_Item],
    *,
    min_probes: int,
    leaf_of: Any = None,
) -> set[int]:
    """The scope's universe: the group's leaves plus the leaves of ``cc`` that demonstrably
    stayed fine meanwhile (a median of ``min_probes`` healthy reports). A leaf too small to
    show the anomaly neither confirms nor contradicts it, so it does not stop a country-wide
    event from being called country-wide."""
    first = min(i.run.start for i in group)
    last = max(grid.n_times if i.run.end is None else i.run.end for i in group)
    span = slice(first, max(last, first + 1))
    active = {i.leaf for i in group}
    for row in rows:
        leaf = row if leaf_of is None else int(leaf_of[row])
        if leaf in active or grid.leaves[leaf][0] != cc:
            continue
        if np.median(healthy[row, span]) >= min_probes:
            active.add(leaf)
    return active


def _clusters(items: list[_Item]) -> list[list[_Item]]:
    """Items whose runs overlap in time (ongoing runs reach to the end)."""
    ordered = sorted(items, key=lambda i: i.run.start)
    clusters: list[list[_Item]] = []
    reach = -1.0
    for item in ordered:
        if clusters and item.run.start <= reach:
            clusters[-1].append(item)
        else:
            clusters.append([item])
            reach = -1.0
        reach = max(reach, math.inf if item.run.end is None else float(item.run.end))
    return clusters


def _onset_groups(items: list[_Item]) -> list[list[_Item]]:
    ordered = sorted(items, key=lambda i: i.run.start)
    groups: list[list[_Item]] = []
    for item in ordered:
        if groups and item.run.start - groups[-1][0].run.start <= ONSET_SLACK:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _detections(
    grid: Grid,
    kind: EventKind,
    cc: str,
    part: list[_Item],
    active: set[int],
    target: str | None,
    method: str | None,
) -> list[Detection]:
    """One detection per scope the overlapping runs of ``part`` fully cover."""
    return [
        _detection(grid, kind, cc, asn, network, items, target, method)
        for (asn, network), items in _split(grid, cc, part, active)
    ]


def _split(
    grid: Grid, cc: str, part: list[_Item], active: set[int]
) -> list[tuple[tuple[int | None, str | None], list[_Item]]]:
    """The widest scopes whose active leaves are all covered: country, one network type across
    the country (a nationwide mobile cut), one ASN, else single leaves."""
    leaves = {i.leaf for i in part}
    if cc == EVERYWHERE or (leaves >= active and len(active) > 1):
        return [((None, None), part)]
    networks = {grid.leaves[x][2] for x in leaves}
    asns = {grid.leaves[x][1] for x in leaves}
    if len(networks) == 1 and len(asns) > 1:
        (network,) = networks
        if leaves >= {x for x in active if grid.leaves[x][2] == network}:
            return [((None, network), part)]
    out: list[tuple[tuple[int | None, str | None], list[_Item]]] = []
    for asn in sorted(asns):
        mine = [i for i in part if grid.leaves[i.leaf][1] == asn]
        of_asn = {x for x in active if grid.leaves[x][1] == asn}
        if {i.leaf for i in mine} >= of_asn and len(of_asn) > 1:
            out.append(((asn, None), mine))
            continue
        for leaf in sorted({i.leaf for i in mine}):
            out.append(((asn, grid.leaves[leaf][2]), [i for i in mine if i.leaf == leaf]))
    return out


def _detection(
    grid: Grid,
    kind: EventKind,
    cc: str,
    asn: int | None,
    network: str | None,
    part: list[_Item],
    target: str | None,
    method: str | None,
) -> Detection:
    runs = [i.run for i in part]
    ongoing = any(r.end is None for r in runs)
    leaves = {i.leaf for i in part}
    evidence = _merge_evidence([i.evidence for i in part])
    evidence["rounds"] = (grid.n_times if ongoing else max(r.end or 0 for r in runs)) - min(
        r.start for r in runs
    )
    evidence["leaves"] = sorted(_leaf_key(grid.leaves[x]) for x in leaves)
    if cc == EVERYWHERE:
        evidence["countries"] = sorted({grid.leaves[x][0] for x in leaves})
    probes = evidence.get("probes", evidence.get("probes_before", 0))
    return Detection(
        kind=kind,
        scope=Scope(cc=cc, asn=asn, network=network, probes=probes),
        target=target,
        method=method,
        start=grid.time(min(r.start for r in runs)),
        end=None if ongoing else grid.time(max(r.end or 0 for r in runs)),
        opened=grid.time(min(r.opened for r in runs)),
        confidence=round(1 / (1 + math.exp(-max(r.peak for r in runs))), 4),
        evidence=evidence,
    )


def _leaf_key(leaf: Leaf) -> str:
    return f"{leaf[0]}/AS{leaf[1]}/{leaf[2]}"


def _merge_evidence(parts: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict):
                slot = merged.setdefault(key, {})
                for name, count in value.items():
                    slot[name] = slot.get(name, 0) + count
            else:
                merged[key] = merged.get(key, 0) + value
    return merged


def _dominant(counts: dict[str, int]) -> str | None:
    return max(sorted(counts), key=lambda name: counts[name]) if counts else None
