"""Output of ``probe once``: the JSON lines contract and the readable table."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from probe.model import (
    BlockMethod,
    Category,
    Measurement,
    Reason,
    TargetRef,
    TestKind,
    Vantage,
    Verdict,
    VerdictKind,
)
from probe.report import failed_measurements, json_lines, verdict_table

AT = datetime(2022, 1, 5, 10, 0, tzinfo=UTC)
VANTAGE = Vantage("KZ", 9198, "fixed")
FACEBOOK = TargetRef("facebook", "facebook.com", Category.PLATFORM)


def measurement(outcome: str) -> Measurement:
    return Measurement(
        "m1",
        "local",
        "0.1.0",
        VANTAGE,
        FACEBOOK,
        TestKind.TCP,
        AT,
        3.0,
        outcome,
        "r1",
        {"tcp_address": "198.19.1.5", "tcp_port": 443},
    )


def verdict(kind: VerdictKind, reason: Reason | None = None) -> Verdict:
    return Verdict(
        "v1",
        "local",
        VANTAGE,
        FACEBOOK,
        "r1",
        AT,
        kind,
        BlockMethod.TCP if reason else None,
        reason,
        0.85,
        ("m1",),
        "connection_reset connecting to 198.19.1.5 " + "x" * 200,
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
