"""The ingest batch decoded by msgspec, with collector/schema.py's pydantic models as the judge.

``decode_batch(body)`` turns a ``tyndau.batch/1`` body into probe/model.py's wire dataclasses.
A valid body is decoded once by msgspec's compiled decoder into the Structs below and checked
while the dataclasses are built: each check is as strict as the pydantic field it mirrors, or
stricter. Whatever msgspec refuses (a wrong type, a length, a number out of range, malformed
JSON, a surrogate) or a check after it refuses (a pattern, a time outside 2000-2200 or one
``datetime`` cannot read) is decoded again by ``BatchIn.model_validate_json``, whose answer is
final: the same 422, naming every field and its fix, that a client always got, or the batch,
where pydantic accepts what this path was stricter about. So the fast path changes the cost of
a valid batch, never what is accepted (tests/collector/test_schema_fast.py compares the two on
hostile and mutated bodies).

Why not pydantic alone: validating a 500-measurement batch took about 16-20 us per measurement,
half of it in the two validators written in Python (the RFC 3339 text of the times, the finite
numbers of ``details``); this path takes about 4-5 us (bench/collector_ingest.py's
``[decoder]`` line). The patterns (ids, tags, country, time) are matched once per distinct value
of a batch, as its records repeat a probe, a vantage, a few targets and rounds. ``details``
needs no walk: msgspec refuses NaN and infinities as malformed JSON and a number beyond a
double's range as out of range, so every float it returns is finite.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from collector.schema import (
    _RFC3339,
    CC_PATTERN,
    EARLIEST,
    INT64_MAX,
    LATEST,
    MAX_BATCH_RECORDS,
    OUTCOMES,
    RECORD_ID_PATTERN,
    TAG_PATTERN,
    BatchIn,
)
from probe.model import (
    BlockMethod,
    Category,
    Heartbeat,
    Measurement,
    Reason,
    TargetRef,
    TestKind,
    Vantage,
    Verdict,
    VerdictKind,
)


def _whole(pattern: str) -> str:
    """A pydantic (Rust regex) pattern as Python's ``re`` must read it: its ``$`` also matches
    before a final newline, ``\\Z`` only at the end."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise ValueError(f"pattern {pattern!r} is not anchored at both ends")
    return "\\A" + pattern[1:-1] + "\\Z"


# The patterns are checked in _fast, once per distinct value of a batch (its records repeat a
# probe, a vantage, a few targets and rounds), not by msgspec once per field: the same checks.
_TAG = re.compile(_whole(TAG_PATTERN)).match
_ID = re.compile(_whole(RECORD_ID_PATTERN)).match
_CC = re.compile(_whole(CC_PATTERN)).match
_TIME = re.compile("\\A" + _RFC3339.pattern + "\\Z").match

TagText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
RecordId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
TimeText = Annotated[str, msgspec.Meta(min_length=20, max_length=32)]
Version = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Count = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
# msgspec has no finite-only float; every double it decodes is finite (see above). pydantic's
# strict float also refuses a JSON integer of 10**18 or more, which msgspec would take: up to
# 2**53 here (285,000 years in milliseconds), anything larger is pydantic's to judge.
NonNegative = Annotated[float, msgspec.Meta(ge=0.0, le=2.0**53)]
Confidence = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
if TYPE_CHECKING:
    Outcome = str
else:
    Outcome = Literal[OUTCOMES]


class VantageFast(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    cc: Annotated[str, msgspec.Meta(min_length=2, max_length=2)]
    asn: Annotated[int, msgspec.Meta(ge=0, le=4_294_967_295)]
    network: TagText


class TargetFast(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: TagText
    domain: Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
    category: Category


class MeasurementFast(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    id: RecordId
    probe_id: RecordId
    probe_version: Version
    vantage: VantageFast
    target: TargetFast
    test: TestKind
    started_at: TimeText
    duration_ms: NonNegative
    outcome: Outcome
    round_id: RecordId
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    schema_: Literal["tyndau.measurement/1"] = msgspec.field(
        default="tyndau.measurement/1", name="schema"
    )


class VerdictFast(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    id: RecordId
    probe_id: RecordId
    vantage: VantageFast
    target: TargetFast
    round_id: RecordId
    at: TimeText
    verdict: VerdictKind
    method: BlockMethod | None
    reason: Reason | None
    confidence: Confidence
    measurement_ids: Annotated[list[RecordId], msgspec.Meta(max_length=256)]
    explanation: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    schema_: Literal["tyndau.verdict/1"] = msgspec.field(default="tyndau.verdict/1", name="schema")


class HeartbeatFast(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    id: RecordId
    probe_id: RecordId
    probe_version: Version
    vantage: VantageFast
    at: TimeText
    uptime_s: NonNegative
    outbox_depth: Count
    dropped: dict[Annotated[str, msgspec.Meta(max_length=64)], Count] = msgspec.field(
        default_factory=dict
    )
    schema_: Literal["tyndau.heartbeat/1"] = msgspec.field(
        default="tyndau.heartbeat/1", name="schema"
    )


_Records = msgspec.Meta(max_length=MAX_BATCH_RECORDS)


class BatchFast(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    schema_: Literal["tyndau.batch/1"] = msgspec.field(name="schema")
    measurements: Annotated[list[MeasurementFast], _Records] = []
    verdicts: Annotated[list[VerdictFast], _Records] = []
    heartbeats: Annotated[list[HeartbeatFast], _Records] = []


_DECODER = msgspec.json.Decoder(BatchFast)


class NotFastError(Exception):
    """The fast path does not take this body; pydantic decides."""


class Batch:
    """A decoded batch as wire dataclasses, equal vantages and targets shared."""

    __slots__ = ("heartbeats", "measurements", "verdicts")

    def __init__(
        self,
        measurements: list[Measurement],
        verdicts: list[Verdict],
        heartbeats: list[Heartbeat],
    ) -> None:
        self.measurements = measurements
        self.verdicts = verdicts
        self.heartbeats = heartbeats

    @property
    def size(self) -> int:
        return len(self.measurements) + len(self.verdicts) + len(self.heartbeats)


def decode_batch(body: bytes) -> Batch:
    """The batch in ``body``; raises pydantic's ``ValidationError`` (the 422) if it is invalid."""
    try:
        return _fast(body)
    except (msgspec.DecodeError, NotFastError):
        pass
    models = BatchIn.model_validate_json(body).to_models()
    return Batch(*models)


def _time(text: str) -> datetime:
    if _TIME(text) is None:
        raise NotFastError(text)
    at = datetime.fromisoformat(text)  # RFC 3339 by the pattern: always with an offset
    if not EARLIEST <= at < LATEST:
        raise NotFastError(text)
    return at


def _record_id(text: str) -> str:
    if _ID(text) is None:
        raise NotFastError(text)
    return text


def _fast(body: bytes) -> Batch:
    decoded = _DECODER.decode(body)
    vantages: dict[VantageFast, Vantage] = {}
    targets: dict[TargetFast, TargetRef] = {}
    ids: set[str] = set()  # probe and round ids found valid in this batch

    def vantage(v: VantageFast) -> Vantage:
        found = vantages.get(v)
        if found is None:
            if _CC(v.cc) is None or _TAG(v.network) is None:
                raise NotFastError(v.network)
            found = vantages[v] = Vantage(cc=v.cc, asn=v.asn, network=v.network)
        return found

    def target(t: TargetFast) -> TargetRef:
        found = targets.get(t)
        if found is None:
            if _TAG(t.name) is None:
                raise NotFastError(t.name)
            found = targets[t] = TargetRef(name=t.name, domain=t.domain, category=t.category)
        return found

    def known(text: str) -> str:
        if text not in ids:
            ids.add(_record_id(text))
        return text

    try:
        measurements = [
            Measurement(
                id=_record_id(m.id),
                probe_id=known(m.probe_id),
                probe_version=m.probe_version,
                vantage=vantage(m.vantage),
                target=target(m.target),
                test=m.test,
                started_at=_time(m.started_at),
                duration_ms=m.duration_ms,
                outcome=m.outcome,
                round_id=known(m.round_id),
                details=m.details,
            )
            for m in decoded.measurements
        ]
        verdicts = [
            Verdict(
                id=_record_id(v.id),
                probe_id=known(v.probe_id),
                vantage=vantage(v.vantage),
                target=target(v.target),
                round_id=known(v.round_id),
                at=_time(v.at),
                verdict=v.verdict,
                method=v.method,
                reason=v.reason,
                confidence=v.confidence,
                measurement_ids=tuple([known(i) for i in v.measurement_ids]),
                explanation=v.explanation,
            )
            for v in decoded.verdicts
        ]
        heartbeats = [
            Heartbeat(
                id=_record_id(h.id),
                probe_id=known(h.probe_id),
                probe_version=h.probe_version,
                vantage=vantage(h.vantage),
                at=_time(h.at),
                uptime_s=h.uptime_s,
                outbox_depth=h.outbox_depth,
                dropped=h.dropped,
            )
            for h in decoded.heartbeats
        ]
    except ValueError as exc:  # a time datetime cannot read (a day 31 of April, 24:00 ...)
        raise NotFastError(str(exc)) from None
    return Batch(measurements, verdicts, heartbeats)
