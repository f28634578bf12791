"""A one-line progress display for long imports on a terminal: records/s and bad lines."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from collector.ooni.importer import Summary

INTERVAL_S = 0.5


@dataclass
class Progress:
    """Redraws ``\\r``-style on ``stream`` at most every INTERVAL_S; ``done`` ends the line."""

    stream: TextIO
    clock: Callable[[], float] = time.monotonic
    _start: float = field(default=0.0)
    _last: float = field(default=0.0)
    _drawn: bool = False

    def __post_init__(self) -> None:
        self._start = self._last = self.clock()

    def __call__(self, summary: Summary) -> None:
        now = self.clock()
        if now - self._last < INTERVAL_S:
            return
        self._last = now
        rate = summary.records / max(now - self._start, 1e-9)
        self.stream.write(
            f"\r{summary.records} records  {rate:,.0f}/s  {summary.bad} bad  "
            f"{summary.verdicts.get('blocked', 0)} blocked "
        )
        self.stream.flush()
        self._drawn = True

    def done(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
