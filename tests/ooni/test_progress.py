"""The terminal progress line: redrawn at most twice a second, records/s and bad lines."""

from __future__ import annotations

import io

from collector.ooni.importer import Summary
from collector.ooni.progress import Progress
from tests.support.clock import Clock


def test_progress_line() -> None:
    stream, clock = io.StringIO(), Clock(100.0)
    progress = Progress(stream, clock=clock)
    summary = Summary(records=10, bad=1)
    progress(summary)
    assert stream.getvalue() == ""  # not yet: at most every half second
    clock.now += 2.0
    summary.records = 5000
    summary.verdicts["blocked"] = 7
    progress(summary)
    assert stream.getvalue() == "\r5000 records  2,500/s  1 bad  7 blocked "
    progress.done()
    assert stream.getvalue().endswith("\n")


def test_nothing_drawn_nothing_ended() -> None:
    stream = io.StringIO()
    Progress(stream, clock=Clock(100.0)).done()
    assert stream.getvalue() == ""
