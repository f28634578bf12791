"""Is a DNS answer consistent with the control's view of the same name? Pure address logic.

Shared by the probe's DNS classification (probe/dns.py), the verdict's rules (probe/findings.py)
and the OONI importer, none of which should need the DNS client to compare two address sets.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


def consistency_of(
    addresses: Iterable[str], control: frozenset[str], *, name_gone: bool = False
) -> str:
    """Consistent when an address, or its /24 (IPv4) or /48 (IPv6), is in the control's answer.

    Same-network matching follows OONI Web Connectivity, which accepts answers in the same ASN; we
    have no ASN database on a small probe, so the covering prefix stands in for it. TLS validation
    of the answer for the name is checked later by the verdict (a CDN answer validates).

    ``name_gone``: the control endpoint (OONI's test helper) finds no address for the name
    (NXDOMAIN, or NOERROR without one): any address answered here is inconsistent, whatever
    else vouches for it (OONI's classic analysis: "successful lookups, and the control resolved
    nothing"); the verdict still drops the flag when the address validates for the name.
    """
    ours = set(addresses)
    if name_gone and ours:
        return "inconsistent"
    if not control:
        return "unknown"
    ours = {_prefix(a) for a in ours}
    theirs = {_prefix(a) for a in control}
    return "consistent" if ours & theirs else "inconsistent"


def _prefix(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))
