"""How many probes a series usually has at this time of day: a memory of the last few days.

Volunteers' desktops are off most nights and phones doze; that daily quiet is learned, not
alarmed. For each time of day the memory keeps the fewest probes heard within SEASON_SLACK
buckets on each of the last DAYS_REMEMBERED days and expects their median, so a habit of most
nights is expected while one odd night is not. Buckets inside an anomaly never enter it, so a
shutdown repeated daily (exam shutdowns, Myanmar's nightly cuts of 2021) is found every day; a
stretch that rose but fell back without becoming an event was normal after all and enters it
then. Before a series is first heard nothing is learned, so a group that joins is judged from
its first hour on its recent level instead.
"""

from __future__ import annotations

import warnings

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
        self.tentative = np.full((SLOTS, day, n_series), np.inf)  # heard, before judgement
        self.stretch = np.zeros(n_series, dtype=np.int64)  # first bucket of a positive stretch
        self.opened = np.zeros(n_series, dtype=bool)  # the current stretch became an event

    def expected(self, t: int) -> Array:
        """The median over past days of the fewest probes heard around this time; inf: none."""
        slot = t % self.day
        idx = np.arange(slot - SEASON_SLACK, slot + SEASON_SLACK + 1) % self.day
        past = [d for d in range(SLOTS) if d != (t // self.day) % SLOTS]  # not today
        per_day = self.learned[past][:, idx].min(axis=1)
        with warnings.catch_warnings():  # days not learned yet are NaN; all NaN: no memory
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(np.where(np.isfinite(per_day), per_day, np.nan), axis=0)
        out: Array = np.where(np.isnan(median), np.inf, median)
        return out

    def learn(
        self, t: int, heard: Array, known: Mask, belief: Array, after: Array, open_at: float
    ) -> None:
        """Remember bucket ``t`` where it was normal (or on the first day, always)."""
        ring, slot = (t // self.day) % SLOTS, t % self.day
        seen = np.where(known, heard, np.inf)
        self.tentative[ring, slot] = seen
        self.stretch[(belief <= 0) & (after > 0)] = t
        self.opened |= after >= open_at
        normal = (after <= 0) & (belief <= 0)
        self.learned[ring, slot] = np.where(normal | (t < self.day), seen,
                                            self.learned[ring, slot])  # fmt: skip
        for series in np.flatnonzero((belief > 0) & (after <= 0) & ~self.opened):
            for u in range(max(int(self.stretch[series]), t - self.day + 1), t + 1):
                where = (u // self.day) % SLOTS, u % self.day, series
                self.learned[where] = self.tentative[where]
        self.opened[after <= 0] = False
