"""The id rule both stores keep: an id names one record, of one probe, for good.

A record re-sent with the same id and the same content is a duplicate (at-least-once delivery
makes those normal); the same id with other content, in one batch or against what is stored,
or under another probe, is refused for that record, so that no store silently keeps one of two
records (SQLite did) or lists two records under one id (InfluxDB did).
"""

from __future__ import annotations

import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from collector.store.base import RecordProblem, StoreConflictError


@dataclass(frozen=True, slots=True)
class Keyed:
    """What the rule looks at in one record: where it sits in the batch, its id, its content."""

    group: str  # "measurements", "verdicts" or "heartbeats"
    index: int
    id: str
    probe_id: str
    content: str  # the stored form's text (SQLite) or its digest (InfluxDB)
    ns: int = 0  # its storage time (InfluxDB looks ids up near it)


@dataclass(slots=True)
class Sorted:
    """The records to write (positions in the batch) and the duplicates left out."""

    fresh: list[int] = field(default_factory=list)
    duplicates: int = 0


def same_content(a: str, b: str) -> bool:
    """Equal texts, or equal JSON (a re-sent record whose keys came in another order)."""
    if a == b:
        return True
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return False


def sort_out(batch: Sequence[Keyed], stored: Mapping[tuple[str, str], Keyed]) -> Sorted:
    """Apply the id rule to ``batch`` given the records already stored under its ids.

    Raises StoreConflictError naming every record that breaks the rule.
    """
    result = Sorted()
    seen: dict[tuple[str, str], Keyed] = dict(stored)
    problems: list[RecordProblem] = []
    for position, record in enumerate(batch):
        key = (record.group, record.id)
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = record
            result.fresh.append(position)
        elif earlier.probe_id != record.probe_id:
            problems.append(_problem(record, "belongs to a record of another probe"))
        elif not same_content(earlier.content, record.content):
            problems.append(_problem(record, "names a record with other content"))
        else:
            result.duplicates += 1
    if problems:
        raise StoreConflictError(f"{len(problems)} record(s) reuse an id", problems)
    return result


class KnownIds:
    """A bounded, thread-safe memory of ids this process wrote or found stored, with their
    probe and content: what the store holds under them, so a re-send of a recent record needs
    no lookup. Exact while the store keeps those points (the id rule never lets other content
    replace them); a point dropped by a retention policy or by hand is still "known" until it
    falls out of the memory (the oldest go first), so a re-send of it within that span counts
    as a duplicate and is not written again. About 0.3 KB per id (probe ids interned)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._known: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def split(self, batch: Sequence[Keyed]) -> tuple[dict[tuple[str, str], Keyed], list[Keyed]]:
        """(the known records under the batch's ids, the batch's records still to look up)."""
        known: dict[tuple[str, str], Keyed] = {}
        unknown: list[Keyed] = []
        with self._lock:
            for record in batch:
                key = (record.group, record.id)
                hit = self._known.get(key)
                if hit is None:
                    unknown.append(record)
                else:
                    known[key] = Keyed(record.group, -1, record.id, hit[0], hit[1])
                    self._known.move_to_end(key)
        return known, unknown

    def remember(self, records: Iterable[Keyed]) -> None:
        """Records now stored (written by this process, or found in the store)."""
        with self._lock:
            for record in records:
                key = (record.group, record.id)
                self._known[key] = (sys.intern(record.probe_id), record.content)
                self._known.move_to_end(key)
            while len(self._known) > self.capacity:
                self._known.popitem(last=False)


def _problem(record: Keyed, what: str) -> RecordProblem:
    return RecordProblem(
        group=record.group,
        index=record.index,
        message=f"id {record.id!r} {what}; an id is made once, where its record is born, "
        "and a re-sent record must be sent unchanged",
        kind="id_conflict",
    )
