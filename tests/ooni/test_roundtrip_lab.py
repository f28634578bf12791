"""Export then import gives the same verdicts on what the probe really measures: ``tyndau probe
once`` in the lab's fixed vantage under several censorship actions, its measurements written as
OONI JSON by the exporter and judged again by the importer. Real unbound, nginx, nftables."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from typing import Any

import pytest

from collector.ooni import load_context, map_measurement, verdict_of
from collector.ooni.export import export_round, rounds
from collector.ooni.records import measurement_from_record
from tests.support.lab import probe_once as support_probe_once
from tests.support.lab import shipped_lab

pytestmark = [pytest.mark.root, pytest.mark.lab, pytest.mark.slow]

TARGET = "facebook"
ACTIONS = [
    "accessible",
    "dns-nxdomain",
    "dns-bogon",
    "tcp-reset",
    "tls-sni-reset",
    "http-blockpage",
    "shutdown",
]
CONTEXT = load_context(allow_net=(ipaddress.ip_network("198.18.0.0/15"),))


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    with shipped_lab("tob") as built:
        yield built


def probe_once(lab: Any) -> list[dict[str, Any]]:
    return support_probe_once(lab, timeout="4")


@pytest.mark.parametrize("action", ACTIONS)
def test_lab_round_exported_and_imported_keeps_its_verdicts(lab: Any, action: str) -> None:
    lab.clear()
    if action != "accessible":
        lab.apply(action, target=TARGET, group="all")
    try:
        lines = probe_once(lab)
    finally:
        lab.clear()
    original = {
        o["target"]: (o["verdict"], o["method"], o["reason"])
        for o in lines
        if o["type"] == "verdict"
    }
    measurements = sorted(
        (measurement_from_record(o) for o in lines if o["type"] == "measurement"),
        key=lambda m: (m.started_at, m.id),
    )
    back = {}
    for group in rounds(measurements):
        for exported in export_round(group, lambda m: "p-lab"):
            imported = map_measurement(json.loads(json.dumps(exported)), CONTEXT)
            verdict = verdict_of(imported)
            back[imported.target.name] = (
                verdict.verdict.value,
                verdict.method and verdict.method.value,
                verdict.reason and verdict.reason.value,
            )
    assert back == original
