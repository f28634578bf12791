"""The censor's rules: from the set of active actions to nftables, iptables, tc and resolver state.

Pure functions only: the Lab (lab/internet.py) runs what these return. Each action is implemented
in one place here; docs/lab.md explains the mechanisms and the real censors they imitate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lab.actions import ALL, BOGON_ANSWER, Action, Key
from lab.sites import SiteConfig
from lab.topology import (
    BLOCKPAGE_SERVER,
    HIJACK_PROXY,
    ISP_RESOLVER,
    LAB_RANGE,
    NOTICE_SERVER,
    REDIRECT_DOWN_PORT,
    REDIRECT_PORT,
    VANTAGES,
    vantage_interface,
)

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
    second_address: str = ""  # served always; published in DNS when the site asks for it

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the site answers for: the domain, www. and its hosts."""
        return tuple(dict.fromkeys([self.domain, f"www.{self.domain}", *self.hosts]))

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


def _ifset(prefix: str, group: str) -> str:
    names = ", ".join(f'"{vantage_interface(prefix, g)}"' for g in groups_of(group))
    return f"iifname {{ {names} }}"


def _oifset(prefix: str, group: str) -> str:
    names = ", ".join(f'"{vantage_interface(prefix, g)}"' for g in groups_of(group))
    return f"oifname {{ {names} }}"


def _addrset(target: str, targets: Mapping[str, CensorTarget], which: str = "all") -> str:
    """The target's addresses: ``first``, ``second`` or ``all`` (both) of each."""
    addresses: list[str] = []
    for t in targets_of(target, targets):
        both = [a for a in (t.address, t.second_address) if a]
        addresses += both if which == "all" else both[:1] if which == "first" else both[1:2]
    return "{ " + ", ".join(addresses) + " }"


def _tcp_match(target: str, targets: Mapping[str, CensorTarget], params: Mapping[str, str]) -> str:
    """``ip daddr {...}`` plus, when a port is given, ``tcp dport N`` (else any protocol)."""
    match = f"ip daddr {_addrset(target, targets, params.get('address', 'all'))}"
    port = params.get("port", "all")
    return match + (" meta l4proto tcp" if port == "all" else f" tcp dport {port}")


def nft_ruleset(prefix: str, active: Active, targets: Mapping[str, CensorTarget]) -> str:
    """The whole ``inet censor`` table for the isp namespace, replaced atomically on each change."""
    pre: list[str] = []
    inp: list[str] = []
    fwd = [
        "meta nfproto ipv6 drop",
        # defence in depth: a bogon answer (10.10.34.35) must never lead anywhere
        f"ip daddr != {LAB_RANGE} drop",
    ]
    for (action, target, group), params in sorted(active.items()):
        iif = _ifset(prefix, group)
        if action is Action.SHUTDOWN:
            inp.append(f"{iif} drop")
            fwd += [f"{iif} drop", f"{_oifset(prefix, group)} drop"]
        elif action is Action.DNS_INJECTION:
            inp.append(f"{iif} udp dport 53 drop")
            fwd.append(f"{iif} udp dport 53 drop")
        elif action is Action.TCP_RESET:
            fwd.append(f"{iif} {_tcp_match(target, targets, params)} reject with tcp reset")
        elif action is Action.TCP_BLACKHOLE:
            match = _tcp_match(target, targets, params).replace(" meta l4proto tcp", "")
            fwd.append(f"{iif} {match} drop")
        elif action is Action.HTTP_BLOCKPAGE:
            addrs = _addrset(target, targets)
            pre.append(f"{iif} ip daddr {addrs} tcp dport 80 dnat ip to {BLOCKPAGE_SERVER}:80")
        elif action is Action.HTTP_NOTICE:
            addrs = _addrset(target, targets)
            pre.append(f"{iif} ip daddr {addrs} tcp dport 80 dnat ip to {NOTICE_SERVER}:80")
        elif action is Action.HTTP_REDIRECT:
            addrs = _addrset(target, targets)
            port = REDIRECT_PORT if params.get("notice", "up") == "up" else REDIRECT_DOWN_PORT
            pre.append(f"{iif} ip daddr {addrs} tcp dport 80 dnat ip to {NOTICE_SERVER}:{port}")
        elif action is Action.RESOLVER_DOWN:
            # the ISP resolver stops answering this group: every query times out
            dns = f"ip daddr {ISP_RESOLVER} meta l4proto {{ udp, tcp }} th dport 53"
            inp.append(f"{iif} {dns} drop")
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


def _string_rules(iface: str, port: int, text: str, verdict: str) -> list[str]:
    """The match in FORWARD (towards the internet) and INPUT (towards the ISP's own boxes,
    such as the hijack proxy): DPI sits on the path whatever the destination."""
    match = f'-i {iface} -p tcp --dport {port} -m string --algo bm --string "{text}"'
    return [f"-A {chain} {match} -j {verdict}" for chain in ("FORWARD", "INPUT")]


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
                    rules += [r for n in names for r in _string_rules(iface, 443, n, reset)]
                elif action is Action.TLS_SNI_BLACKHOLE:
                    rules += [r for n in names for r in _string_rules(iface, 443, n, "DROP")]
                elif action is Action.HTTP_RESET:
                    rules += [
                        r for n in names for r in _string_rules(iface, 80, f"Host: {n}", reset)
                    ]
    chains = [":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]"]
    return "\n".join(["*filter", *chains, *rules, "COMMIT"]) + "\n"


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
        commands += [
            _tc(f"qdisc add dev {dev} root handle 1: htb default 1"),
            _tc(f"class add dev {dev} parent 1: classid 1:1 htb rate 10gbit"),
        ]
        for index, ((_, target, _), params) in enumerate(throttles):
            classid = f"1:{10 + index}"
            rate = params.get("rate", "32kbit")
            commands.append(
                _tc(f"class add dev {dev} parent 1: classid {classid} htb rate {rate} ceil {rate}")
            )
            sources = (
                ["0.0.0.0/0"]
                if target == ALL
                else [f"{t.address}/32" for t in targets_of(target, targets)]
            )
            match = f"filter add dev {dev} parent 1: protocol ip prio 1 u32 match ip src"
            commands += [_tc(f"{match} {source} flowid {classid}") for source in sources]
    return commands


def _tc(words: str) -> list[str]:
    """One ``tc`` invocation from its words (interface names and rates hold no spaces)."""
    return ["tc", *words.split()]


ResolverState = dict[tuple[str, str], tuple[str, str | None]]  # (view, zone) -> (type, data)


def _resolver_entry(action: Action, fqdn: str) -> tuple[str, str | None] | None:
    """The local zone type (and data) that makes the ISP resolver answer as ``action`` says."""
    ttl = DNS_ANSWER_TTL
    redirect_to = {
        Action.DNS_BOGON: f"A {BOGON_ANSWER}",
        Action.DNS_REDIRECT: f"A {BLOCKPAGE_SERVER}",
        Action.DNS_SERVFAIL: f"CNAME {SERVFAIL_ZONE}",
        Action.DNS_LOCALHOST: "A 127.0.0.1",
        Action.DNS_PROXY: f"A {HIJACK_PROXY}",
    }
    if action is Action.DNS_NXDOMAIN:
        return ("always_nxdomain", None)
    if action is Action.DNS_REFUSED:
        return ("always_refuse", None)
    if action in redirect_to:
        return ("redirect", f"{fqdn} {ttl} IN {redirect_to[action]}")
    return None


def resolver_state(active: Active, targets: Mapping[str, CensorTarget]) -> ResolverState:
    """The local zones each resolver view must hold: view = vantage group, zone = a target's."""
    state: ResolverState = {}
    for action, target, group in sorted(active):
        for view in groups_of(group):
            for t in targets_of(target, targets):
                for zone in t.zones:
                    fqdn = zone.rstrip(".") + "."
                    entry = _resolver_entry(action, fqdn)
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


def injection_answers(
    active: Active, targets: Mapping[str, CensorTarget]
) -> dict[str, dict[str, str]]:
    """Per vantage group, each injected zone with the address forged for it.

    ``answer = "true"`` forges the target's genuine address: an injector racing the resolver
    with the right answer is evidence of an on-path box, not of blocking.
    """
    out: dict[str, dict[str, str]] = {}
    for (action, target, group), params in sorted(active.items()):
        if action is not Action.DNS_INJECTION:
            continue
        for g in groups_of(group):
            for t in targets_of(target, targets):
                forged = t.address if params.get("answer") == "true" else BLOCKPAGE_SERVER
                out.setdefault(g, {}).update(dict.fromkeys(t.zones, forged))
    return out


def proxied_sites(
    active: Active, targets: Mapping[str, CensorTarget]
) -> dict[str, tuple[str, str]]:
    """Names the hijack proxy serves: name -> (the site's real address, "relay" | "notice")."""
    out: dict[str, tuple[str, str]] = {}
    for (action, target, _), params in sorted(active.items()):
        if action is Action.DNS_PROXY:
            for t in targets_of(target, targets):
                mode = params.get("http", "relay")
                out.update(dict.fromkeys(t.names, (t.address, mode)))
    return out


def site_ruleset(sites: Mapping[str, SiteConfig], targets: Mapping[str, CensorTarget]) -> str:
    """The internet's ``inet site`` table: sites that are down for everyone (refuse or drop)."""
    rules: list[str] = []
    for name, site in sorted(sites.items()):
        if site.down == "no":
            continue
        verdict = "reject with tcp reset" if site.down == "refuse" else "drop"
        rules.append(f"ip daddr {_addrset(name, targets)} tcp dport {{ 80, 443 }} {verdict}")
    lines = [
        "table inet site {",
        "  chain input {",
        "    type filter hook input priority filter; policy accept;",
        *(f"    {r}" for r in rules),
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def needs_mitm(active: Iterable[Key]) -> bool:
    return any(key[0] is Action.TLS_MITM for key in active)


def replace_table(name: str, ruleset: str) -> str:
    """nft input that replaces table ``inet NAME`` atomically (created first if absent)."""
    return f"table inet {name}\ndelete table inet {name}\n{ruleset}"
