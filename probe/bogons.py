"""Special-purpose address ranges (RFC 6890 and its IANA registries): a DNS answer inside one is a
bogon, the classic sign of DNS tampering (OONI's ``dns_bogon`` check does the same).

``allow`` networks (settings ``allow_net`` / ``--allow-net``) are treated as ordinary, so a lab in
198.18.0.0/15 is measured like the real internet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IANA IPv4/IPv6 Special-Purpose Address Registries (RFC 6890, RFC 8190), plus multicast/reserved.
SPECIAL_PURPOSE: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network", RFC 791
        "10.0.0.0/8",  # private, RFC 1918
        "100.64.0.0/10",  # shared address space (CGNAT), RFC 6598
        "127.0.0.0/8",  # loopback, RFC 1122
        "169.254.0.0/16",  # link local, RFC 3927
        "172.16.0.0/12",  # private, RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments, RFC 6890
        "192.0.2.0/24",  # TEST-NET-1, RFC 5737
        "192.88.99.0/24",  # 6to4 relay anycast, RFC 7526
        "192.168.0.0/16",  # private, RFC 1918
        "198.18.0.0/15",  # benchmarking, RFC 2544
        "198.51.100.0/24",  # TEST-NET-2, RFC 5737
        "203.0.113.0/24",  # TEST-NET-3, RFC 5737
        "224.0.0.0/4",  # multicast, RFC 5771
        "240.0.0.0/4",  # reserved, RFC 1112 (includes 255.255.255.255)
        "::/128",  # unspecified, RFC 4291
        "::1/128",  # loopback, RFC 4291
        "::ffff:0:0/96",  # IPv4-mapped, RFC 4291
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation, RFC 8215
        "100::/64",  # discard-only, RFC 6666
        "2001::/23",  # IETF protocol assignments, RFC 2928
        "2001:db8::/32",  # documentation, RFC 3849
        "fc00::/7",  # unique local, RFC 4193
        "fe80::/10",  # link local, RFC 4291
        "ff00::/8",  # multicast, RFC 4291
    )
)


def parse_address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_bogon(address: str, *, allow: Iterable[Network] = ()) -> bool:
    """True when ``address`` is special-purpose and not inside an allowed network.

    Text that is not an IP address at all is a bogon: a resolver answering garbage is no answer.
    """
    ip = parse_address(address)
    if ip is None:
        return True
    if any(ip.version == net.version and ip in net for net in allow):
        return False
    return any(ip.version == net.version and ip in net for net in SPECIAL_PURPOSE)
