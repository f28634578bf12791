"""When the daemon's jobs run: three APScheduler 3 interval jobs (``probe run``).

A round every ``round_minutes``, with random jitter so a fleet does not measure in lockstep
(``max_instances=1`` and ``coalesce``: a slow round delays the next, never stacks); a heartbeat
every ``heartbeat_seconds``; an upload check every few seconds. The jobs are plain callables, so
the daemon's methods stay callable directly in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from probe.settings import ScheduleSettings

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

UPLOAD_CHECK_S = 5.0
ROUND_JOB = "round"


def start_jobs(
    schedule: ScheduleSettings,
    *,
    round_job: Callable[[], object],
    heartbeat_job: Callable[[], None] | None,
    upload_job: Callable[[], None],
    first_round_delay_s: float,
    tz: tzinfo | None,
) -> BackgroundScheduler:
    """Start a background scheduler running the three jobs (no heartbeat job when it is None):
    the first round after ``first_round_delay_s``, the first heartbeat at once."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    round_s = schedule.round_minutes * 60
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=3)},
        job_defaults={"max_instances": 1, "coalesce": True},
        timezone="UTC",
    )
    start = datetime.now(tz=tz)
    scheduler.add_job(
        round_job,
        "interval",
        id=ROUND_JOB,
        seconds=round_s,
        jitter=schedule.jitter_seconds or None,
        misfire_grace_time=max(1, int(round_s)),
        next_run_time=start + timedelta(seconds=first_round_delay_s),
    )
    if heartbeat_job is not None:
        scheduler.add_job(
            heartbeat_job,
            "interval",
            id="heartbeat",
            seconds=schedule.heartbeat_seconds,
            misfire_grace_time=max(1, int(schedule.heartbeat_seconds)),
            next_run_time=start,
        )
    scheduler.add_job(
        upload_job,
        "interval",
        id="upload",
        seconds=min(UPLOAD_CHECK_S, schedule.heartbeat_seconds),
        misfire_grace_time=max(1, int(UPLOAD_CHECK_S)),
    )
    scheduler.start()
    return scheduler


def next_round(scheduler: BackgroundScheduler) -> datetime | None:
    """When the scheduler runs the next round (None once the job is gone)."""
    job = scheduler.get_job(ROUND_JOB)
    return job.next_run_time if job is not None else None
