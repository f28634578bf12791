"""The id rule both stores keep: an id names one record, of one probe, for good.

A record re-sent with the same id and the same content is a duplicate (at-least-once delivery
makes those normal); the same id with other content, in one batch or against what is stored,
or under another probe, is refused for that record, so that no store silently keeps one of two
records (SQLite did) or lists two records under one id (InfluxDB did).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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


def _problem(record: Keyed, what: str) -> RecordProblem:
    return RecordProblem(
        group=record.group,
        index=record.index,
        message=f"id {record.id!r} {what}; an id is made once, where its record is born, "
        "and a re-sent record must be sent unchanged",
        kind="id_conflict",
    )
