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

# Python's ipaddress keeps the IANA IPv4/IPv6 Special-Purpose Address Registries (RFC 6890):
# an address that is not ``is_global`` is special-purpose (private, loopback, link local,
# CGNAT, documentation, benchmarking, reserved, ...). Added here: multicast, and three blocks
# the registries list as not global that this Python's copy leaves out.
NOT_GLOBAL_EXTRA: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "192.0.0.0/24",  # IETF protocol assignments, RFC 6890
        "192.88.99.0/24",  # 6to4 relay anycast, RFC 7526
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation, RFC 8215
    )
)


def is_special(ip: Address) -> bool:
    """Special-purpose: not globally reachable (IANA registries), or multicast."""
    if not ip.is_global or ip.is_multicast:
        return True
    return any(ip.version == net.version and ip in net for net in NOT_GLOBAL_EXTRA)


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
    return is_special(ip)
