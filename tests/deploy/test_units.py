"""The systemd units: verified by systemd itself when present, and their hardening asserted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from probe.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ("tyndau-collector.service", "tyndau-anomaly.service", "tyndau-probe.service")
INSTALLED = "/opt/tyndau/venv/bin/tyndau"
HARDENING = {
    "DynamicUser": "yes",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
    "StateDirectory": "tyndau",
    "User": "tyndau",
}

Unit = dict[str, dict[str, list[str]]]


def parse_unit(path: Path) -> Unit:
    """Sections of key -> values (a key may repeat, as SystemCallFilter= does)."""
    unit: Unit = defaultdict(lambda: defaultdict(list))
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        unit[section][key.strip()].append(value.strip())
    return unit


@pytest.mark.parametrize("name", UNITS)
def test_unit_is_hardened(name: str) -> None:
    service = parse_unit(DEPLOY / name)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{name}: {key}={service.get(key)}, want {value!r}"
    filters = service["SystemCallFilter"]
    assert "@system-service" in filters
    assert any(f.startswith("~") and "@privileged" in f for f in filters)
    assert service["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert service["Restart"] == ["on-failure"]


@pytest.mark.parametrize("name", UNITS)
def test_exec_start_is_a_valid_tyndau_command(name: str) -> None:
    (command,) = parse_unit(DEPLOY / name)["Service"]["ExecStart"]
    binary, *argv = command.split()
    assert binary == INSTALLED
    args = build_parser().parse_args(argv)
    expected = {
        "tyndau-collector.service": ("tyndau collector serve", "/etc/tyndau/collector.toml"),
        "tyndau-anomaly.service": ("tyndau anomaly watch", "/etc/tyndau/collector.toml"),
        "tyndau-probe.service": ("tyndau probe run", "/etc/tyndau/probe.toml"),
    }[name]
    assert (args.command_path, str(args.config)) == expected
    if "anomaly" in name:  # the alert ledger must live in the writable state directory
        assert str(args.state_dir).startswith("/var/lib/tyndau/")


def test_systemd_analyze_verify_accepts_both_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("LOUD SKIP: systemd-analyze absent; the hardening tests above still ran")
    tyndau = Path(sys.executable).with_name("tyndau")
    assert tyndau.exists(), "the tyndau entry point must be installed in the test environment"
    for name in UNITS:  # verify needs an executable ExecStart: point it at this venv's tyndau
        text = (DEPLOY / name).read_text().replace(INSTALLED, str(tyndau))
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(f"./{n}" for n in UNITS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    complaints = [
        line for line in result.stderr.splitlines() if "tyndau-" in line and "ignoring" in line
    ]
    assert not complaints, complaints  # unknown keys only warn: catch them here
