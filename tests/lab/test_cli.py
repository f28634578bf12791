"""`tyndau lab ...` end to end: up in the background, status, exec, down; refusal without root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import lab_unavailable

pytestmark = [pytest.mark.root, pytest.mark.lab]
ROOT = Path(__file__).resolve().parents[2]
TYNDAU = str(Path(sys.executable).parent / "tyndau")


def tyndau(
    *args: str, prefix: str = "tcli", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TYNDAU_LAB_PREFIX": prefix}
    return subprocess.run(
        [TYNDAU, "lab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture
def cli_lab() -> object:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    yield None
    tyndau("down")


def test_up_status_exec_down(cli_lab: object) -> None:
    start = time.monotonic()
    up = tyndau("up", "dns-nxdomain", "--speed", "10")
    assert up.returncode == 0, up.stderr
    assert time.monotonic() - start < 10
    state = json.loads(tyndau("status", "--json").stdout)
    assert state["scenario"] == "dns-nxdomain"
    assert state["active"] == [{"action": "dns-nxdomain", "target": "facebook", "group": "all"}]
    dig = tyndau("exec", "fixed", "--", "dig", "+tries=1", "+time=2", "facebook.com")
    assert "status: NXDOMAIN" in dig.stdout
    assert tyndau("exec", "mobile", "--", "sh", "-c", "exit 3").returncode == 3
    assert tyndau("up", "accessible").returncode == 2  # already up
    start = time.monotonic()
    down = tyndau("down")
    assert down.returncode == 0, down.stderr
    assert time.monotonic() - start < 5
    assert not [p for p in Path("/run/netns").iterdir() if p.name.startswith("tcli-")]
    assert tyndau("status").returncode == 1


def test_bad_scenario_is_refused_before_anything_is_built(cli_lab: object) -> None:
    out = tyndau("up", "no-such-scenario")
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
