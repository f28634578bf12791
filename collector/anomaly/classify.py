"""From anomalous runs to events: kind (shutdown, blocking, throttling, platform outage) and scope.

A run is one series' anomaly; an event explains runs together. Shutdowns come from silence and
offline reports (``shutdowns.py``, with the rules of ``silence.py``), blocking, throttling and
platform outages from target failures (``failures.py``); both group their runs into the widest
scope they fully cover (``grouping.py``). docs/anomaly.md explains every rule.
"""

from __future__ import annotations

from collector.anomaly.failures import failures
from collector.anomaly.grouping import EVERYWHERE, Detection
from collector.anomaly.series import Grid
from collector.anomaly.shutdowns import shutdowns
from collector.anomaly.thresholds import Thresholds

__all__ = ["EVERYWHERE", "Detection", "detect"]


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
    return shutdowns(grid, th, judge_from, hindsight) + failures(grid, th, judge_from)
