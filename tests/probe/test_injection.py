"""The silent-host probe: no reply is normal, any reply is injected; raw mode records TTLs."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from probe.capabilities import has_cap_net_raw
from probe.injection import (
    capture_problem,
    explain_capture_error,
    probe_silent_host,
)


@pytest.fixture
def injector(forging_resolver: Callable[..., int]) -> int:
    """Answers any query with a forged A record, as an on-path injector does."""
    return forging_resolver("198.18.9.80")


def test_no_reply_is_not_injection(kit: object) -> None:
    port = kit.free_port(socket.SOCK_DGRAM)  # type: ignore[attr-defined]
    probe = asyncio.run(probe_silent_host("facebook.com", "127.0.0.1", wait=0.3, port=port))
    assert not probe.injected
    assert probe.answers == () and probe.failure_raw is None


def test_any_reply_is_injection(injector: int) -> None:
    probe = asyncio.run(probe_silent_host("facebook.com", "127.0.0.1", wait=0.3, port=injector))
    assert probe.injected
    assert probe.answers == (("198.18.9.80",),)
    assert probe.ttls == () and probe.raw_error is None  # raw capture was not asked for


@pytest.mark.root
def test_raw_capture_records_the_reply_ttl(injector: int) -> None:
    pytest.importorskip("scapy", reason="the raw extra (scapy) is not installed")
    if os.geteuid() != 0:
        pytest.skip("packet capture needs root / CAP_NET_RAW (CI has it)")
    probe = asyncio.run(
        probe_silent_host("facebook.com", "127.0.0.1", wait=0.5, port=injector, raw=True)
    )
    assert probe.injected
    assert probe.raw_error is None
    assert probe.ttls == (64,)  # Linux's default TTL on loopback


# -- why a raw capture cannot start: the real cause and its fix --------------------------------
CAPTURE_SCRIPT = """
import json, sys
{prelude}
from probe.injection import start_capture, stop_capture
sniffer, error = start_capture("127.0.0.1", 53)
stop_capture(sniffer)
print(json.dumps(error))
"""
# Stands in for a machine without libpcap: the library lookup scapy and the probe use fails.
NO_LIBPCAP = """
import ctypes.util
_find = ctypes.util.find_library
ctypes.util.find_library = lambda name: None if "pcap" in name else _find(name)
"""


def capture_error(prelude: str = "", wrapper: tuple[str, ...] = ()) -> str | None:
    script = CAPTURE_SCRIPT.format(prelude=prelude)
    done = subprocess.run(
        [*wrapper, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    result: str | None = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Name:\tpython\nCapEff:\t000001ffffffffff\n", True),
        ("CapEff:\t0000000000002000\n", True),  # CAP_NET_RAW (bit 13) only
        ("CapEff:\t0000000000001000\n", False),  # CAP_NET_ADMIN (bit 12) only
        ("CapEff:\t0000000000000000\n", False),
        ("no capability line\n", False),
    ],
)
def test_cap_net_raw_is_read_from_the_effective_set(status: str, expected: bool) -> None:
    assert has_cap_net_raw(status) is expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Cannot set filter: libpcap is not available. Cannot compile filter !", "libpcap0.8"),
        ("PermissionError: [Errno 1] Operation not permitted", "CAP_NET_RAW"),
        ("something else entirely", "something else entirely"),
    ],
)
def test_capture_errors_name_the_cause_and_the_fix(text: str, names: str) -> None:
    assert names in explain_capture_error(text)


@pytest.mark.root
def test_missing_libpcap_is_named_with_its_fix() -> None:
    pytest.importorskip("scapy", reason="the raw extra (scapy) is not installed")
    error = capture_error(NO_LIBPCAP)
    assert error is not None and "libpcap0.8" in error and "CAP_NET_RAW" not in error


@pytest.mark.root
def test_missing_capability_is_named_with_its_fix() -> None:
    pytest.importorskip("scapy", reason="the raw extra (scapy) is not installed")
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("dropping CAP_NET_RAW needs root and setpriv (util-linux; CI has them)")
    drop = ("setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw", "--")
    error = capture_error(wrapper=drop)
    assert error is not None and "CAP_NET_RAW" in error


@pytest.mark.root
def test_capture_starts_here() -> None:
    pytest.importorskip("scapy", reason="the raw extra (scapy) is not installed")
    if os.geteuid() != 0:
        pytest.skip("packet capture needs root / CAP_NET_RAW (CI has it)")
    assert capture_problem() is None
    assert capture_error() is None
