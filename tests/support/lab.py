"""``tyndau probe once --json`` run inside a lab's vantage, as the lab tests measure it."""

from __future__ import annotations

import json
from typing import Any

from tests.support.command import TYNDAU


def probe_once(lab: Any, *, timeout: str, vantage: str = "fixed") -> list[dict[str, Any]]:
    """The JSON lines of one round from ``vantage``, trusting the lab's CA and its addresses
    (198.18.0.0/15) as ordinary ones, each step's timeout ``timeout`` seconds."""
    done = lab.run(
        vantage,
        [
            TYNDAU,
            "probe",
            "once",
            "--json",
            "--ca-bundle",
            str(lab.ca_bundle),
            "--allow-net",
            "198.18.0.0/15",
            "--timeout",
            timeout,
        ],
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]
