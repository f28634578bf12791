"""The lab's address plan: every address lives in 198.18.0.0/15 (RFC 2544 benchmarking range).

Pure data, shared by the lab builder, the tests and the demo. Namespace and interface names start
with a per-lab prefix (at most 6 characters) so that two labs never collide and ``lab down`` can
find leftovers of a crashed run.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

LAB_RANGE = ipaddress.ip_network("198.18.0.0/15")
DEFAULT_PREFIX = "tyndau"

# isp <-> internet transit link (/30)
ISP_UPLINK = "198.18.0.1"
INET_DOWNLINK = "198.18.0.2"
# services inside the isp namespace
ISP_RESOLVER = "198.18.0.53"  # unbound, the resolver every vantage's resolv.conf points at
BLOCKPAGE_SERVER = "198.18.9.80"  # the national blockpage server (dns-redirect, http-blockpage)
HIJACK_PROXY = "198.18.9.81"  # transparent proxy the resolver sends hijacked names to (dns-proxy)
NOTICE_SERVER = "198.18.9.82"  # answers 200 with a notice page no fingerprint knows (http-notice)
# http-redirect: ports of NOTICE_SERVER that answer any GET with a 302 to the blockpage server
# (Indonesia's Kominfo, Korea's warning.or.kr); on the second the page it names refuses.
REDIRECT_PORT = 8080
REDIRECT_DOWN_PORT = 8081
REFUSING_NOTICE_PORT = 8082  # nothing listens: the notice host "down"
# services inside the internet namespace
AUTHORITATIVE_DNS = "198.19.0.53"  # authoritative for every target domain
PUBLIC_RESOLVER = "198.19.0.9"  # an open resolver abroad, like 9.9.9.9
SILENT_HOST = "198.19.0.99"  # answers nothing: any DNS answer "from" it was injected on the path
TARGET_NET = ipaddress.ip_network("198.19.1.0/24")  # each target's first address
SECOND_TARGET_NET = ipaddress.ip_network("198.19.2.0/24")  # its second (published on demand)
COLLECTOR_LINK_INET = "198.19.254.1"
COLLECTOR_ADDRESS = "198.19.254.2"  # the collector namespace, reached through the internet


@dataclass(frozen=True, slots=True)
class VantageGroup:
    name: str
    router: str  # the isp side of the link
    address: str  # the vantage side of the link
    subnet: str


VANTAGES: tuple[VantageGroup, ...] = (
    VantageGroup("fixed", "198.18.1.1", "198.18.1.2", "198.18.1.0/24"),
    VantageGroup("mobile", "198.18.2.1", "198.18.2.2", "198.18.2.0/24"),
)
GROUPS = ("all", *(v.name for v in VANTAGES))


def target_address(index: int) -> str:
    """The address of the index-th target (targets sorted by name)."""
    if not 0 <= index < TARGET_NET.num_addresses - 2:
        raise ValueError(f"no lab address for target #{index}")
    return str(TARGET_NET.network_address + 1 + index)


def second_target_address(index: int) -> str:
    """The index-th target's second address: served always, in DNS only when a site says so."""
    target_address(index)  # same bounds
    return str(SECOND_TARGET_NET.network_address + 1 + index)


def vantage_interface(prefix: str, group: str) -> str:
    """The isp-side interface facing a vantage group (where the censor shapes and sniffs)."""
    return f"{prefix}-{group}"
