"""Stored measurement records (the wire ``to_dict`` form) back into ``probe.model`` objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from probe.model import Category, Measurement, TargetRef, TestKind, Vantage, parse_time


def measurement_from_record(record: Mapping[str, Any]) -> Measurement:
    """Read one stored measurement dict; KeyError/ValueError name what is missing or bad."""
    vantage, target = record["vantage"], record["target"]
    return Measurement(
        id=str(record["id"]),
        probe_id=str(record["probe_id"]),
        probe_version=str(record.get("probe_version") or ""),
        vantage=Vantage(str(vantage["cc"]), int(vantage["asn"]), str(vantage["network"])),
        target=TargetRef(str(target["name"]), str(target["domain"]), Category(target["category"])),
        test=TestKind(record["test"]),
        started_at=parse_time(str(record["started_at"])),
        duration_ms=float(record.get("duration_ms") or 0.0),
        outcome=str(record["outcome"]),
        round_id=str(record.get("round_id") or ""),
        details=dict(record.get("details") or {}),
    )
