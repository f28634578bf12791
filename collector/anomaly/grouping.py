"""What runs of one cause become: detections, with the widest scope they fully cover.

A run is one series' anomaly; a detection explains runs together. Runs of one country that
overlap collapse to the widest scope they fully cover (network -> ASN -> country), so a
mobile-only cut is told from a nationwide one (docs/anomaly.md, "Scope"). Shared by the
shutdown and the target-failure rules (``shutdowns.py``, ``failures.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from collector.anomaly.detect import Run
from collector.anomaly.series import Grid, Leaf
from collector.records import EventKind, Scope

EVERYWHERE = "*"  # scope.cc of an event seen from several countries
ONSET_SLACK = 3  # buckets: runs starting this close together share one cause
LOOKBACK = 12  # buckets before an onset that tell which probes were there


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
class Item:
    leaf: int
    run: Run
    evidence: dict[str, Any]
    failing: int = 0  # target failures: the most distinct probes failing in one round


def judged(runs: list[Run], judge_from: int) -> list[Run]:
    return [r for r in runs if r.end is None or r.end > judge_from]


def end_of(run: Run, grid: Grid) -> int:
    return grid.n_times if run.end is None else run.end


def by_country(grid: Grid, items: list[Item]) -> dict[str, list[Item]]:
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(grid.leaves[item.leaf][0], []).append(item)
    return groups


def active_leaves(
    healthy: Any,
    rows: Sequence[int] | range,
    grid: Grid,
    cc: str,
    group: list[Item],
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


def clusters(items: list[Item]) -> list[list[Item]]:
    """Items whose runs overlap in time (ongoing runs reach to the end)."""
    ordered = sorted(items, key=lambda i: i.run.start)
    clusters: list[list[Item]] = []
    reach = -1.0
    for item in ordered:
        if clusters and item.run.start <= reach:
            clusters[-1].append(item)
        else:
            clusters.append([item])
            reach = -1.0
        reach = max(reach, math.inf if item.run.end is None else float(item.run.end))
    return clusters


def onset_groups(items: list[Item]) -> list[list[Item]]:
    ordered = sorted(items, key=lambda i: i.run.start)
    groups: list[list[Item]] = []
    for item in ordered:
        if groups and item.run.start - groups[-1][0].run.start <= ONSET_SLACK:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def detections(
    grid: Grid,
    kind: EventKind,
    cc: str,
    part: list[Item],
    active: set[int],
    target: str | None,
    method: str | None,
    *,
    witnesses: Set[int] = frozenset(),
    covered: Set[int] = frozenset(),
    alone: bool = True,
) -> list[Detection]:
    """One detection per scope the overlapping runs of ``part`` fully cover (``split_scopes``)."""
    return [
        detection(grid, kind, cc, asn, network, items, target, method)
        for (asn, network), items in split_scopes(
            grid, cc, part, active, witnesses=witnesses, covered=covered, alone=alone
        )
    ]


def split_scopes(
    grid: Grid,
    cc: str,
    part: list[Item],
    active: set[int],
    *,
    witnesses: Set[int] = frozenset(),
    covered: Set[int] = frozenset(),
    alone: bool = True,
) -> list[tuple[tuple[int | None, str | None], list[Item]]]:
    """The widest scopes whose active leaves are all covered: country, one network type across
    the country (a nationwide mobile cut), one ASN, else single leaves.

    ``covered`` leaves count as covered without a run of their own (the members of a pooled
    network type that went down as a whole, too small to show it one by one). The country is
    claimed only if the runs span more than one network type, or no leaf of another type was
    seen fine meanwhile (``witnesses``: at least one healthy probe, too few to be active):
    a block of mobile lines measured as fine from one desktop is a mobile block. Not
    ``alone``: other actions of the same kind run in the country (ASNs that blocked on their
    own time), so this one is per ASN or per leaf. An ASN is claimed when at least two of
    its leaves have runs and none of its active leaves is left out."""
    leaves = {i.leaf for i in part} | set(covered)
    networks = {grid.leaves[x][2] for x in leaves}
    asns = {grid.leaves[x][1] for x in leaves}
    others_fine = len(networks) == 1 and any(grid.leaves[x][2] not in networks for x in witnesses)
    if cc == EVERYWHERE or (alone and leaves >= active and len(active) > 1 and not others_fine):
        return [((None, None), part)]
    if alone and len(networks) == 1 and len(asns) > 1:
        (network,) = networks
        if leaves >= {x for x in active if grid.leaves[x][2] == network}:
            return [((None, network), part)]
    out: list[tuple[tuple[int | None, str | None], list[Item]]] = []
    for asn in sorted({grid.leaves[i.leaf][1] for i in part}):
        mine = [i for i in part if grid.leaves[i.leaf][1] == asn]
        of_asn = {x for x in active if grid.leaves[x][1] == asn}
        if {i.leaf for i in mine} >= of_asn and len({i.leaf for i in mine} | of_asn) > 1:
            out.append(((asn, None), mine))
            continue
        for leaf in sorted({i.leaf for i in mine}):
            out.append(((asn, grid.leaves[leaf][2]), [i for i in mine if i.leaf == leaf]))
    return out


def detection(
    grid: Grid,
    kind: EventKind,
    cc: str,
    asn: int | None,
    network: str | None,
    part: list[Item],
    target: str | None,
    method: str | None,
) -> Detection:
    runs = [i.run for i in part]
    ongoing = any(r.end is None for r in runs)
    leaves = {i.leaf for i in part}
    evidence = merge_evidence([i.evidence for i in part])
    evidence["rounds"] = (grid.n_times if ongoing else max(r.end or 0 for r in runs)) - min(
        r.start for r in runs
    )
    evidence["leaves"] = sorted(leaf_key(grid.leaves[x]) for x in leaves)
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


def leaf_key(leaf: Leaf) -> str:
    return f"{leaf[0]}/AS{leaf[1]}/{leaf[2]}"


def merge_evidence(parts: list[dict[str, Any]]) -> dict[str, Any]:
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


def dominant(counts: dict[str, int]) -> str | None:
    return max(sorted(counts), key=lambda name: counts[name]) if counts else None
