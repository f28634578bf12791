"""The strict ingest schema: pydantic v2 models over probe/model.py's wire dataclasses.

Unknown fields, wrong JSON types and missing ids are rejected with the field's path. Values that
become InfluxDB tags may hold spaces, commas, ``=``, quotes and any printable Unicode, which are
stored exactly as sent; control characters and backslashes are rejected, because line protocol
cannot carry them exactly in a tag (https://docs.influxdata.com/influxdb/v1/write_protocols/
line_protocol_reference/#special-characters).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from probe.failures import OK, Failure
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

MAX_BATCH_RECORDS = 10_000  # hard cap; settings may set a lower one
FUTURE_SKEW = timedelta(minutes=5)


# Unicode categories Cc (control), Cs (surrogates), Zl and Zp (line/paragraph separators), and
# the backslash: what a line-protocol tag cannot carry exactly.
_NOT_IN_TAGS = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff\\u2028\\u2029\\\\]")


def _tag_safe(value: str) -> str:
    """Reject what a line-protocol tag cannot hold exactly: control characters, backslashes."""
    bad = _NOT_IN_TAGS.search(value)
    if bad is not None:
        raise ValueError(
            f"character {bad.group()!r} is not allowed here (no control characters or backslashes)"
        )
    if value != value.strip():
        raise ValueError("no leading or trailing whitespace")
    return value


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


# Both stores keep 64-bit nanoseconds (up to 2262); measurements began long after 2000.
Timestamp = Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]
TagText = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_tag_safe)]
RecordId = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
OUTCOMES = (OK, *(f.value for f in Failure))


def _known_outcome(value: str) -> str:
    if value not in OUTCOMES:
        raise ValueError(f"unknown outcome {value!r}: 'ok' or a probe.failures string")
    return value


Outcome = Annotated[
    StrictStr, AfterValidator(_known_outcome), Field(json_schema_extra={"enum": list(OUTCOMES)})
]
Confidence = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[StrictFloat, Field(ge=0.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class VantageIn(_Strict):
    cc: Annotated[StrictStr, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
    asn: Annotated[StrictInt, Field(ge=0, le=4_294_967_295)]
    network: TagText

    def to_model(self) -> Vantage:
        return Vantage(cc=self.cc, asn=self.asn, network=self.network)


class TargetIn(_Strict):
    name: TagText
    domain: Annotated[StrictStr, Field(min_length=1, max_length=253)]
    category: Category

    def to_model(self) -> TargetRef:
        return TargetRef(name=self.name, domain=self.domain, category=self.category)


class MeasurementIn(_Strict):
    id: RecordId
    probe_id: RecordId
    probe_version: Annotated[StrictStr, Field(min_length=1, max_length=40)]
    vantage: VantageIn
    target: TargetIn
    test: TestKind
    started_at: Timestamp
    duration_ms: NonNegative
    outcome: Outcome
    round_id: RecordId
    details: dict[str, Any] = Field(default_factory=dict)  # came from JSON: JSON-valid
    schema_: Literal["tyndau.measurement/1"] = Field("tyndau.measurement/1", alias="schema")

    def to_model(self) -> Measurement:
        return Measurement(
            id=self.id,
            probe_id=self.probe_id,
            probe_version=self.probe_version,
            vantage=self.vantage.to_model(),
            target=self.target.to_model(),
            test=self.test,
            started_at=self.started_at,
            duration_ms=self.duration_ms,
            outcome=str(self.outcome),
            round_id=self.round_id,
            details=dict(self.details),
        )


class VerdictIn(_Strict):
    id: RecordId
    probe_id: RecordId
    vantage: VantageIn
    target: TargetIn
    round_id: RecordId
    at: Timestamp
    verdict: VerdictKind
    method: BlockMethod | None
    reason: Reason | None
    confidence: Confidence
    measurement_ids: Annotated[list[RecordId], Field(max_length=256)]
    explanation: Annotated[StrictStr, Field(max_length=4000)] = ""
    schema_: Literal["tyndau.verdict/1"] = Field("tyndau.verdict/1", alias="schema")

    def to_model(self) -> Verdict:
        return Verdict(
            id=self.id,
            probe_id=self.probe_id,
            vantage=self.vantage.to_model(),
            target=self.target.to_model(),
            round_id=self.round_id,
            at=self.at,
            verdict=self.verdict,
            method=self.method,
            reason=self.reason,
            confidence=self.confidence,
            measurement_ids=tuple(self.measurement_ids),
            explanation=self.explanation,
        )


class HeartbeatIn(_Strict):
    id: RecordId
    probe_id: RecordId
    probe_version: Annotated[StrictStr, Field(min_length=1, max_length=40)]
    vantage: VantageIn
    at: Timestamp
    uptime_s: NonNegative
    outbox_depth: Annotated[StrictInt, Field(ge=0)]
    dropped: dict[Annotated[StrictStr, Field(max_length=64)], Annotated[StrictInt, Field(ge=0)]] = (
        Field(default_factory=dict)
    )
    schema_: Literal["tyndau.heartbeat/1"] = Field("tyndau.heartbeat/1", alias="schema")

    def to_model(self) -> Heartbeat:
        return Heartbeat(
            id=self.id,
            probe_id=self.probe_id,
            probe_version=self.probe_version,
            vantage=self.vantage.to_model(),
            at=self.at,
            uptime_s=self.uptime_s,
            outbox_depth=self.outbox_depth,
            dropped=dict(self.dropped),
        )


class BatchIn(_Strict):
    """What a probe posts to /v1/measurements (``tyndau.batch/1``)."""

    schema_: Literal["tyndau.batch/1"] = Field(alias="schema")
    measurements: Annotated[list[MeasurementIn], Field(max_length=MAX_BATCH_RECORDS)] = []
    verdicts: Annotated[list[VerdictIn], Field(max_length=MAX_BATCH_RECORDS)] = []
    heartbeats: Annotated[list[HeartbeatIn], Field(max_length=MAX_BATCH_RECORDS)] = []

    @property
    def size(self) -> int:
        return len(self.measurements) + len(self.verdicts) + len(self.heartbeats)


def batch_problems(batch: BatchIn, *, probe_id: str, now: datetime) -> list[dict[str, Any]]:
    """Checks beyond types: records of another probe, timestamps more than 5 min in the future.

    Errors use FastAPI's shape (``loc``, ``msg``, ``type``) so a client reads every 422 alike.
    """
    problems: list[dict[str, Any]] = []
    latest = now + FUTURE_SKEW
    groups: list[tuple[str, list[Any], str]] = [
        ("measurements", batch.measurements, "started_at"),
        ("verdicts", batch.verdicts, "at"),
        ("heartbeats", batch.heartbeats, "at"),
    ]
    for group, items, time_field in groups:
        for index, item in enumerate(items):
            if item.probe_id != probe_id:
                problems.append(
                    _problem(
                        (group, index, "probe_id"),
                        f"probe_id {item.probe_id!r} is not the probe of this token",
                        "probe_mismatch",
                    )
                )
            at: datetime = getattr(item, time_field)
            if at > latest:
                problems.append(
                    _problem(
                        (group, index, time_field),
                        f"{at.isoformat()} is more than 5 minutes in the future; "
                        "check the probe's clock (NTP)",
                        "timestamp_in_future",
                    )
                )
    return problems


def _problem(loc: tuple[str | int, ...], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind}
