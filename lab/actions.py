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


# Actions that change the ISP resolver's answer: two of them on the same name contradict.
RESOLVER_ACTIONS = frozenset(
    {
        Action.DNS_NXDOMAIN,
        Action.DNS_BOGON,
        Action.DNS_REFUSED,
        Action.DNS_SERVFAIL,
        Action.DNS_REDIRECT,
    }
)
# Parameters each action accepts, with defaults.
PARAMETERS: dict[Action, dict[str, str]] = {Action.THROTTLE: {"rate": "32kbit"}}
ALL = "all"
# The private address Iran's resolvers answer for blocked names (OONI: 10.10.34.34-36).
BOGON_ANSWER = "10.10.34.35"


def action_names() -> str:
    return " | ".join(a.value for a in Action)
