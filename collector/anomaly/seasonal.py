"""How many probes a series usually has at this time of day: a memory of the last few days.

Volunteers' desktops are off most nights and phones doze; that daily quiet is learned, not
alarmed. For each time of day the memory keeps the fewest probes heard within SEASON_SLACK
buckets on each of the last DAYS_REMEMBERED days and expects their median, so a habit of most
nights is expected while one odd night is not. It learns the probes *heard*, not those up: once
backfilled, a cut's probes are heard (offline), so a shutdown repeated daily (exam shutdowns,
Myanmar's nightly cuts of 2021) is found every day. Before a series is first heard nothing is
learned, so a group that joins is judged from its first hour on its recent level instead.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
SEASON_SLACK = 3  # buckets either side of the same time on past days (sleep times jitter)
DAYS_REMEMBERED = 3  # past days whose quiet hours are expected again ("most nights")
SLOTS = DAYS_REMEMBERED + 1  # a ring of days: the past ones and today


class SeasonalMemory:
    """Per series and time of day, the probes heard on past days (``inf``: not known)."""

    def __init__(self, n_series: int, day: int) -> None:
        self.day = day
        self.learned = np.full((SLOTS, day, n_series), np.inf)

    def expected(self, t: int) -> tuple[Array, Array]:
        """The median and the least, over past days, of the fewest probes heard around this
        time (inf: nothing learned). The median is what to expect of reports; the least is what
        to expect of presence alone, since staying silent can be a habit of some nights."""
        slot = t % self.day
        idx = np.arange(slot - SEASON_SLACK, slot + SEASON_SLACK + 1) % self.day
        today = (t // self.day) % SLOTS
        past = np.array([d for d in range(SLOTS) if d != today], dtype=np.int64)
        per_day = np.sort(self.learned[np.ix_(past, idx)].min(axis=1), axis=0)  # inf sort last
        known = np.isfinite(per_day).sum(axis=0)  # days learned, per series
        # the median of the learned days (DAYS_REMEMBERED = 3: one, two or three of them)
        pair = (per_day[0] + np.where(known >= 2, per_day[1], per_day[0])) / 2
        typical: Array = np.where(known >= 3, per_day[1], np.where(known >= 1, pair, np.inf))
        least: Array = per_day[0]
        return typical, least

    def learn(self, t: int, heard: Array, known: Mask) -> None:
        """Remember how many probes were heard in bucket ``t`` (nothing before a series is first
        heard). Inside an event too: a cut's probes are heard once their outboxes bring the
        offline verdicts (a day later at the latest, for this memory), so a cut does not teach
        silence, while probes that never report back were only off, which is the habit."""
        ring, slot = (t // self.day) % SLOTS, t % self.day
        self.learned[ring, slot] = np.where(known, heard, np.inf)


def expectations(heard_t: Array, day: int) -> tuple[Array, Array]:
    """``SeasonalMemory.expected`` for every bucket at once, from the probes heard (rows =
    buckets, columns = series): what the memory, learning each bucket in turn from the first
    one a series is heard in, would expect at each. The same numbers, computed in one pass
    instead of a Python step per bucket (the watcher evaluates a day and more every cycle)."""
    n_times, n_series = heard_t.shape
    heard_ever = heard_t > 0
    first = np.where(heard_ever.any(axis=0), heard_ever.argmax(axis=0), n_times)
    known = np.arange(n_times)[:, None] >= first[None, :]
    n_days = -(-n_times // day) if n_times else 0
    learned = np.full((n_days * day, n_series), np.inf)
    learned[:n_times] = np.where(known, heard_t, np.inf)
    by_day = learned.reshape(n_days, day, n_series)
    fewest = by_day.copy()  # per day and time of day: the fewest within SEASON_SLACK (wrapping)
    for shift in range(1, SEASON_SLACK + 1):
        fewest = np.minimum(fewest, np.roll(by_day, shift, axis=1))
        fewest = np.minimum(fewest, np.roll(by_day, -shift, axis=1))
    t = np.arange(n_times)
    today, slot = t // day, t % day
    per_day = np.full((DAYS_REMEMBERED, n_times, n_series), np.inf)
    for k in range(1, DAYS_REMEMBERED + 1):
        past = today - k
        ok = past >= 0
        per_day[k - 1, ok] = fewest[past[ok], slot[ok]]
    per_day.sort(axis=0)
    known_days = np.isfinite(per_day).sum(axis=0)
    pair = (per_day[0] + np.where(known_days >= 2, per_day[1], per_day[0])) / 2
    typical: Array = np.where(known_days >= 3, per_day[1], np.where(known_days >= 1, pair, np.inf))
    least: Array = per_day[0]
    return typical, least
