"""`tyndau lab ...` end to end: up in the background, status, exec, down; refusal without root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.command import ROOT, TYNDAU, tyndau
from tests.support.lab import lab_unavailable

pytestmark = [pytest.mark.root, pytest.mark.lab]


def lab_command(
    *args: str, prefix: str = "tcli", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``tyndau lab ARGS`` with the lab's namespaces named ``prefix``-*."""
    return tyndau("lab", *args, timeout=timeout, env={**os.environ, "TYNDAU_LAB_PREFIX": prefix})


@pytest.fixture
def cli_lab() -> object:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    yield None
    lab_command("down")


def test_up_status_exec_down(cli_lab: object) -> None:
    start = time.monotonic()
    up = lab_command("up", "dns-nxdomain", "--speed", "10")
    assert up.returncode == 0, up.stderr
    assert time.monotonic() - start < 10
    state = json.loads(lab_command("status", "--json").stdout)
    assert state["scenario"] == "dns-nxdomain"
    assert state["active"] == [{"action": "dns-nxdomain", "target": "facebook", "group": "all"}]
    dig = lab_command("exec", "fixed", "--", "dig", "+tries=1", "+time=2", "facebook.com")
    assert "status: NXDOMAIN" in dig.stdout
    assert lab_command("exec", "mobile", "--", "sh", "-c", "exit 3").returncode == 3
    assert lab_command("up", "accessible").returncode == 2  # already up
    start = time.monotonic()
    down = lab_command("down")
    assert down.returncode == 0, down.stderr
    assert time.monotonic() - start < 5
    assert not [p for p in Path("/run/netns").iterdir() if p.name.startswith("tcli-")]
    assert lab_command("status").returncode == 1


def test_bad_scenario_is_refused_before_anything_is_built(cli_lab: object) -> None:
    out = lab_command("up", "no-such-scenario")
    assert out.returncode == 2 and "no such scenario" in out.stderr
    assert not Path("/run/netns/tcli-isp").exists()


def test_without_root_a_clear_error_and_nothing_built(cli_lab: object) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("LAB TEST SKIPPED: setpriv (util-linux) is missing")
    out = subprocess.run(
        [
            setpriv,
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            TYNDAU,
            "lab",
            "up",
            "accessible",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TYNDAU_LAB_PREFIX": "tnoroot"},
        timeout=30,
        check=False,
    )
    assert out.returncode == 2, out.stderr
    assert "needs root" in out.stderr
    assert not Path("/run/netns/tnoroot-isp").exists()
