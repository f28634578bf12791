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
import ctypes.util
import importlib.util
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.message
import dns.rdatatype

from probe.capabilities import has_cap_net_raw
from probe.errors import raw_text

log = logging.getLogger(__name__)


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
        await asyncio.to_thread(start_capture, address, port) if raw else (None, None)
    )
    query = dns.message.make_query(name, dns.rdatatype.A)
    loop = asyncio.get_running_loop()
    try:
        transport, listener = await loop.create_datagram_endpoint(
            lambda: _Listener(query), remote_addr=(address, port)
        )
    except OSError as exc:
        await asyncio.to_thread(stop_capture, sniffer)
        return InjectionProbe(address, (), raw_text(exc), time.monotonic() - start)
    try:
        transport.sendto(query.to_wire())
        await asyncio.sleep(wait)
    finally:
        transport.close()
    ttls, stop_error = await asyncio.to_thread(stop_capture, sniffer)
    return InjectionProbe(
        address,
        tuple(listener.answers),
        None,
        time.monotonic() - start,
        ttls=ttls,
        raw_error=raw_error or stop_error,
    )


# Seconds from AsyncSniffer.start() to its started callback (filter compiled by libpcap, socket
# bound). Measured with scapy 2.6.1 (scripts in docs/lab.md "Raw capture start"): 0.03-0.05 s on
# an idle core, 0.10-0.15 s at 10 % of one core, 0.19-0.20 s at 5 % (a cgroup cpu quota, standing
# in for a slow Raspberry Pi). 5 s is 25 times the slowest figure, so a slow start is not read as
# a missing capability; a capture that fails says why at once, without waiting for the deadline.
CAPTURE_START_TIMEOUT = 5.0
LIBPCAP_FIX = (
    "raw capture needs libpcap to compile its filter: apt-get install libpcap0.8 "
    "(deploy/setup-debian.sh installs it)"
)
CAPABILITY_FIX = (
    "raw capture needs CAP_NET_RAW: run the probe as root, or grant it "
    "(systemd: the drop-in deploy/tyndau-probe.service.d/raw-tests.conf)"
)
SCAPY_FIX = "raw tests need scapy: pip install 'tyndau[raw]'"


def libpcap_available() -> bool:
    """True when the C library scapy compiles capture filters with can be loaded."""
    return ctypes.util.find_library("pcap") is not None


def capture_problem() -> str | None:
    """Why a raw capture cannot start here, with the fix; None when nothing is known wrong."""
    if importlib.util.find_spec("scapy") is None:
        return SCAPY_FIX
    if not libpcap_available():
        return LIBPCAP_FIX
    if not has_cap_net_raw():
        return CAPABILITY_FIX
    return None


def explain_capture_error(text: str) -> str:
    """A capture error's real cause and fix, from scapy's or the OS's message."""
    lowered = text.lower()
    if "libpcap" in lowered or "compile filter" in lowered:
        return f"{LIBPCAP_FIX} ({text})"
    if "operation not permitted" in lowered or "permission" in lowered:
        return f"{CAPABILITY_FIX} ({text})"
    return text


def start_capture(
    address: str, port: int, *, deadline: float = CAPTURE_START_TIMEOUT
) -> tuple[Any, str | None]:
    """A scapy capture of UDP replies from ``address``:``port``, started and ready."""
    problem = capture_problem()
    if problem is not None:
        return None, problem
    import scapy.layers.inet  # noqa: F401 - registers the IP and UDP dissectors
    from scapy.config import conf
    from scapy.sendrecv import AsyncSniffer

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
        return None, explain_capture_error(raw_text(exc))
    start = time.monotonic()
    while not ready.wait(0.02):
        failed = getattr(sniffer, "exception", None)  # set when the capture thread died
        if failed is not None or not getattr(sniffer, "running", True):
            return None, explain_capture_error(raw_text(failed) if failed else "capture ended")
        if time.monotonic() - start > deadline:
            _abandon(sniffer)
            return None, (
                f"packet capture did not start within {deadline:g} s (a slow or overloaded "
                "machine, not a missing capability: libpcap and CAP_NET_RAW are present)"
            )
    return sniffer, None


def _abandon(sniffer: Any) -> None:
    """Stop a capture that never reported its start; a failure to stop is the same problem."""
    try:
        sniffer.stop(join=False)
    except Exception as exc:  # scapy: "Unsupported (offline or unsupported socket)" and kin
        log.debug("abandoned capture did not stop cleanly: %s", raw_text(exc))


def stop_capture(sniffer: Any) -> tuple[tuple[int, ...], str | None]:
    if sniffer is None:
        return (), None
    try:
        packets = sniffer.stop()
    except Exception as exc:  # a capture that failed in its thread fails here
        failed = getattr(sniffer, "exception", None)
        return (), explain_capture_error(raw_text(failed if failed is not None else exc))
    # one entry per distinct datagram: on loopback the capture sees each one leave and arrive
    unique = dict.fromkeys(bytes(p["IP"]) for p in packets if p.haslayer("IP"))
    return tuple(int(raw[8]) for raw in unique), None  # byte 8 of an IPv4 header is the TTL
