"""The df-000-base envelope of one OONI measurement, read into a typed record.

ooni/spec data-formats/df-000-base.md: ``test_name``, ``input``, ``report_id``,
``measurement_start_time`` ("2006-01-02 15:04:05", UTC), ``test_start_time``, ``probe_cc``,
``probe_asn`` ("AS1234"), ``annotations.network_type``, ``test_keys``. The archive adds
``measurement_uid`` (OONI API) beside them. ``probe_ip`` is never read: tyndau keeps no address.

Only what a verdict needs is required: ``test_name``, ``test_keys`` and a time
(``measurement_start_time``, else ``test_start_time``). A measurement OONI's probe made but
never submitted (``miniooni -n``, a run without a collector, OONI's own QA runs) has an empty
``report_id`` and no ``measurement_uid``: it is read, and its ids are derived from what it holds
(collector/ooni/mapping.py). A missing ``probe_cc`` / ``probe_asn`` is OONI's "not shared"
(``ZZ`` / ``AS0``). A key that is present but malformed raises :class:`OoniFormatError` naming
the key and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_ASN = re.compile(r"^AS(\d{1,10})$")
_CC = re.compile(r"^[A-Z]{2}$")


class OoniError(Exception):
    """Base of the errors of tyndau's OONI interoperability."""


class OoniFormatError(OoniError, ValueError):
    """A measurement lacks a key or has a malformed one; the message names the key and the fix."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(f"{key}: {problem} (expected {fix})")
        self.key = key


@dataclass(frozen=True, slots=True)
class Envelope:
    """The df-000-base keys tyndau reads; ``test_keys`` stays OONI's own dictionary."""

    test_name: str
    test_version: str
    input: str | None
    report_id: str | None  # None: never submitted (OONI's backend assigns it)
    measurement_uid: str | None
    probe_cc: str
    probe_asn: int
    network_type: str | None
    measurement_start_time: datetime
    test_start_time: datetime | None
    test_runtime: float
    software: str
    test_keys: Mapping[str, Any]
    annotations: Mapping[str, Any] | None = None


def parse_ooni_time(text: object, key: str) -> datetime:
    """OONI's ``"2006-01-02 15:04:05"`` (UTC, no offset); RFC 3339 with ``Z`` is accepted too."""
    if not isinstance(text, str):
        raise OoniFormatError(key, f"got {type(text).__name__}", '"YYYY-MM-DD HH:MM:SS" (UTC)')
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise OoniFormatError(key, f"bad time {text!r}", '"YYYY-MM-DD HH:MM:SS" (UTC)') from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def format_ooni_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _string(data: Mapping[str, Any], key: str, fix: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        got = "missing" if value is None else f"got {value!r}"
        raise OoniFormatError(key, got, fix)
    return value


def _optional_text(data: Mapping[str, Any], key: str, fix: str) -> str | None:
    """A string key that may be missing, null or empty (None), but not of another type."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise OoniFormatError(key, f"got {value!r}", fix)
    return value


def parse_asn(value: object) -> int:
    """``"AS1234"`` -> 1234 (``"AS0"`` or missing: the user did not share it); a bare integer,
    as some re-exports of the archive write it, is taken as the number."""
    if value is None or value == "":
        return 0
    if type(value) is int and 0 <= value < 1 << 32:
        return value
    match = _ASN.match(value) if isinstance(value, str) else None
    if match is None:
        raise OoniFormatError("probe_asn", f"got {value!r}", '"AS" and a number, e.g. "AS9198"')
    return int(match.group(1))


def parse_envelope(data: object) -> Envelope:
    """Read one measurement's envelope; raises OoniFormatError naming the first bad key."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise OoniFormatError("<measurement>", f"got a JSON {type(data).__name__}", "an object")
    test_name = _string(data, "test_name", 'e.g. "web_connectivity"')
    cc = _optional_text(data, "probe_cc", 'two capital letters, "ZZ" when unknown') or "ZZ"
    if not _CC.match(cc):
        raise OoniFormatError("probe_cc", f"got {cc!r}", 'two capital letters, "ZZ" when unknown')
    test_keys = data.get("test_keys")
    if type(test_keys) is not dict and not isinstance(test_keys, Mapping):
        raise OoniFormatError("test_keys", "missing or not an object", "the test's keys")
    raw_input = data.get("input")
    if raw_input is not None and not isinstance(raw_input, str):
        raise OoniFormatError("input", f"got {raw_input!r}", "a string or null")
    uid = data.get("measurement_uid")
    annotations = data.get("annotations")
    if type(annotations) is not dict and not isinstance(annotations, Mapping):
        annotations = None
    network = annotations.get("network_type") if annotations is not None else None
    started = data.get("test_start_time")
    test_start = None if started is None else parse_ooni_time(started, "test_start_time")
    measured = data.get("measurement_start_time")
    if measured is None and test_start is not None:
        at = test_start  # a measurement's own start, else its run's
    else:
        at = parse_ooni_time(measured, "measurement_start_time")
    runtime = data.get("test_runtime")
    return Envelope(
        test_name=test_name,
        test_version=str(data.get("test_version") or "0.0.0"),
        input=raw_input,
        report_id=_optional_text(data, "report_id", "the report id OONI's backend assigned"),
        measurement_uid=uid if isinstance(uid, str) and uid else None,
        probe_cc=cc,
        probe_asn=parse_asn(data.get("probe_asn")),
        network_type=network if isinstance(network, str) and network else None,
        measurement_start_time=at,
        test_start_time=test_start,
        test_runtime=float(runtime) if isinstance(runtime, int | float) else 0.0,
        software=f"{data.get('software_name') or 'ooni'}/{data.get('software_version') or '?'}",
        test_keys=test_keys,
        annotations=annotations,
    )
