"""DNS injection detection: ask an address that runs no resolver; any answer was injected.

On-path injectors (the Great Firewall, Iran's, the lab's) answer queries for blocked names no
matter where they are sent (Anonymous, "Towards a Comprehensive Picture of the Great Firewall's DNS
Censorship", FOCI 2014). A plain UDP socket suffices: the probe sends one query to a silent host
(by default a control target's web server) and waits a short window for any reply. The second-answer
check on real resolvers lives in probe/dns.py. With ``raw_tests`` (CAP_NET_RAW and the ``raw``
extra) the replies are also sniffed with scapy to record their IP TTLs: an injector's TTL differs
from the real path's, which is further evidence (scapy is imported here only, and only then).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.message
import dns.rdatatype

from probe.errors import raw_text


@dataclass(frozen=True, slots=True)
class InjectionProbe:
    silent_address: str
    answers: tuple[tuple[str, ...], ...]  # address lists of every reply that came back
    failure_raw: str | None
    t: float
    ttls: tuple[int, ...] = ()  # IP TTLs of the replies (raw tests only)
    raw_error: str | None = None  # why the raw capture could not run

    @property
    def injected(self) -> bool:
        return bool(self.answers)


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, query: dns.message.Message) -> None:
        self.query = query
        self.answers: list[tuple[str, ...]] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            response = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        if self.query.is_response(response):
            found = tuple(
                rdata.address
                for rrset in response.answer
                if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
                for rdata in rrset
            )
            self.answers.append(found)

    def error_received(self, exc: Exception) -> None:
        """ICMP port unreachable: the host really runs no resolver, which is the normal case."""


async def probe_silent_host(
    name: str, address: str, *, wait: float, raw: bool = False, port: int = 53
) -> InjectionProbe:
    """Send an A query for ``name`` to ``address`` and collect replies for ``wait`` seconds."""
    start = time.monotonic()
    sniffer, raw_error = (
        await asyncio.to_thread(_start_sniffer, address, port) if raw else (None, None)
    )
    query = dns.message.make_query(name, dns.rdatatype.A)
    loop = asyncio.get_running_loop()
    try:
        transport, listener = await loop.create_datagram_endpoint(
            lambda: _Listener(query), remote_addr=(address, port)
        )
    except OSError as exc:
        await asyncio.to_thread(_stop_sniffer, sniffer)
        return InjectionProbe(address, (), raw_text(exc), time.monotonic() - start)
    try:
        transport.sendto(query.to_wire())
        await asyncio.sleep(wait)
    finally:
        transport.close()
    ttls, stop_error = await asyncio.to_thread(_stop_sniffer, sniffer)
    return InjectionProbe(
        address,
        tuple(listener.answers),
        None,
        time.monotonic() - start,
        ttls=ttls,
        raw_error=raw_error or stop_error,
    )


def _start_sniffer(address: str, port: int) -> tuple[Any, str | None]:
    """A scapy capture of UDP replies from ``address``:``port``, started and ready."""
    try:
        import scapy.layers.inet  # noqa: F401 - registers the IP and UDP dissectors
        from scapy.config import conf
        from scapy.sendrecv import AsyncSniffer
    except ImportError:
        return None, "raw tests need scapy: pip install 'tyndau[raw]'"
    ready = threading.Event()
    try:
        iface = conf.route.route(address)[0]
        sniffer = AsyncSniffer(
            iface=iface,
            filter=f"udp and src host {address} and src port {port}",
            store=True,
            started_callback=ready.set,
        )
        sniffer.start()
    except Exception as exc:  # scapy raises its own and OS errors; the test goes on without it
        return None, raw_text(exc)
    if not ready.wait(2.0):
        return None, "packet capture did not start (CAP_NET_RAW missing?)"
    return sniffer, None


def _stop_sniffer(sniffer: Any) -> tuple[tuple[int, ...], str | None]:
    if sniffer is None:
        return (), None
    try:
        packets = sniffer.stop()
    except Exception as exc:  # a capture that failed in its thread fails here
        return (), raw_text(exc)
    # one entry per distinct datagram: on loopback the capture sees each one leave and arrive
    unique = dict.fromkeys(bytes(p["IP"]) for p in packets if p.haslayer("IP"))
    return tuple(int(raw[8]) for raw in unique), None  # byte 8 of an IPv4 header is the TTL
