"""``tyndau probe doctor``: each check against a real resolver (unbound on loopback), a resolver
that does not answer, and this machine's raw capture; the table and the exit status."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from probe.doctor import Check, Status, exit_status, render_table
from tests.support.command import tyndau

TARGETS = """
[[targets]]
name = "ctl"
domain = "control.tyndau.test"
category = "control"
"""


def doctor(tmp_path: Path, *resolvers: str) -> tuple[int, list[dict[str, Any]]]:
    targets = tmp_path / "targets.toml"
    targets.write_text(TARGETS)
    config = tmp_path / "probe.toml"
    config.write_text(
        f'[probe]\ntargets = "{targets}"\nuse_system_resolver = false\n'
        f"resolvers = {json.dumps(list(resolvers))}\n[timeouts]\ndns = 1\n"
    )
    done = tyndau("probe", "doctor", "--json", "--config", config, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def by_name(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in checks}


def test_an_answering_resolver_passes(tmp_path: Path, unbound: int) -> None:
    status, checks = doctor(tmp_path, f"127.0.0.1:{unbound}")
    found = by_name(checks)
    resolver = found[f"resolver 127.0.0.1:{unbound}"]
    assert resolver["status"] == "ok" and "127.0.0.1" in resolver["detail"], resolver
    assert status == 0
    control = found["control endpoint"]
    assert control["status"] == "warn" and "control_endpoint" in control["fix"]
    assert {"libpcap", "CAP_NET_RAW", "raw capture", "IPv6"} <= set(found)


def test_a_silent_resolver_fails_with_a_fix(tmp_path: Path, unbound: int, kit: Any) -> None:
    silent = kit.free_port(socket.SOCK_DGRAM)
    status, checks = doctor(tmp_path, f"127.0.0.1:{unbound}", f"127.0.0.1:{silent}")
    found = by_name(checks)
    bad = found[f"resolver 127.0.0.1:{silent}"]
    assert bad["status"] == "fail" and "--resolver" in bad["fix"], bad
    assert found[f"resolver 127.0.0.1:{unbound}"]["status"] == "ok"
    assert status == 1


@pytest.mark.root
def test_raw_capture_is_reported_working_as_root(tmp_path: Path, unbound: int) -> None:
    pytest.importorskip("scapy", reason="the raw extra (scapy) is not installed")
    if os.geteuid() != 0:
        pytest.skip("raw capture needs root / CAP_NET_RAW (CI has it)")
    _, checks = doctor(tmp_path, f"127.0.0.1:{unbound}")
    found = by_name(checks)
    assert [found[n]["status"] for n in ("libpcap", "CAP_NET_RAW", "raw capture")] == ["ok"] * 3


def test_table_and_exit_status() -> None:
    checks = [
        Check("resolver 198.18.0.53:53", Status.OK, "answers"),
        Check("IPv6", Status.WARN, "no IPv6 route", "check the router"),
    ]
    table = render_table(checks)
    assert "ok    resolver 198.18.0.53:53  answers" in table
    assert "fix: check the router" in table
    assert exit_status(checks) == 0
    assert exit_status([*checks, Check("resolvers", Status.FAIL, "none", "add one")]) == 1
