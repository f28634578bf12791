"""What a silence shows about its cause, per series: the rules that tell a cut from sleep.

A cut takes a group's probes down in the same round and, once restored, their outboxes bring
the offline verdicts they kept (DESIGN.md decision 1); desktops switched off at night, phones
dozing and home links lost one by one do neither (docs/anomaly.md, "Silence").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from collector.anomaly.detect import Run

SIMULTANEOUS = 2  # buckets within which probes going down count as going down together
# Phones of one network type going dark in the same round that rule 9 does not hold back:
# phones stay on at night and doze each on its own, so three at once are no bedtime habit (a
# pool's desktops are); rule 10 still judges the meeting's chance.
PHONES_TOGETHER = 3
BACKFILL_GRACE = 3  # buckets after a silence in which a cut probe's outbox would have emptied


def only_asleep(run: Run, end: int, heard: Any, down: Any, min_probes: int) -> bool:
    """A silence that ended (its probes came back, or the hour's usual quiet caught up with it)
    BACKFILL_GRACE buckets ago, in which fewer than ``min_probes`` probes went down together
    saying they were offline (or cut from abroad): they were switched off or asleep, or lost
    their links one by one; not a cut. A cut probe keeps measuring and its outbox, emptied
    oldest first, brings its offline verdicts before anything newer (DESIGN.md decision 1)."""
    if run.end is None:
        return False
    judged_after = heard[end : end + BACKFILL_GRACE].size == BACKFILL_GRACE
    return bool(judged_after and together(down, run.start, end) < min_probes)


def together(down: Any, start: int, end: int) -> float:
    """The most probes that went down at once (within SIMULTANEOUS buckets) during a run: a cut
    takes its probes down together (Disco's lesson), while phones losing signal one after the
    other, or a home link down while a neighbour sleeps, do not."""
    lo = max(0, start - SIMULTANEOUS)
    span = down[lo:end]
    if span.size == 0:
        return 0.0
    before = np.array(
        [span[max(0, i - SIMULTANEOUS) : i].min(initial=span[i]) for i in range(span.size)]
    )
    return float((span - np.minimum(before, span)).max())


def dark_together(up: Any, start: int) -> float:
    """How many probes stopped being up (silent, or saying offline) at a run's onset: the most
    up in the SIMULTANEOUS buckets before it, less the fewest up in its first SIMULTANEOUS + 1
    buckets. Known by the time the run opens, so the watcher can page on it. A cut takes a
    group's probes down in one round; desktops switched off at night and phones dozing drop
    out one at a time, each run's onset losing one."""
    before = up[max(0, start - SIMULTANEOUS) : start]
    after = up[start : start + SIMULTANEOUS + 1]
    if before.size == 0 or after.size == 0:
        return float("inf")  # the history begins with the run: nothing says it was gradual
    return float(before.max() - after.min())


def partial_silence(up: Any, down: Any, start: int, *, phones: bool = False) -> bool:
    """In a run's first SIMULTANEOUS + 1 buckets, some of the series' probes stayed up and none
    reported being offline: a neighbour's desktop off while this one runs, or, in a pool, a few
    homes' desktops off at about the same time. A cut that spares part of a network is paged
    once its probes say so (offline verdicts, or failing abroad while home sites work), and a
    scan finds it from the backfilled verdicts. ``phones`` (a mobile series): PHONES_TOGETHER
    or more going dark together are not such a habit, and are left to the chance rule."""
    span = slice(start, start + SIMULTANEOUS + 1)
    partial = bool(up[span].min(initial=np.inf) > 0 and down[span].max(initial=0.0) <= 0)
    return partial and not (phones and dark_together(up, start) >= PHONES_TOGETHER)
