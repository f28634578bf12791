"""The silent-host probe: no reply is normal, any reply is injected; raw mode records TTLs."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable

import pytest

from probe.injection import probe_silent_host


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
