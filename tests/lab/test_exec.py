"""``tyndau lab exec``: a signal to it reaches its child, and the child ends with it (issue 14,
item 17), in a namespace this test makes under a private prefix."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

TYNDAU = str(Path(sys.executable).parent / "tyndau")
pytestmark = pytest.mark.root


@pytest.fixture
def prefix() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("LOUD SKIP: needs root for network namespaces (CI runs as root)")
    name = "x" + secrets.token_hex(2)
    subprocess.run(["ip", "netns", "add", f"{name}-fixed"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", f"{name}-fixed"], check=False)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(p) for p in task.read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    ("signum", "command"),
    [
        (signal.SIGTERM, ["sleep", "300"]),
        (signal.SIGINT, ["sleep", "300"]),
        (signal.SIGTERM, ["sh", "-c", "trap '' TERM INT; while :; do sleep 0.1; done"]),
    ],
)
def test_a_signal_to_lab_exec_ends_its_child(
    prefix: str, signum: signal.Signals, command: list[str]
) -> None:
    env = {**os.environ, "TYNDAU_LAB_PREFIX": prefix}
    outer = subprocess.Popen([TYNDAU, "lab", "exec", "fixed", "--", *command], env=env)
    try:
        deadline = time.monotonic() + 20
        while not (children := _children(outer.pid)):
            assert outer.poll() is None and time.monotonic() < deadline, "no child started"
            time.sleep(0.05)
        (child,) = children
        time.sleep(0.3)  # the shell sets its trap
        outer.send_signal(signum)
        code = outer.wait(timeout=20)
        assert code != 0
        assert not _alive(child), "the child outlived tyndau lab exec"
    finally:
        if outer.poll() is None:
            outer.kill()
            outer.wait()
