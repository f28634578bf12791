"""The censor's vocabulary: every action the lab can apply, and which ones rewrite DNS answers.

One definition shared by the scenario parser, the censor and the CLI, with the checks both a
scenario file and a live ``Lab.apply`` make (one target, parameters, clashes with what is active).
The mechanisms mirror those documented by OONI and the censorship measurement literature (see
docs/lab.md).
"""

from __future__ import annotations

import re
from enum import StrEnum


class Action(StrEnum):
    DNS_NXDOMAIN = "dns-nxdomain"
    DNS_BOGON = "dns-bogon"
    DNS_REFUSED = "dns-refused"
    DNS_SERVFAIL = "dns-servfail"
    DNS_REDIRECT = "dns-redirect"
    DNS_INJECTION = "dns-injection"
    TCP_RESET = "tcp-reset"
    TCP_BLACKHOLE = "tcp-blackhole"
    TLS_SNI_RESET = "tls-sni-reset"
    TLS_SNI_BLACKHOLE = "tls-sni-blackhole"
    HTTP_BLOCKPAGE = "http-blockpage"
    HTTP_RESET = "http-reset"
    THROTTLE = "throttle"
    TLS_MITM = "tls-mitm"
    SHUTDOWN = "shutdown"
    DNS_LOCALHOST = "dns-localhost"
    DNS_PROXY = "dns-proxy"
    RESOLVER_DOWN = "resolver-down"
    HTTP_NOTICE = "http-notice"
    HTTP_REDIRECT = "http-redirect"


# Actions that change the ISP resolver's answer: two of them on the same name contradict.
RESOLVER_ACTIONS = frozenset(
    {
        Action.DNS_NXDOMAIN,
        Action.DNS_BOGON,
        Action.DNS_REFUSED,
        Action.DNS_SERVFAIL,
        Action.DNS_REDIRECT,
        Action.DNS_LOCALHOST,
        Action.DNS_PROXY,
    }
)
# Actions that act on the whole resolver, not on names: their target must be "all".
WHOLE_RESOLVER_ACTIONS = frozenset({Action.RESOLVER_DOWN})
# Parameters each action accepts, with defaults.
_TCP_SCOPE = {"port": "all", "address": "all"}
PARAMETERS: dict[Action, dict[str, str]] = {
    Action.THROTTLE: {"rate": "32kbit"},
    Action.TCP_RESET: dict(_TCP_SCOPE),
    Action.TCP_BLACKHOLE: dict(_TCP_SCOPE),
    Action.DNS_INJECTION: {"answer": "blockpage"},
    Action.DNS_PROXY: {"http": "relay"},
    Action.HTTP_REDIRECT: {"notice": "up"},
}
# The values a parameter accepts (rate: a tc rate, ``RATE``).
PARAMETER_CHOICES: dict[str, tuple[str, ...]] = {
    "port": ("all", "80", "443"),
    "address": ("all", "first", "second"),  # a target's first or second published address
    "answer": ("blockpage", "true"),  # forge the blockpage address, or the genuine one
    "http": ("relay", "notice"),  # the hijack proxy relays port 80, or answers a notice page
    "notice": ("up", "down"),  # http-redirect: the notice page it points to loads, or refuses
}
RATE = re.compile(r"^\d+(?:\.\d+)?(?:bit|kbit|mbit|gbit)$")
ALL = "all"
# The private address Iran's resolvers answer for blocked names (OONI: 10.10.34.34-36).
BOGON_ANSWER = "10.10.34.35"


def action_names() -> str:
    return " | ".join(a.value for a in Action)


Key = tuple[Action, str, str]  # (action, target, group): one censorship rule


def overlaps(a: Key, b: Key) -> bool:
    """Two keys touch the same target and group ("all" overlaps everything)."""
    return (a[1] == b[1] or ALL in (a[1], b[1])) and (a[2] == b[2] or ALL in (a[2], b[2]))


def clash(active: Key, new: Key) -> tuple[str, str] | None:
    """Why ``new`` cannot be applied while ``active`` is (the same action twice, or two answers
    from the resolver for one name, on an overlapping target and group), with the remedy; None
    when both may act at once."""
    if not overlaps(active, new):
        return None
    action, target, group = active
    if action == new[0]:
        return f"{new[0]} is already applied to target {target!r} group {group!r}", "lift it first"
    if {action, new[0]} <= RESOLVER_ACTIONS:
        return (
            f"{new[0]} contradicts {action} already applied to target {target!r} group {group!r}",
            f"lift {action} first",
        )
    return None


def target_problem(action: Action, targets: list[str]) -> str | None:
    """Why ``targets`` cannot be what ``action`` acts on; None when they can."""
    if action in WHOLE_RESOLVER_ACTIONS and targets != [ALL]:
        return f"{action} acts on every name: its target is all"
    return None


def parameter_problem(action: Action, name: str, value: str) -> tuple[str, str] | None:
    """Why ``name = value`` is not a parameter of ``action``, with what is accepted; None when
    it is."""
    allowed = PARAMETERS.get(action, {})
    if name not in allowed:
        return f"{action} takes no parameter {name!r}", " | ".join(allowed) or "none"
    choices = PARAMETER_CHOICES.get(name, ())
    if choices and value not in choices:
        return f"unknown value {value!r}", " | ".join(choices)
    if name == "rate" and not RATE.match(value):
        return f"invalid rate {value!r}", 'a tc rate like "32kbit", "1mbit"'
    return None
