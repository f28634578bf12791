"""Our verdict over an imported OONI measurement: ``probe.verdict.judge``, the probe's own pure
code, over the mapped evidence and controls; and the ``--json`` line the importer prints."""

from __future__ import annotations

from typing import Any

from collector.ooni.evidence import Imported
from collector.ooni.ids import stable_uuid7
from probe.model import Verdict, VerdictKind
from probe.verdict import judge


def verdict_of(imported: Imported, *, for_store: bool = True) -> Verdict:
    """The verdict, stamped at the measurement's start, with a deterministic id (with
    ``for_store=False``, a verdict that is only printed, the measurement's key instead)."""
    assessment = judge(imported.evidence, imported.controls, known=imported.known)
    at = imported.envelope.measurement_start_time
    return assessment.stamped(
        id=stable_uuid7(at, f"{imported.key}/verdict") if for_store else imported.key,
        probe_id=imported.probe_id,
        vantage=imported.vantage,
        target=imported.target,
        round_id=imported.round_id,
        at=at,
    )


def verdict_line(imported: Imported, verdict: Verdict) -> dict[str, Any]:
    """The ``--json`` line: ``reason`` is ours (``dns.nxdomain``...) or the explanation."""
    envelope = imported.envelope
    return {
        "type": "verdict",
        "input": envelope.input,
        "report_id": envelope.report_id,
        "measurement_uid": envelope.measurement_uid,
        "verdict": verdict.verdict.value,
        "method": None if verdict.method is None else verdict.method.value,
        "reason": verdict.reason.value if verdict.reason is not None else verdict.explanation,
        "ooni": {
            "blocking": imported.ooni.get("blocking"),
            "accessible": imported.ooni.get("accessible"),
        },
    }


def unjudged_line(data: object, problem: str) -> dict[str, Any]:
    """The line of a measurement that could not be mapped: ``inconclusive`` with the reason."""
    record = data if isinstance(data, dict) else {}
    raw_keys = record.get("test_keys")
    keys: dict[str, Any] = raw_keys if isinstance(raw_keys, dict) else {}
    return {
        "type": "verdict",
        "input": _text(record.get("input")),
        "report_id": _text(record.get("report_id")),
        "measurement_uid": _text(record.get("measurement_uid")),
        "verdict": VerdictKind.INCONCLUSIVE.value,
        "method": None,
        "reason": problem,
        "ooni": {"blocking": keys.get("blocking"), "accessible": keys.get("accessible")},
    }


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
