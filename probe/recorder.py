"""Builds the Measurement records of one round: ids, probe identity, vantage and timing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from probe import __version__
from probe.ids import uuid7
from probe.model import Measurement, TestKind, Vantage, utcnow
from probe.targets import Target


@dataclass(frozen=True, slots=True)
class Recorder:
    """Stamps each test's outcome and details into a Measurement of this round."""

    probe_id: str
    vantage: Vantage
    round_id: str
    clock: Callable[[], datetime] = field(default=utcnow)

    def record(
        self,
        target: Target,
        test: TestKind,
        *,
        started_at: datetime,
        started_mono: float,
        outcome: str,
        details: dict[str, Any],
    ) -> Measurement:
        return Measurement(
            id=uuid7(),
            probe_id=self.probe_id,
            probe_version=__version__,
            vantage=self.vantage,
            target=target.ref,
            test=test,
            started_at=started_at,
            duration_ms=round((time.monotonic() - started_mono) * 1000, 3),
            outcome=outcome,
            round_id=self.round_id,
            details=details,
        )
