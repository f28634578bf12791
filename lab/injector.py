"""On-path DNS injector (run in the isp namespace): forged answers that beat the real one.

Like the Great Firewall's injector (Anonymous, "Towards a comprehensive picture of the Great
Firewall's DNS censorship", FOCI 2014), it answers on the path whatever resolver was asked. The
censor's nftables drop the vantage's UDP/53; this process sees the query on the vantage-facing
interface anyway (AF_PACKET taps before netfilter), sends the forged answer at once, then relays
the original query after ``--delay`` so the genuine answer arrives second.
A zone given as ``NAME=ADDRESS`` is forged with that address (the genuine one, for an injector
that races the resolver with the true answer); a bare ``NAME`` gets the blockpage address.
Usage: ``python -m lab.injector --iface IF [--iface IF] --zone facebook.com [--zone ...]``.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from lab.topology import BLOCKPAGE_SERVER, LAB_RANGE
from probe.injection import explain_capture_error

FORGED_ANSWER = BLOCKPAGE_SERVER


def matches(qname: str, zones: Sequence[str]) -> bool:
    name = qname.rstrip(".").lower()
    return any(name == z or name.endswith("." + z) for z in zones)


def forged_for(qname: str, answers: Mapping[str, str]) -> str | None:
    """The address forged for ``qname``: its zone's, the longest matching zone winning."""
    name = qname.rstrip(".").lower()
    found = [z for z in answers if name == z or name.endswith("." + z)]
    return answers[max(found, key=len)] if found else None


def parse_zones(items: Sequence[str]) -> dict[str, str]:
    """``["a.com", "b.com=198.19.1.2"]`` -> zone -> forged address."""
    out: dict[str, str] = {}
    for item in items:
        zone, _, address = item.partition("=")
        if address:
            ipaddress.ip_address(address)  # ValueError names a bad address
        out[zone.rstrip(".").lower()] = address or FORGED_ANSWER
    return out


class Injector:
    def __init__(self, zones: Sequence[str], delay: float, subnets: Sequence[str]) -> None:
        self.answers = parse_zones(zones)
        self.zones = list(self.answers)
        self.delay = delay
        self.subnets = [ipaddress.ip_network(s) for s in subnets]
        self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    def relay(self, packet: bytes, dst: str) -> None:
        self.raw.sendto(packet, (dst, 0))

    def handle(self, pkt: Any) -> None:
        from scapy.layers.dns import DNS, DNSRR
        from scapy.layers.inet import IP, UDP

        if not pkt.haslayer(IP) or not pkt.haslayer(UDP) or not pkt.haslayer(DNS):
            return
        ip = pkt[IP]
        if not any(ipaddress.ip_address(ip.src) in net for net in self.subnets):
            return  # our own forged packets, or traffic towards the vantage
        if ipaddress.ip_address(ip.dst) not in LAB_RANGE:
            return  # never relay beyond the lab (the isp's nft would drop it anyway)
        dns = pkt[DNS]
        # veth hands over checksums left for offload: recompute them before relaying
        del ip.chksum
        del ip[UDP].chksum
        original = bytes(ip)
        question = dns.qd[0] if dns.qd else None
        if dns.qr != 0 or question is None:
            self.relay(original, ip.dst)
            return
        qname = question.qname.decode(errors="replace")
        forged_address = forged_for(qname, self.answers)
        if forged_address is not None and question.qtype == 1:
            forged = (
                IP(src=ip.dst, dst=ip.src)
                / UDP(sport=ip[UDP].dport, dport=ip[UDP].sport)
                / DNS(
                    id=dns.id,
                    qr=1,
                    rd=dns.rd,
                    ra=1,
                    qd=question,
                    an=DNSRR(rrname=question.qname, type="A", ttl=60, rdata=forged_address),
                )
            )
            self.relay(bytes(forged), ip.src)
            threading.Timer(self.delay, self.relay, (original, ip.dst)).start()
        else:
            self.relay(original, ip.dst)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.injector")
    parser.add_argument("--iface", action="append", required=True)
    parser.add_argument("--subnet", action="append", required=True)
    parser.add_argument("--zone", action="append", required=True)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--ready", help="file to create once sniffing")
    args = parser.parse_args(argv)
    import scapy.layers.dns
    import scapy.layers.inet
    import scapy.layers.l2  # registers Ethernet, so sniffed frames are dissected
    from scapy.config import conf
    from scapy.sendrecv import AsyncSniffer

    del scapy.layers.dns, scapy.layers.inet, scapy.layers.l2

    conf.verb = 0
    injector = Injector(args.zone, args.delay, args.subnet)
    sniffer = AsyncSniffer(
        iface=args.iface, filter="udp dst port 53", prn=injector.handle, store=False
    )
    sniffer.start()
    started = threading.Event()
    while not started.wait(0.02):
        failed = getattr(sniffer, "exception", None)  # the capture thread died (no libpcap...)
        if failed is not None:
            print(f"injector: {explain_capture_error(str(failed))}", file=sys.stderr)
            return 1
        if getattr(sniffer, "running", False) and getattr(sniffer, "stop_cb", None):
            started.set()
    if args.ready:
        with open(args.ready, "w", encoding="utf-8") as ready:
            ready.write("ready\n")
    sniffer.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
