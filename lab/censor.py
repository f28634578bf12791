"""The censor's rules: from the set of active actions to nftables, iptables, tc and resolver state.

Pure functions only: the Lab (lab/network.py) runs what these return. Each action is implemented
in one place here; docs/lab.md explains the mechanisms and the real censors they imitate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lab.actions import ALL, BOGON_ANSWER, Action
from lab.topology import BLOCKPAGE_SERVER, LAB_RANGE, VANTAGES, vantage_interface

Key = tuple[Action, str, str]  # action, target name or "all", group
Active = Mapping[Key, Mapping[str, str]]  # key -> parameters
MITM_PORT = 8443
# The authoritative server refuses names it does not serve, so a CNAME here ends in SERVFAIL.
SERVFAIL_ZONE = "servfail.tyndau-lab."
DNS_ANSWER_TTL = 5


@dataclass(frozen=True, slots=True)
class CensorTarget:
    """What the censor knows of a target: its address and the DNS zones it answers for."""

    name: str
    domain: str
    address: str
    hosts: tuple[str, ...] = ()

    @property
    def zones(self) -> tuple[str, ...]:
        """The domain plus every host not already under it (a local zone covers subdomains)."""
        out = [self.domain]
        out += [h for h in self.hosts if h != self.domain and not h.endswith("." + self.domain)]
        return tuple(dict.fromkeys(out))


def groups_of(group: str) -> list[str]:
    return [v.name for v in VANTAGES] if group == ALL else [group]


def targets_of(target: str, targets: Mapping[str, CensorTarget]) -> list[CensorTarget]:
    return list(targets.values()) if target == ALL else [targets[target]]


def overlaps(a: Key, b: Key) -> bool:
    """Two keys touch the same target and group ("all" overlaps everything)."""
    return (a[1] == b[1] or ALL in (a[1], b[1])) and (a[2] == b[2] or ALL in (a[2], b[2]))


def _ifset(prefix: str, group: str) -> str:
    names = ", ".join(f'"{vantage_interface(prefix, g)}"' for g in groups_of(group))
    return f"iifname {{ {names} }}"


def _oifset(prefix: str, group: str) -> str:
    names = ", ".join(f'"{vantage_interface(prefix, g)}"' for g in groups_of(group))
    return f"oifname {{ {names} }}"


def _addrset(target: str, targets: Mapping[str, CensorTarget]) -> str:
    return "{ " + ", ".join(t.address for t in targets_of(target, targets)) + " }"


def nft_ruleset(prefix: str, active: Active, targets: Mapping[str, CensorTarget]) -> str:
    """The whole ``inet censor`` table for the isp namespace, replaced atomically on each change."""
    pre: list[str] = []
    inp: list[str] = []
    fwd = [
        "meta nfproto ipv6 drop",
        # defence in depth: a bogon answer (10.10.34.35) must never lead anywhere
        f"ip daddr != {LAB_RANGE} drop",
    ]
    for action, target, group in sorted(active):
        iif = _ifset(prefix, group)
        if action is Action.SHUTDOWN:
            inp.append(f"{iif} drop")
            fwd += [f"{iif} drop", f"{_oifset(prefix, group)} drop"]
        elif action is Action.DNS_INJECTION:
            inp.append(f"{iif} udp dport 53 drop")
            fwd.append(f"{iif} udp dport 53 drop")
        elif action is Action.TCP_RESET:
            addrs = _addrset(target, targets)
            fwd.append(f"{iif} ip daddr {addrs} meta l4proto tcp reject with tcp reset")
        elif action is Action.TCP_BLACKHOLE:
            fwd.append(f"{iif} ip daddr {_addrset(target, targets)} drop")
        elif action is Action.HTTP_BLOCKPAGE:
            addrs = _addrset(target, targets)
            pre.append(f"{iif} ip daddr {addrs} tcp dport 80 dnat ip to {BLOCKPAGE_SERVER}:80")
        elif action is Action.TLS_MITM:
            addrs = _addrset(target, targets)
            pre.append(f"{iif} ip daddr {addrs} tcp dport 443 redirect to :{MITM_PORT}")
    lines = [
        "table inet censor {",
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        *(f"    {r}" for r in pre),
        "  }",
        "  chain input {",
        "    type filter hook input priority filter; policy accept;",
        *(f"    {r}" for r in inp),
        "  }",
        "  chain output {",
        "    type filter hook output priority filter; policy accept;",
        # the injector and the interceptor relay from here: never beyond the lab either
        f"    ip daddr != {{ {LAB_RANGE}, 127.0.0.0/8 }} drop",
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        *(f"    {r}" for r in fwd),
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _string_rule(iface: str, port: int, text: str, verdict: str) -> str:
    return (
        f"-A FORWARD -i {iface} -p tcp --dport {port} -m string --algo bm "
        f'--string "{text}" -j {verdict}'
    )


def iptables_filter(prefix: str, active: Active, targets: Mapping[str, CensorTarget]) -> str:
    """DPI rules as ``iptables-restore`` input: xt_string finds the SNI or Host header in a packet.

    Like real DPI boxes, the match is on the name whatever the destination address; a control
    name sent to the same address passes.
    """
    rules: list[str] = []
    reset = "REJECT --reject-with tcp-reset"
    for action, target, group in sorted(active):
        for group_name in groups_of(group):
            iface = vantage_interface(prefix, group_name)
            for t in targets_of(target, targets):
                names = (t.domain, *t.hosts)
                if action is Action.TLS_SNI_RESET:
                    rules += [_string_rule(iface, 443, n, reset) for n in names]
                elif action is Action.TLS_SNI_BLACKHOLE:
                    rules += [_string_rule(iface, 443, n, "DROP") for n in names]
                elif action is Action.HTTP_RESET:
                    rules += [_string_rule(iface, 80, f"Host: {n}", reset) for n in names]
    return "\n".join(["*filter", ":FORWARD ACCEPT [0:0]", *rules, "COMMIT"]) + "\n"


def tc_commands(
    prefix: str, active: Active, targets: Mapping[str, CensorTarget]
) -> list[list[str]]:
    """tc invocations (after a ``qdisc del``) shaping traffic towards each vantage group.

    htb + u32 on the isp's vantage-facing interface: downloads from the throttled addresses are
    held at ``rate``, everything else goes at line rate (netem is not in these kernels).
    """
    commands: list[list[str]] = []
    for vantage in VANTAGES:
        dev = vantage_interface(prefix, vantage.name)
        throttles = [
            (key, params)
            for key, params in sorted(active.items())
            if key[0] is Action.THROTTLE and vantage.name in groups_of(key[2])
        ]
        if not throttles:
            continue
        tc = ["tc"]
        commands += [
            [*tc, "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1"],
            [
                *tc,
                "class",
                "add",
                "dev",
                dev,
                "parent",
                "1:",
                "classid",
                "1:1",
                "htb",
                "rate",
                "10gbit",
            ],
        ]
        for index, ((_, target, _), params) in enumerate(throttles):
            classid = f"1:{10 + index}"
            rate = params.get("rate", "32kbit")
            commands.append(
                [
                    *tc,
                    "class",
                    "add",
                    "dev",
                    dev,
                    "parent",
                    "1:",
                    "classid",
                    classid,
                    "htb",
                    "rate",
                    rate,
                    "ceil",
                    rate,
                ]
            )
            sources = (
                ["0.0.0.0/0"]
                if target == ALL
                else [f"{t.address}/32" for t in targets_of(target, targets)]
            )
            for source in sources:
                commands.append(
                    [
                        *tc,
                        "filter",
                        "add",
                        "dev",
                        dev,
                        "parent",
                        "1:",
                        "protocol",
                        "ip",
                        "prio",
                        "1",
                        "u32",
                        "match",
                        "ip",
                        "src",
                        source,
                        "flowid",
                        classid,
                    ]
                )
    return commands


ResolverState = dict[tuple[str, str], tuple[str, str | None]]  # (view, zone) -> (type, data)


def resolver_state(active: Active, targets: Mapping[str, CensorTarget]) -> ResolverState:
    """The local zones each resolver view must hold: view = vantage group, zone = a target's."""
    state: ResolverState = {}
    for action, target, group in sorted(active):
        for view in groups_of(group):
            for t in targets_of(target, targets):
                for zone in t.zones:
                    fqdn = zone.rstrip(".") + "."
                    entry: tuple[str, str | None] | None = None
                    if action is Action.DNS_NXDOMAIN:
                        entry = ("always_nxdomain", None)
                    elif action is Action.DNS_REFUSED:
                        entry = ("always_refuse", None)
                    elif action is Action.DNS_BOGON:
                        entry = ("redirect", f"{fqdn} {DNS_ANSWER_TTL} IN A {BOGON_ANSWER}")
                    elif action is Action.DNS_REDIRECT:
                        entry = ("redirect", f"{fqdn} {DNS_ANSWER_TTL} IN A {BLOCKPAGE_SERVER}")
                    elif action is Action.DNS_SERVFAIL:
                        entry = ("redirect", f"{fqdn} {DNS_ANSWER_TTL} IN CNAME {SERVFAIL_ZONE}")
                    elif action is Action.SHUTDOWN:
                        continue
                    if entry is not None:
                        state[(view, fqdn)] = entry
    return state


def resolver_commands(old: ResolverState, new: ResolverState) -> list[list[str]]:
    """unbound-control arguments turning ``old`` into ``new`` (removals first)."""
    commands: list[list[str]] = []
    for key, entry in sorted(old.items()):
        if new.get(key) != entry:
            commands.append(["view_local_zone_remove", key[0], key[1]])
            if entry[1] is not None:
                commands.append(["view_local_data_remove", key[0], key[1]])
    for key, entry in sorted(new.items()):
        if old.get(key) != entry:
            commands.append(["view_local_zone", key[0], key[1], entry[0]])
            if entry[1] is not None:
                commands.append(["view_local_data", key[0], entry[1]])
    return commands


def injected_names(active: Active, targets: Mapping[str, CensorTarget]) -> dict[str, list[str]]:
    """Per vantage group, the zones the on-path injector forges answers for."""
    out: dict[str, list[str]] = {}
    for action, target, group in sorted(active):
        if action is not Action.DNS_INJECTION:
            continue
        for g in groups_of(group):
            out.setdefault(g, [])
            out[g] += [z for t in targets_of(target, targets) for z in t.zones]
    return out


def needs_mitm(active: Iterable[Key]) -> bool:
    return any(key[0] is Action.TLS_MITM for key in active)
