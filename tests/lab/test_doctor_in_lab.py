"""``tyndau probe doctor`` inside a lab vantage: the ISP resolver answers, a silent host does
not, raw capture starts as root, and the vantage has no IPv6 route."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lab import Lab
from lab.topology import ISP_RESOLVER, PUBLIC_RESOLVER, SILENT_HOST

pytestmark = [pytest.mark.root, pytest.mark.lab]
TYNDAU = str(Path(sys.executable).parent / "tyndau")


def test_doctor_in_a_vantage(lab: Lab) -> None:
    cmd = [TYNDAU, "probe", "doctor", "--json", "--timeout", "1"]
    done = lab.run("fixed", [*cmd, "--resolver", PUBLIC_RESOLVER, "--resolver", SILENT_HOST])
    assert done.returncode == 1, done.stderr  # the silent host fails
    checks = {c["name"]: c for c in json.loads(done.stdout)}
    assert checks[f"resolver {ISP_RESOLVER}:53 (system)"]["status"] == "ok"
    assert checks[f"resolver {PUBLIC_RESOLVER}:53"]["status"] == "ok"
    silent = checks[f"resolver {SILENT_HOST}:53"]
    assert silent["status"] == "fail" and silent["fix"], silent
    assert checks["raw capture"]["status"] == "ok", checks["raw capture"]
    assert checks["IPv6"]["status"] == "warn"  # the lab is IPv4 only
    lab.apply("resolver-down", group="fixed")
    down = lab.run("fixed", [*cmd])
    assert down.returncode == 1
    system = {c["name"]: c for c in json.loads(down.stdout)}[f"resolver {ISP_RESOLVER}:53 (system)"]
    assert system["status"] == "fail" and "timeout" in system["detail"], system
