"""``tyndau probe run``: scheduled rounds, heartbeats and uploads, with nothing lost in a shutdown.

``probe/schedule.py`` runs the jobs: a round every ``round_minutes`` (never two at once), a
heartbeat every ``heartbeat_seconds`` and an upload check every few seconds. Every result goes to
the outbox before any upload; the uploader drains it when the collector answers. The round
function and the clock are injected, so tests drive the daemon with plain data. On SIGTERM the
current round gets a short grace to finish, then is abandoned; everything already in the outbox
stays there.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from types import FrameType
from typing import Any, Protocol

from probe.configfile import ConfigError
from probe.heartbeat import make_heartbeat
from probe.memory import release_memory
from probe.model import Measurement, TestKind, Vantage, Verdict, format_time, utcnow
from probe.outbox import Kind, Outbox, OutboxError
from probe.schedule import next_round, start_jobs
from probe.settings import ProbeSettings
from probe.uploader import Backoff, Uploader

log = logging.getLogger("tyndau.daemon")

STOP_GRACE_S = 3.0
ALL_TESTS: frozenset[TestKind] = frozenset(TestKind)


class RoundOutcome(Protocol):
    """What ``probe.round.run_round`` returns (its ``RoundResult``), as the daemon reads it."""

    @property
    def round_id(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def measurements(self) -> list[Measurement]: ...
    @property
    def verdicts(self) -> list[Verdict]: ...


RoundFunction = Callable[..., Awaitable[RoundOutcome]]
Clock = Callable[[], datetime]


def due_tests(
    now: datetime,
    *,
    last_run: Mapping[str, datetime],
    test_minutes: Mapping[str, float],
    allowed: frozenset[TestKind],
) -> frozenset[TestKind]:
    """The tests this round runs: all allowed, minus those with their own interval not yet due.

    A per-test interval shorter than the round interval means "every round".
    """
    chosen = set(allowed)
    for name, minutes in test_minutes.items():
        kind = TestKind(name)
        last = last_run.get(name)
        if kind in chosen and last is not None and now - last < timedelta(minutes=minutes):
            chosen.discard(kind)
    return frozenset(chosen)


class Daemon:
    """The probe's long-running loop; each job is a plain method, callable directly in tests."""

    def __init__(
        self,
        settings: ProbeSettings,
        *,
        probe_id: str,
        outbox: Outbox,
        uploader: Uploader | None,
        round_function: RoundFunction,
        clock: Clock = utcnow,
        raw_allowed: bool = False,
        cap_net_raw: bool = False,
        write_status: Callable[[dict[str, Any]], None] | None = None,
        heartbeats: bool = True,
    ) -> None:
        self.settings = settings
        self.probe_id = probe_id
        self.outbox = outbox
        self.uploader = uploader
        self.round_function = round_function
        self.clock = clock
        self.vantage = Vantage(settings.cc, settings.asn, settings.network)
        self.allowed = ALL_TESTS if raw_allowed else ALL_TESTS - {TestKind.DNS_INJECTION}
        self.raw_allowed = raw_allowed
        self.heartbeats = heartbeats  # off: ``probe run --no-heartbeats`` (docs/volunteers.md)
        self.started_at = clock()
        self.stop_event = threading.Event()
        self.last_test_run: dict[str, datetime] = {}
        self.rounds = 0
        self._round_lock = threading.Lock()
        self._status_lock = threading.Lock()
        self._write_status = write_status
        self._status: dict[str, Any] = {
            "probe_id": probe_id,
            "pid": os.getpid(),
            "started_at": format_time(self.started_at),
            "raw_tests_allowed": raw_allowed,
            "cap_net_raw": cap_net_raw,
            "heartbeats": heartbeats,
        }
        self.next_round: Callable[[], datetime | None] = lambda: None

    def round(self) -> bool:
        """One round, all its records into the outbox in one transaction; True when stored."""
        with self._round_lock:  # never two rounds at once, whatever schedules them
            if self.stop_event.is_set():
                return False
            now = self.clock()
            tests = due_tests(
                now,
                last_run=self.last_test_run,
                test_minutes=self.settings.schedule.test_minutes,
                allowed=self.allowed,
            )
            try:
                result = asyncio.run(self._abandon_on_stop(tests))
            except asyncio.CancelledError:
                log.warning("round abandoned: the daemon is stopping")
                return False
            except ConfigError as exc:  # e.g. the targets file edited badly since the start
                log.error("round skipped, configuration error: %s", exc)
                return False
            except Exception:  # a crash in the round is a bug: log it, keep the daemon alive
                log.exception("round failed")
                return False
            records = [(Kind.MEASUREMENT, m.to_dict()) for m in result.measurements]
            records += [(Kind.VERDICT, v.to_dict()) for v in result.verdicts]
            self.outbox.put(records)
            for kind in tests:
                self.last_test_run[kind.value] = now
            self.rounds += 1
            log.info(
                "round %s: %d measurements, %d verdicts stored",
                result.round_id,
                len(result.measurements),
                len(result.verdicts),
            )
            self._update_status(
                last_round={
                    "round_id": result.round_id,
                    "started_at": format_time(result.started_at),
                    "finished_at": format_time(self.clock()),
                    "tests": sorted(k.value for k in tests),
                    "verdicts": [
                        {
                            "target": v.target.name,
                            "verdict": v.verdict.value,
                            "reason": v.reason.value if v.reason else None,
                        }
                        for v in result.verdicts
                    ],
                }
            )
        self.upload()
        release_memory()  # the round's and its upload's garbage: idle RSS back near its start
        return True

    async def _abandon_on_stop(self, tests: frozenset[TestKind]) -> RoundOutcome:
        task = asyncio.ensure_future(
            self.round_function(self.settings, probe_id=self.probe_id, tests=tests)
        )
        deadline: float | None = None
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.2)
            if done:
                return task.result()
            if self.stop_event.is_set():
                deadline = deadline or time.monotonic() + STOP_GRACE_S
                if time.monotonic() >= deadline:
                    task.cancel()
                    raise asyncio.CancelledError

    def heartbeat(self) -> None:
        """Store a heartbeat reporting the outbox depth and what the disk cap dropped."""
        dropped = self.outbox.pending_dropped()
        beat = make_heartbeat(
            probe_id=self.probe_id,
            vantage=self.vantage,
            at=self.clock(),
            started_at=self.started_at,
            outbox_depth=self.outbox.depth().records,
            dropped=dropped,
        )
        self.outbox.put([(Kind.HEARTBEAT, beat.to_dict())], reported_dropped=dropped)
        self._update_status(last_heartbeat=format_time(beat.at))

    def upload(self) -> None:
        """Drain the outbox if an upload is due (not backing off)."""
        if self.uploader is None or not self.uploader.due() or self.stop_event.is_set():
            return
        report = self.uploader.drain(stop=self.stop_event)
        if report.batches:
            quiet = not report.error and not report.quarantined  # problems are WARNING/ERROR
            log.log(
                logging.DEBUG if quiet else logging.INFO,
                "upload: %d acknowledged (%d new, %d duplicates), %d quarantined%s",
                report.acknowledged,
                report.accepted,
                report.duplicates,
                report.quarantined,
                f"; {report.error}" if report.error else "",
            )
            self._update_status()  # only when something happened: spare SD cards idle writes

    def status(self) -> dict[str, Any]:
        with self._status_lock:
            return dict(self._status)

    def _update_status(self, **changes: Any) -> None:
        with self._status_lock:
            self._status.update(changes)
            depth = self.outbox.depth()
            self._status["outbox_depth"] = depth.records
            self._status["outbox_bytes"] = depth.bytes
            self._status["rounds"] = self.rounds
            up = self.uploader
            if up is not None:
                last = up.last_success
                self._status["last_upload"] = (
                    format_time(datetime.fromtimestamp(last, tz=self.started_at.tzinfo))
                    if last is not None
                    else None
                )
                self._status["last_upload_error"] = up.last_error
            upcoming = self.next_round()
            self._status["next_round"] = format_time(upcoming) if upcoming else None
            snapshot = dict(self._status)
        if self._write_status is not None:
            try:
                self._write_status(snapshot)
            except OSError as exc:
                log.warning("cannot write the status file: %s", exc)

    def run(self, *, first_round_delay_s: float = 1.0) -> bool:
        """Schedule the jobs and block until ``stop_event``; True when every job ended in time."""
        schedule = self.settings.schedule
        scheduler = start_jobs(
            schedule,
            round_job=self.round,
            heartbeat_job=self.heartbeat if self.heartbeats else None,
            upload_job=self.upload,
            first_round_delay_s=first_round_delay_s,
            tz=self.started_at.tzinfo,
        )
        self.next_round = lambda: next_round(scheduler)
        log.info("probe %s running: a round every %.1f min", self.probe_id, schedule.round_minutes)
        self.stop_event.wait()
        scheduler.shutdown(wait=False)
        self.next_round = lambda: None
        finished = self._round_lock.acquire(timeout=STOP_GRACE_S + 2)
        if finished:
            self._round_lock.release()
        self._update_status()
        return finished


def fail(message: str) -> int:
    """One clear line on stderr and exit status 2, as the CLI does for its own errors."""
    print(f"tyndau: {message}", file=sys.stderr)
    return 2


def real_round() -> RoundFunction:
    """``probe.round.run_round``, imported only when the daemon starts measuring."""
    from probe.round import run_round

    return run_round


def check_configuration(settings: ProbeSettings) -> None:
    """Load what every round loads (targets, resolvers, block pages, CA lists) once at start,
    so a missing or wrong file stops ``probe run`` as it stops ``probe once`` (ConfigError)."""
    from probe.environment import load_environment
    from probe.targets import load_targets

    load_targets(settings.targets_file)
    load_environment(settings, ALL_TESTS)


def main(args: argparse.Namespace, *, round_function: RoundFunction | None = None) -> int:
    """``tyndau probe run``; ``round_function`` replaces the real round (tests inject theirs)."""
    from probe.capabilities import has_cap_net_raw
    from probe.credentials import Credentials, CredentialsError, load_credentials
    from probe.settings import settings_for_command
    from probe.status import status_path, write_status

    settings = settings_for_command(args)
    check_configuration(settings)  # ConfigError: one line and exit 2, before anything runs
    credentials: Credentials | None = None
    creds_file = settings.upload.credentials_file
    if creds_file is not None and creds_file.exists():
        try:
            credentials = load_credentials(creds_file)
        except CredentialsError as exc:
            return fail(str(exc))
    probe_id = credentials.probe_id if credentials else settings.probe_id
    if probe_id is None:
        return fail(
            "no probe id: run 'tyndau probe register --collector URL' "
            "(or set probe_id in [probe] to measure without uploading)"
        )
    collector_url = settings.upload.collector_url or (
        credentials.collector_url if credentials else None
    )
    raw_capable = has_cap_net_raw()
    if settings.raw_tests and not raw_capable:
        log.warning("raw_tests is on but this process lacks CAP_NET_RAW: raw tests stay off")
    try:
        outbox = Outbox(settings.outbox.path, max_bytes=settings.outbox.max_bytes)
    except OutboxError as exc:
        return fail(f"{exc}; set [outbox] path to a writable file")
    uploader = None
    if collector_url and credentials:
        uploader = Uploader(
            outbox,
            collector_url=collector_url,
            token=credentials.token,
            batch_max_records=settings.upload.batch_max_records,
            batch_max_bytes=settings.upload.batch_max_bytes,
            timeout_s=settings.timeouts.http,
            backoff=Backoff(cap_s=settings.upload.retry_max_seconds),
        )
    else:
        log.warning("no collector or credentials: measuring and storing locally only")
    path = status_path(settings)
    daemon = Daemon(
        settings,
        probe_id=probe_id,
        outbox=outbox,
        uploader=uploader,
        round_function=round_function or real_round(),
        raw_allowed=settings.raw_tests and raw_capable,
        cap_net_raw=raw_capable,
        write_status=lambda status: write_status(path, status),
        heartbeats=not getattr(args, "no_heartbeats", False),
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        daemon.stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if not daemon.run():
        log.warning("a round did not end within the grace period; it is abandoned")
    log.info("stopped; %d records wait in the outbox", outbox.depth().records)
    # Exit without joining the scheduler's worker threads: an upload stuck in a connect timeout
    # (a blackholed collector) must not delay the stop, and every stored record is already
    # committed (SQLite transactions are atomic), so an abandoned job loses nothing stored.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)
