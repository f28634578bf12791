"""Heartbeats: a small record every minute, so that a probe's silence is itself a signal.

A heartbeat is stored in the outbox like any measurement: during a shutdown the heartbeats pile
up locally with their own times and, once uploaded, show the collector when the probe was alive
but cut off (as opposed to switched off). It also reports what the disk cap dropped.
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
        uptime_s=round(max(0.0, (at - started_at).total_seconds()), 3),
        outbox_depth=outbox_depth,
        dropped=dict(sorted(dropped.items())),
    )
