"""The strict ingest schema: pydantic v2 models over probe/model.py's wire dataclasses.

Unknown fields, wrong JSON types and missing ids are rejected with the field's path. Values that
become InfluxDB tags may hold spaces, commas, ``=``, quotes and any printable Unicode, which are
stored exactly as sent; control characters and backslashes are rejected, because line protocol
cannot carry them exactly in a tag (https://docs.influxdata.com/influxdb/v1/write_protocols/
line_protocol_reference/#special-characters).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
)
from pydantic_core import PydanticCustomError

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
    format_time,
)

MAX_BATCH_RECORDS = 10_000  # hard cap; settings may set a lower one
FUTURE_SKEW = timedelta(minutes=5)


# Unicode categories Cc (control), Cs (surrogates), Zl and Zp (line/paragraph separators), and
# the backslash: what a line-protocol tag cannot carry exactly. Surrogates never get this far:
# JSON with a lone one is invalid, and pydantic-core rejects them in Python strings.
_NOT_IN_TAGS = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\\\"
# Checked in Rust by pydantic-core (no Python call per value): none of the characters above, and
# no whitespace at either end (Rust's \s is Unicode White_Space, which is what str.strip()
# strips once control characters are excluded).
TAG_PATTERN = f"^[^{_NOT_IN_TAGS}\\s](?:[^{_NOT_IN_TAGS}]*[^{_NOT_IN_TAGS}\\s])?$"
_NOT_IN_TAGS_RE = re.compile(f"[{_NOT_IN_TAGS}]")
_BAD_CHARACTER = "character {!r} is not allowed here (no control characters or backslashes)"


def tag_problem(value: str) -> str:
    """Why ``value`` fails ``TAG_PATTERN``, in words that say what to fix."""
    bad = _NOT_IN_TAGS_RE.search(value)
    if bad is not None:
        return _BAD_CHARACTER.format(bad.group())
    return "no leading or trailing whitespace"


def explain_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors with a tag's pattern mismatch told as the character or space to fix.

    The echoed input is made sendable as JSON: bytes that are not UTF-8 and strings with lone
    surrogates are escaped, NaN and infinities become their names, and long inputs are cut, so
    that the 422 itself never fails to encode (which was a 500).
    """
    explained = []
    for error in errors:
        item = dict(error)
        context = item.get("ctx") or {}
        if item.get("type") == "string_pattern_mismatch" and context.get("pattern") == TAG_PATTERN:
            del item["ctx"]
            item["msg"] = tag_problem(str(item.get("input", "")))
        if "input" in item:
            item["input"] = sendable(item["input"])
        if "ctx" in item:
            item["ctx"] = sendable(item["ctx"])
        explained.append(item)
    return explained


ECHO_LIMIT = 200  # characters of a bad input echoed back


def sendable(value: Any, depth: int = 0) -> Any:
    """``value`` as something JSON can carry exactly as text: the echo of a 422."""
    if isinstance(value, dict) and depth < 8:
        return {str(sendable(k, depth + 1)): sendable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple) and depth < 8:
        return [sendable(v, depth + 1) for v in value[:50]]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, bytes | bytearray):
        value = bytes(value[: ECHO_LIMIT * 4]).decode("utf-8", "backslashreplace")
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + "..."


# RFC 3339 section 5.6 with upper-case T and Z, seconds required, at most microseconds (what
# both stores keep exactly): anything else, a Unix number included, is refused, not guessed.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")


def _rfc3339_text(value: Any) -> Any:
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        return value
    raise PydanticCustomError(
        "rfc3339",
        "must be an RFC 3339 string such as 2022-01-05T10:00:00.123456Z "
        "(upper-case T and Z or an offset, at most 6 fraction digits)",
    )


def _finite_json(details: dict[str, Any]) -> dict[str, Any]:
    """Refuse NaN and infinities anywhere in ``details``: JSON cannot carry them back."""
    stack: list[tuple[str, Any]] = [("details", details)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float):
            if not math.isfinite(value):
                raise PydanticCustomError(
                    "finite_number",
                    "{path}: {value} is not a finite number; send a finite number, a string "
                    "or null",
                    {"path": path, "value": repr(value)},
                )
        elif isinstance(value, dict):
            stack.extend((f"{path}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}.{index}", item) for index, item in enumerate(value))
    return details


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


# Both stores keep 64-bit nanoseconds (up to 2262); measurements began long after 2000.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), Field(ge=EARLIEST, lt=LATEST)]
# What both stores hold: SQLite INTEGER and InfluxDB integer fields are signed 64-bit.
INT64_MAX = 2**63 - 1
Count = Annotated[StrictInt, Field(ge=0, le=INT64_MAX)]
Details = Annotated[dict[str, Any], AfterValidator(_finite_json)]
TagText = Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=TAG_PATTERN)]
RECORD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
RecordId = Annotated[StrictStr, Field(pattern=RECORD_ID_PATTERN)]
OUTCOMES = (OK, *(f.value for f in Failure))
if TYPE_CHECKING:
    Outcome = str
else:  # a Literal is checked in Rust; its 422 lists the outcomes that are allowed
    Outcome = Literal[OUTCOMES]
Confidence = Annotated[StrictFloat, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[StrictFloat, Field(ge=0.0)]


CC_PATTERN = r"^[A-Z]{2}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class VantageIn(_Strict):
    cc: Annotated[StrictStr, Field(pattern=CC_PATTERN, description="ISO 3166-1 alpha-2")]
    asn: Annotated[StrictInt, Field(ge=0, le=4_294_967_295)]
    network: TagText


class TargetIn(_Strict):
    name: TagText
    domain: Annotated[StrictStr, Field(min_length=1, max_length=253)]
    category: Category


class Shared:
    """One frozen ``Vantage`` or ``TargetRef`` per distinct value in a batch.

    A batch is one probe's: its records repeat a vantage and a few targets, so building each
    once (keyed by a plain tuple, far cheaper to hash than a pydantic model) saves about a
    third of the conversion to wire dataclasses.
    """

    def __init__(self) -> None:
        self._vantages: dict[tuple[str, int, str], Vantage] = {}
        self._targets: dict[tuple[str, str, Category], TargetRef] = {}

    def vantage(self, v: VantageIn) -> Vantage:
        key = (v.cc, v.asn, v.network)
        found = self._vantages.get(key)
        if found is None:
            found = self._vantages[key] = Vantage(cc=v.cc, asn=v.asn, network=v.network)
        return found

    def target(self, t: TargetIn) -> TargetRef:
        key = (t.name, t.domain, t.category)
        found = self._targets.get(key)
        if found is None:
            found = self._targets[key] = TargetRef(
                name=t.name, domain=t.domain, category=t.category
            )
        return found


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
    details: Details = Field(default_factory=dict)  # from JSON, all numbers finite
    schema_: Literal["tyndau.measurement/1"] = Field("tyndau.measurement/1", alias="schema")

    def to_model(self, shared: Shared) -> Measurement:
        """The wire dataclass; ``details`` is handed over, not copied (the batch is dropped)."""
        return Measurement(
            id=self.id,
            probe_id=self.probe_id,
            probe_version=self.probe_version,
            vantage=shared.vantage(self.vantage),
            target=shared.target(self.target),
            test=self.test,
            started_at=self.started_at,
            duration_ms=self.duration_ms,
            outcome=self.outcome,
            round_id=self.round_id,
            details=self.details,
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

    def to_model(self, shared: Shared) -> Verdict:
        return Verdict(
            id=self.id,
            probe_id=self.probe_id,
            vantage=shared.vantage(self.vantage),
            target=shared.target(self.target),
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
    outbox_depth: Count
    dropped: dict[Annotated[StrictStr, Field(max_length=64)], Count] = Field(default_factory=dict)
    schema_: Literal["tyndau.heartbeat/1"] = Field("tyndau.heartbeat/1", alias="schema")

    def to_model(self, shared: Shared) -> Heartbeat:
        return Heartbeat(
            id=self.id,
            probe_id=self.probe_id,
            probe_version=self.probe_version,
            vantage=shared.vantage(self.vantage),
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

    def to_models(self) -> tuple[list[Measurement], list[Verdict], list[Heartbeat]]:
        """The batch as probe/model.py's wire dataclasses, equal vantages and targets shared."""
        shared = Shared()
        return (
            [m.to_model(shared) for m in self.measurements],
            [v.to_model(shared) for v in self.verdicts],
            [h.to_model(shared) for h in self.heartbeats],
        )


class Records(Protocol):
    """A batch's three groups: ``BatchIn``'s models or the wire dataclasses made from them
    (collector/schema_fast.py's ``Batch``); each record has ``probe_id`` and its time."""

    @property
    def measurements(self) -> Sequence[Any]: ...
    @property
    def verdicts(self) -> Sequence[Any]: ...
    @property
    def heartbeats(self) -> Sequence[Any]: ...


def batch_problems(batch: Records, *, probe_id: str, now: datetime) -> list[dict[str, Any]]:
    """Checks beyond types: records of another probe, timestamps more than 5 min in the future.

    Errors use FastAPI's shape (``loc``, ``msg``, ``type``) so a client reads every 422 alike.
    """
    problems: list[dict[str, Any]] = []
    latest = now + FUTURE_SKEW
    groups: list[tuple[str, Sequence[Any], str]] = [
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
                        f"{format_time(at)} is more than 5 minutes in the future; "
                        "check the probe's clock (NTP)",
                        "timestamp_in_future",
                    )
                )
    return problems


def _problem(loc: tuple[str | int, ...], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind}
