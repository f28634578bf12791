"""Rule 10: two or three probes going dark in the same round can be chance.

Phones lose signal 10-60 minutes a day and desktops are switched off at bedtime, each on its
own; in a group of two or three, two of them now and then start a dropout in the same round.
Under independence, the number of such meetings in a round is about
``C(n, k) * (3 * r(m))**k``: ``n`` probes, ``k`` of them dark together within SIMULTANEOUS + 1
rounds, and ``r(m)`` the rate (per probe and round) of dropouts that last ``m`` rounds or more.
A run is an event from the first ``m`` at which a day of such rounds expects fewer than
DAY_BUDGET meetings (docs/anomaly.md, rule 10).

The rate is read from the series' own history, the higher of two estimates: over the whole
last day, and around this time of day yesterday (AROUND buckets either side), since dropouts
keep hours: desktops go dark at their owners' bedtime, within an hour or two of each other, so
a day's average says a bedtime meeting is rarer than it is, while a cut at an hour when these
probes never drop out is paged at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from collector.anomaly.silence import SIMULTANEOUS

DAY_BUDGET = 1 / 365  # chance coincidences per deployment and day that may page: one a year
AROUND = 24  # buckets either side of this time yesterday (2 hours: bedtimes jitter by an hour)
# Silence with no history anywhere (a deployment's first evening): one probe-day is assumed to
# show the habits of volunteer networks (issue 13): a phone dozing for up to an hour and a
# desktop switched off for a night of 8 hours (lengths in hours).
SILENT_HABITS_H = (1, 8)
Ints = npt.NDArray[np.int64]


def dropouts(signal: Any) -> list[tuple[int, int]]:
    """The dropouts a per-bucket count shows (probes missing, or saying offline), as (first
    bucket, length): each rise starts that many, each fall ends the latest ones. Counts only,
    no probe ids, so overlapping dropouts are told apart as well as counts allow. A dropout
    still under way at the end is left out (its length is not known yet)."""
    open_at: list[int] = []
    spells: list[tuple[int, int]] = []
    level = 0
    for t, value in enumerate(np.rint(signal).astype(int).tolist()):
        while level < value:
            open_at.append(t)
            level += 1
        while level > max(value, 0):
            first = open_at.pop()
            spells.append((first, t - first))
            level -= 1
    return spells


def unread(start: int, day: int, judged_from: int) -> bool:
    """A run that began before the evaluated range so early that this time of day yesterday
    (AROUND buckets either side) is not all in the history read."""
    return start < judged_from and start - day - AROUND < 0


def chance_rounds(
    signal: Any,
    start: int,
    probes: int,
    together_k: int,
    *,
    day: int,
    judged_from: int = 0,
    group: int | None = None,
    series: int = 1,
    known_from: int = 0,
    prior: Prior | None = None,
) -> int:
    """How long ``together_k`` of a series' ``probes`` must have been dark together before it
    is no likely coincidence of their own independent dropouts: the least number of rounds
    ``m`` at which a day of rounds like this one expects fewer than DAY_BUDGET meetings (see
    the module). 0: page at once (these probes did not drop out lately, or not at this hour).

    A run that began before the evaluated range (``judged_from``) so early that this time of
    day yesterday is not in the history read (``unread``) is judged as if it began at the
    busiest hour of the day read (the most dropouts starting within 2 AROUND + 1 buckets), so
    a cut whose probes said offline is still found by a scan begun after it; a silent one is
    not judged again at all (``shutdowns._beyond_chance``).
    ``group``: the most probes the series had in the day read (their dropouts are counted),
    if more than ``probes`` (those there at the onset). ``series``: how many series are
    judged alike; the budget is shared among them (Bonferroni), so a deployment of many
    small groups still expects one chance page a year, not one per group.
    ``known_from``: the first bucket the series was heard in; ``prior``: the dropouts of the
    probes of its network type (``population``). **The first evening**: the part of the last
    day before the series was first heard (or before the history begins) is not taken as a
    day without dropouts, which would page any coincidence at once; it is filled with the
    population's dropouts, as many and as long as they are per probe and round elsewhere in
    the deployment, weighted by the rounds missing. Once a day is read, the prior has no
    weight.
    """
    if together_k < 2 or probes < together_k:
        return 0
    yesterday = start - day
    lo = max(0, yesterday - AROUND)
    # a dropout already under way where the reading begins has no known start: left out
    spells = [(lo + s, n) for s, n in dropouts(signal[lo:start]) if s > 0]
    population = max(probes, group or 0)  # the probes whose dropouts were counted
    read_from = max(0, yesterday, known_from)
    unseen = max(0, day - (start - read_from))  # rounds of the last day not read: first evening
    borrowed = prior.rate * population * unseen if prior is not None and prior.lengths.size else 0
    if not spells and borrowed <= 0:
        return 0
    starts = np.array([s for s, _ in spells], dtype=np.int64)
    lengths = np.array([n for _, n in spells], dtype=np.int64)
    day_span = max(1, start - read_from)
    window = yesterday + AROUND + 1 - lo  # the buckets read around this time yesterday
    if unread(start, day, judged_from) and starts.size:
        here = _busiest(starts)
    else:
        here = float((np.abs(starts - yesterday) <= AROUND).sum()) / max(window, 1)
    # dropouts beginning per round: over the last day, or around this time yesterday
    own = float((starts >= read_from).sum())
    begin = max((own + borrowed) / (day_span + unseen), here)
    ways = day * math.comb(probes, together_k)

    def lasting(m: int) -> float:
        mine = _lasting(lengths, m) * lengths.size if lengths.size else 0.0
        theirs = _lasting(prior.lengths, m) * borrowed if borrowed > 0 and prior else 0.0
        return (mine + theirs) / (lengths.size + borrowed)

    def chance(m: int) -> float:
        rate = begin * lasting(m) / population  # per probe and round, lasting >= m
        return ways * min(1.0, (SIMULTANEOUS + 1) * rate) ** together_k

    # chance(m) falls as m grows: the least m within budget, by bisection
    lo_m, hi_m = 0, day
    budget = DAY_BUDGET / max(series, 1)
    if chance(hi_m) > budget:
        return hi_m
    while lo_m < hi_m:
        mid = (lo_m + hi_m) // 2
        if chance(mid) <= budget:
            hi_m = mid
        else:
            lo_m = mid + 1
    return lo_m


@dataclass(frozen=True, slots=True)
class Prior:
    """The dropouts of a population of probes (the leaves of one network type): how many
    begin per probe and round, and how long they last."""

    rate: float
    lengths: Ints


def silent_habits(day: int) -> Prior:
    """The default for silence with no history (``SILENT_HABITS_H`` in one probe-day)."""
    lengths = np.array([h * day // 24 for h in SILENT_HABITS_H], dtype=np.int64)
    return Prior(len(SILENT_HABITS_H) / day, lengths)


def population(signals: list[Any], probes: list[float]) -> Prior:
    """The dropouts of several series (per-bucket counts, ``dropouts``), each over the rounds
    from the first one it was heard in, with ``probes`` probes each: the prior of the series
    of that network type that have less than a day read (``chance_rounds``)."""
    found: list[int] = []
    exposure = 0.0
    for signal, n in zip(signals, probes, strict=True):
        if n <= 0:
            continue
        found += [length for s, length in dropouts(signal) if s > 0]
        exposure += n * signal.size
    rate = len(found) / exposure if exposure > 0 else 0.0
    return Prior(rate, np.array(found, dtype=np.int64))


def _lasting(lengths: Ints, m: int) -> float:
    """The share of dropouts that last ``m`` rounds or more. Beyond the longest one seen, the
    share of the ``n`` seen that may still be longer (``1 / (n + 1)`` each, the rank argument)
    fades exponentially at their mean length (the maximum-entropy law for a known mean)
    instead of dropping to zero: one night of history showing a desktop off for five hours
    does not say that tonight it cannot be off for six."""
    longest = int(lengths.max())
    if m <= longest:
        return float((lengths >= m).mean())
    at_longest = float((lengths >= longest).sum()) / (lengths.size + 1)
    return at_longest * math.exp(-(m - longest) / float(lengths.mean()))


def _busiest(starts: Ints) -> float:
    """The most dropouts that began within one window of 2 AROUND + 1 buckets, per bucket."""
    width = 2 * AROUND + 1
    mine = np.sort(starts)
    inside = np.searchsorted(mine, mine + width - 1, side="right") - np.arange(mine.size)
    return float(inside.max()) / width
