"""A measurement's page: the raw record as the query layer serves it, and its verdict explained.

The store keeps no link from a measurement to its verdict, so the verdict is judged again from
the same round's measurements by the probe's own pure engine (probe/verdict.py): the same code,
the same inputs, the same answer and explanation the probe sent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.web.event import probe_of
from collector.web.html import el, facts_table, serialise, shell
from probe.model import Category, Measurement, TargetRef, TestKind, Vantage, parse_time
from probe.verdict import Assessment, judge


def id_time(record_id: str) -> datetime | None:
    """The moment a UUIDv7 was made (its first 48 bits are Unix milliseconds), else None."""
    digits = record_id.replace("-", "")
    if len(digits) != 32 or digits[12] != "7":
        return None
    try:
        return datetime.fromtimestamp(int(digits[:12], 16) / 1000, UTC)
    except ValueError:
        return None


def search_window(record_id: str) -> tuple[datetime, datetime] | None:
    """Where to look for a measurement by id: its id is made when the test ends, so it
    started at most a few minutes before."""
    made = id_time(record_id)
    return None if made is None else (made - timedelta(minutes=5), made + timedelta(minutes=1))


def _model(m: dict[str, Any]) -> Measurement:
    v, t = m["vantage"], m["target"]
    return Measurement(
        id=m["id"],
        probe_id=probe_of(m),
        probe_version=m.get("probe_version", ""),
        vantage=Vantage(v["cc"], v["asn"], v["network"]),
        target=TargetRef(t["name"], t["domain"], Category(t["category"])),
        test=TestKind(m["test"]),
        started_at=parse_time(m["started_at"]),
        duration_ms=float(m["duration_ms"]),
        outcome=m["outcome"],
        round_id=m["round_id"],
        details=m.get("details", {}),
    )


def explain(record: dict[str, Any], round_records: list[dict[str, Any]]) -> Assessment:
    """The verdict of the record's target in its round, from that round's measurements."""
    same_round = [_model(m) for m in round_records if m["round_id"] == record["round_id"]]
    name = record["target"]["name"]
    own = [m for m in same_round if m.target.name == name]
    controls: dict[str, list[Measurement]] = {}
    for m in same_round:
        if m.target.category is Category.CONTROL and m.target.name != name:
            controls.setdefault(m.target.name, []).append(m)
    return judge(own, controls)


def render_measurement(record: dict[str, Any], verdict: Assessment | None) -> str:
    root = "../"
    target = record["target"]
    html, main = shell(f"Measurement: {record['test']} of {target['name']}", root)
    v = record["vantage"]
    rows = (
        ("Target", f"{target['name']} ({target['domain']}, {target['category']})"),
        ("Test", record["test"]),
        ("Started", record["started_at"].replace("T", " ")),
        ("Vantage", f"{v['cc']}, AS{v['asn']}, {v['network']}"),
        ("Probe", probe_of(record)),
        ("Outcome", record["outcome"]),
        ("Duration", f"{record['duration_ms']:.0f} ms"),
        ("Round", record["round_id"]),
    )
    facts_table(el(main, "section", id="summary"), "facts", rows)
    section = el(main, "section", id="verdict", aria_labelledby="verdict-h")
    el(section, "h2", "The verdict, explained", id="verdict-h")
    if verdict is None:
        el(section, "p", "The other measurements of this round were not found.", class_="hint")
    else:
        words = verdict.kind.value
        if verdict.method is not None:
            words += f" by {verdict.method.value}"
        if verdict.reason is not None:
            words += f" ({verdict.reason.value})"
        el(
            section,
            "p",
            f"{words}, confidence {verdict.confidence:.0%}: {verdict.explanation}.",
            class_=f"verdict {verdict.kind.value}",
        )
        el(
            section,
            "p",
            f"Judged from {len(verdict.measurement_ids)} measurements of this target "
            "in the round and the round's control targets, by the probe's verdict engine.",
            class_="hint",
        )
    raw = el(main, "section", id="raw", aria_labelledby="raw-h")
    el(raw, "h2", "Raw record", id="raw-h")
    el(raw, "pre", json.dumps(record, indent=2, ensure_ascii=False, sort_keys=True))
    return serialise(html)
