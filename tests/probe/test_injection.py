"""The silent-host probe: no reply is normal, any reply is injected; raw mode records TTLs."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator

import dns.message
import dns.rrset
import pytest

from probe.injection import probe_silent_host


@pytest.fixture
def injector() -> Iterator[int]:
    """Answers any query with a forged A record, as an on-path injector does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            reply.answer.append(
                dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "198.18.9.80")
            )
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


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
