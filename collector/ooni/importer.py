"""The import loop: read -> filter -> map -> judge -> (print, store), counting every outcome.

Streaming end to end: one measurement is in memory at a time plus one store batch. Bad input
(unreadable line, truncated gzip, unknown test, missing keys) is counted and reported with file
and line; it never stops the import.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import Any

from collector.ooni.agreement import Agreement
from collector.ooni.envelope import OoniFormatError, parse_ooni_time
from collector.ooni.evidence import Context
from collector.ooni.judge import unjudged_line, verdict_line, verdict_of
from collector.ooni.mapping import map_measurement
from collector.ooni.reader import BadInput, RawRecord, read_records
from collector.ooni.writer import StoreWriter

MAX_REPORTED = 20  # bad inputs listed in the summary; the rest are counted
STAGES = ("read", "map", "judge", "emit", "store")  # Summary.seconds: wall seconds per stage


@dataclass(frozen=True, slots=True)
class Filters:
    """Which measurements to import: ``[since, until)`` on measurement_start_time, cc, test."""

    since: datetime | None = None
    until: datetime | None = None
    cc: str | None = None
    test: str | None = None

    def keep(self, data: object) -> bool:
        """Cheap pre-mapping check on the raw object (malformed ones are kept to be reported)."""
        if not isinstance(data, dict):
            return True
        if self.cc is not None and data.get("probe_cc") != self.cc:
            return False
        if self.test is not None and data.get("test_name") != self.test:
            return False
        if self.since is None and self.until is None:
            return True
        when = data.get("measurement_start_time") or data.get("test_start_time")
        try:
            at = parse_ooni_time(when, "measurement_start_time")
        except OoniFormatError:
            return True
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


NO_FILTERS = Filters()


@dataclass
class Summary:
    """What an import did."""

    records: int = 0  # JSON values read
    imported: int = 0  # mapped and judged
    filtered: int = 0
    unjudged: int = 0  # measurements that could not be mapped (each also a bad input)
    bad: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0
    agreement: Agreement = field(default_factory=Agreement)
    # wall seconds spent in each stage of the loop (bench/ooni_import.py prints them): read is
    # gunzip, split and parse; map, judge; emit the --json line; store the batches' writes
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def problem(self, where: str, text: str) -> None:
        self.bad += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(f"{where}: {text}")

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.verdicts.items())) or "none"
        out = [
            f"read {self.records} record(s): judged {self.imported} ({kinds}), "
            f"not imported {self.unjudged}, filtered out {self.filtered}; bad input {self.bad}"
        ]
        out.append(self.agreement.line())
        if self.stored or self.duplicates:
            out.append(f"store: {self.stored} new record(s), {self.duplicates} already there")
        out += self.problems
        if self.bad > len(self.problems):
            out.append(f"... and {self.bad - len(self.problems)} more bad input(s)")
        return out


class _Clock:
    """Adds the wall time since the last lap to a stage's total."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.began = perf_counter()

    def lap(self, stage: str) -> None:
        mark = perf_counter()
        self.seconds[stage] += mark - self.began
        self.began = mark


def run_import(
    paths: Iterable[Path],
    context: Context,
    *,
    filters: Filters = NO_FILTERS,
    emit: Callable[[dict[str, Any]], None] | None = None,
    writer: StoreWriter | None = None,
    tick: Callable[[Summary], None] | None = None,
) -> Summary:
    """Import every measurement of ``paths``; ``emit`` gets one line per measurement, in order."""
    summary = Summary()
    clock = _Clock(summary.seconds)
    for_store = writer is not None  # else only the verdicts are wanted: no ids to derive
    for item in read_records(paths):
        clock.lap("read")
        if isinstance(item, BadInput):
            summary.problem(f"{item.source}:{item.line}", item.problem)
            continue
        summary.records += 1
        if not filters.keep(item.data):
            summary.filtered += 1
            continue
        try:
            imported = map_measurement(item.data, context, for_store=for_store)
        except OoniFormatError as exc:
            _unjudged(summary, emit, item, str(exc))
            continue
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # a key of an unexpected JSON type deep in test_keys: named, not a traceback
            _unjudged(summary, emit, item, f"malformed measurement ({exc!r})")
            continue
        finally:
            clock.lap("map")
        verdict = verdict_of(imported, for_store=for_store)
        summary.imported += 1
        summary.verdicts[verdict.verdict.value] += 1
        method = None if verdict.method is None else verdict.method.value
        summary.agreement.add(verdict.verdict.value, method, imported.ooni)
        clock.lap("judge")
        if emit is not None:
            emit(verdict_line(imported, verdict))
            clock.lap("emit")
        if writer is not None:
            writer.add(imported, verdict)
            clock.lap("store")
        if tick is not None:
            tick(summary)
            clock.began = perf_counter()
    if writer is not None:
        writer.flush()
        clock.lap("store")
        summary.stored, summary.duplicates = writer.accepted, writer.duplicates
    return summary


def _unjudged(
    summary: Summary,
    emit: Callable[[dict[str, Any]], None] | None,
    item: RawRecord,
    problem: str,
) -> None:
    summary.problem(f"{item.source}:{item.line}", problem)
    summary.unjudged += 1
    if emit is not None:
        emit(unjudged_line(item.data, f"not imported: {problem}"))
