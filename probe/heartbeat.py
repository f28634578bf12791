"""Heartbeats: a small record every minute, so that a probe's silence is itself a signal.

A heartbeat is stored in the outbox like any measurement: during a shutdown the heartbeats pile
up locally with their own times and, once uploaded, show the collector when the probe was alive
but cut off (as opposed to switched off). It also reports what the disk cap dropped.

What is not needed to judge a shutdown is coarsened before it leaves the device
(docs/volunteers.md): the daemon's uptime to whole hours and the outbox depth to two significant
digits, so neither becomes a counter that tells one device's heartbeats apart from another's.
"""

from __future__ import annotations

from datetime import datetime

from probe import __version__
from probe.ids import uuid7
from probe.model import Heartbeat, Vantage


def make_heartbeat(
    *,
    probe_id: str,
    vantage: Vantage,
    at: datetime,
    started_at: datetime,
    outbox_depth: int,
    dropped: dict[str, int],
) -> Heartbeat:
    """A heartbeat at ``at`` for a daemon started at ``started_at`` (pure: the clock is passed)."""
    return Heartbeat(
        id=uuid7(unix_ms=int(at.timestamp() * 1000)),
        probe_id=probe_id,
        probe_version=__version__,
        vantage=vantage,
        at=at,
        uptime_s=coarse_uptime((at - started_at).total_seconds()),
        outbox_depth=coarse_depth(outbox_depth),
        dropped=dict(sorted(dropped.items())),
    )


UPTIME_STEP_S = 3600


def coarse_uptime(seconds: float) -> float:
    """Uptime rounded down to whole hours: enough to see a restart, not to fingerprint one."""
    return float(max(0, int(seconds // UPTIME_STEP_S)) * UPTIME_STEP_S)


def coarse_depth(records: int) -> int:
    """A count to two significant digits (0..99 exact, 1234 -> 1200): a backlog's size, not
    an exact counter that would match one device's uploads."""
    if records < 100:
        return max(0, records)
    scale: int = 10 ** (len(str(records)) - 2)
    return records // scale * scale
