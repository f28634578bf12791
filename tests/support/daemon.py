"""The daemon's fakes: a round that returns plain data, in process (``fake_result``,
``make_daemon``) and as a module a ``tyndau probe run`` subprocess imports (``FAKE_ROUND``, run
by ``LAUNCHER``); the real round is tested in tests/probe/test_round.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from probe.daemon import Daemon
from probe.ids import uuid7
from probe.model import (
    Category,
    Measurement,
    TargetRef,
    Vantage,
    Verdict,
    utcnow,
)
from probe.outbox import Outbox
from probe.settings import OutboxSettings, ProbeSettings, ScheduleSettings
from probe.uploader import Uploader
from tests.support.records import measurement, verdict

OPERATOR_TOKEN = "operator-token-for-tests-0123"
VANTAGE = Vantage("KZ", 9198, "fixed")

FAKE_ROUND = '''
"""A fake round for daemon subprocesses: plain data, a journal of what it returned."""
import asyncio, json, os
from dataclasses import dataclass
from probe.ids import uuid7
from probe.model import (Category, Measurement, TargetRef, TestKind, Vantage, Verdict,
                         VerdictKind, format_time, utcnow)

@dataclass
class Result:
    round_id: str
    started_at: object
    measurements: list
    verdicts: list

async def run_round(settings, *, probe_id, targets=None, tests=None):
    started, round_id = utcnow(), uuid7()
    vantage = Vantage(settings.cc, settings.asn, settings.network)
    target = TargetRef("example", "example.test", Category.PLATFORM)
    measurements = []
    for _ in range(int(os.environ.get("FAKE_PER_ROUND", "5"))):
        await asyncio.sleep(float(os.environ.get("FAKE_STEP_S", "0.1")))
        measurements.append(Measurement(
            id=uuid7(), probe_id=probe_id, probe_version="0.1.0", vantage=vantage,
            target=target, test=TestKind.DNS, started_at=utcnow(), duration_ms=1.5,
            outcome="ok", round_id=round_id, details={}))
    verdict = Verdict(
        id=uuid7(), probe_id=probe_id, vantage=vantage, target=target, round_id=round_id,
        at=utcnow(), verdict=VerdictKind.ACCESSIBLE, method=None, reason=None, confidence=0.9,
        measurement_ids=tuple(m.id for m in measurements))
    with open(os.environ["FAKE_JOURNAL"], "a") as journal:
        journal.write(json.dumps({"round_id": round_id, "pid": os.getpid(), "measurements": {
            m.id: format_time(m.started_at) for m in measurements}}) + "\\n")
    return Result(round_id, started, measurements, [verdict])
'''

LAUNCHER = '''
"""``tyndau probe run`` with the fake round injected: the seam is a keyword, not production
code reading the environment."""
import sys
import fakeround
from probe import daemon
from probe.cli import build_parser
from probe.logs import setup_logging
args = build_parser().parse_args(sys.argv[1:])
setup_logging(fmt=args.log_format, verbose=args.verbose)
sys.exit(daemon.main(args, round_function=fakeround.run_round))
'''


@dataclass
class FakeResult:
    round_id: str
    started_at: datetime
    measurements: list[Measurement]
    verdicts: list[Verdict]


def fake_result(probe_id: str, *, n: int = 3, pad: int = 0) -> FakeResult:
    round_id, at = uuid7(), utcnow()
    target = TargetRef("example", "example.test", Category.PLATFORM)
    details = {"pad": "x" * pad} if pad else {}
    ms = [
        measurement(uuid7(), probe_id, VANTAGE, target, at, round_id=round_id, details=details)
        for _ in range(n)
    ]
    judged = verdict(
        uuid7(),
        probe_id,
        VANTAGE,
        target,
        at,
        round_id=round_id,
        confidence=0.9,
        measurement_ids=tuple(m.id for m in ms),
    )
    return FakeResult(round_id, at, ms, [judged])


def settings_for(tmp_path: Path, **schedule: Any) -> ProbeSettings:
    return ProbeSettings(
        cc="KZ",
        asn=9198,
        network="fixed",
        state_dir=tmp_path,
        schedule=ScheduleSettings(**{"round_minutes": 0.05, "jitter_seconds": 0, **schedule}),
        outbox=OutboxSettings(path=tmp_path / "outbox.sqlite3", max_bytes=10**7),
    )


def make_daemon(
    tmp_path: Path,
    round_function: Callable[..., Any],
    *,
    uploader: Uploader | None = None,
    outbox: Outbox | None = None,
    test_minutes: dict[str, float] | None = None,
    **kw: Any,
) -> Daemon:
    settings = settings_for(tmp_path, test_minutes=test_minutes or {})
    return Daemon(
        settings,
        probe_id="p1",
        outbox=outbox or Outbox(settings.outbox.path, max_bytes=settings.outbox.max_bytes),
        uploader=uploader,
        round_function=round_function,
        **kw,
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 0.2 s; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
