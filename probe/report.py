"""Readable output of a round: one line per verdict, then failed measurements, for people."""

from __future__ import annotations

import json
from collections.abc import Iterator

from probe.model import Measurement, Verdict

_HEADER = ("TARGET", "VERDICT", "METHOD", "REASON", "CONF", "EXPLANATION")


def verdict_table(verdicts: list[Verdict], *, width: int = 100) -> str:
    """A fixed-width table of verdicts, explanations cut to fit ``width``."""
    rows = [
        (
            v.target.name,
            v.verdict.value,
            v.method.value if v.method else "-",
            v.reason.value if v.reason else "-",
            f"{v.confidence:.2f}",
            v.explanation,
        )
        for v in verdicts
    ]
    widths = [max(len(r[i]) for r in [_HEADER, *rows]) for i in range(5)]
    lines = []
    for row in [_HEADER, *rows]:
        fixed = "  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True))
        room = max(width - len(fixed) - 2, 10)
        text = row[5] if len(row[5]) <= room else row[5][: room - 1] + "…"
        lines.append(f"{fixed}  {text}".rstrip())
    return "\n".join(lines)


def failed_measurements(measurements: list[Measurement]) -> Iterator[str]:
    """One line per failed measurement: target, test, outcome, where."""
    for m in measurements:
        if m.outcome == "ok":
            continue
        where = next(
            (
                str(m.details[k])
                for k in ("dns_resolver", "tcp_address", "tls_sni", "http_url", "inj_address")
                if m.details.get(k)
            ),
            "",
        )
        yield f"  {m.target.name:<14} {m.test.value:<14} {m.outcome:<26} {where}"


def json_lines(measurements: list[Measurement], verdicts: list[Verdict]) -> Iterator[str]:
    """The --json output: one object per line, measurements then verdicts."""
    for m in measurements:
        yield json.dumps({"type": "measurement", **m.to_dict()}, sort_keys=True)
    for v in verdicts:
        data = v.to_dict()
        flat = {
            "type": "verdict",
            "target": v.target.name,
            "verdict": v.verdict.value,
            "method": v.method.value if v.method else None,
            "reason": v.reason.value if v.reason else None,
        }
        yield json.dumps({**data, **flat}, sort_keys=True)
