"""The censor's vocabulary: every action the lab can apply, and which ones rewrite DNS answers.

One definition shared by the scenario parser, the censor and the CLI. The mechanisms mirror
those documented by OONI and the censorship measurement literature (see docs/lab.md).
"""

from __future__ import annotations

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
}
# The values a parameter accepts (rate is checked by its own pattern in lab/scenario.py).
PARAMETER_CHOICES: dict[str, tuple[str, ...]] = {
    "port": ("all", "80", "443"),
    "address": ("all", "first", "second"),  # a target's first or second published address
    "answer": ("blockpage", "true"),  # forge the blockpage address, or the genuine one
    "http": ("relay", "notice"),  # the hijack proxy relays port 80, or answers a notice page
}
ALL = "all"
# The private address Iran's resolvers answer for blocked names (OONI: 10.10.34.34-36).
BOGON_ANSWER = "10.10.34.35"


def action_names() -> str:
    return " | ".join(a.value for a in Action)
