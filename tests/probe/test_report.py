"""Output of ``probe once``: the JSON lines contract and the readable table."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from probe import model
from probe.model import Category, Reason, TargetRef, TestKind, Vantage, VerdictKind
from probe.report import failed_measurements, json_lines, verdict_table
from tests.support import records

AT = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
VANTAGE = Vantage("KZ", 9198, "fixed")
FACEBOOK = TargetRef("facebook", "facebook.com", Category.PLATFORM)
EXPLANATION = "connection_reset connecting to 198.19.1.5 " + "x" * 200  # longer than a table row


def measurement(outcome: str) -> model.Measurement:
    details = {"tcp_address": "198.19.1.5", "tcp_port": 443}
    return records.measurement(
        "m1",
        "local",
        VANTAGE,
        FACEBOOK,
        AT,
        test=TestKind.TCP,
        outcome=outcome,
        details=details,
        round_id="r1",
        duration_ms=3.0,
    )


def verdict(kind: VerdictKind, reason: Reason | None = None) -> model.Verdict:
    return records.verdict(
        "v1",
        "local",
        VANTAGE,
        FACEBOOK,
        AT,
        kind,
        blocked=(model.BlockMethod.TCP, reason) if reason else None,
        round_id="r1",
        confidence=0.85,
        measurement_ids=("m1",),
        explanation=EXPLANATION,
    )


def test_json_lines_contract() -> None:
    lines = [
        json.loads(x)
        for x in json_lines(
            [measurement("connection_reset")], [verdict(VerdictKind.BLOCKED, Reason.TCP_RESET)]
        )
    ]
    assert [x["type"] for x in lines] == ["measurement", "verdict"]
    m, v = lines
    assert m["outcome"] == "connection_reset" and m["started_at"] == "2022-01-05T10:00:00.000000Z"
    assert m["details"]["tcp_port"] == 443
    assert (v["target"], v["verdict"], v["method"], v["reason"]) == (
        "facebook",
        "blocked",
        "tcp",
        "tcp.reset",
    )
    assert v["measurement_ids"] == ["m1"] and v["schema"] == "tyndau.verdict/1"


def test_table_is_aligned_and_cut_to_width() -> None:
    table = verdict_table(
        [verdict(VerdictKind.BLOCKED, Reason.TCP_RESET), verdict(VerdictKind.ACCESSIBLE)], width=90
    )
    header, blocked, accessible = table.splitlines()
    assert header.startswith("TARGET") and "REASON" in header
    assert "tcp.reset" in blocked and blocked.endswith("…")
    assert all(len(line) <= 90 for line in table.splitlines())
    assert header.index("VERDICT") == blocked.index("blocked") == accessible.index("accessible")


def test_failed_measurements_lists_only_failures() -> None:
    lines = list(failed_measurements([measurement("ok"), measurement("connection_reset")]))
    assert lines == ["  facebook       tcp            connection_reset           198.19.1.5"]
