"""The QA suite: one row per case, like OONI's internal/webconnectivityqa (ooni/probe-cli).

Each row builds a situation in the lab (censor actions, the sites' own behaviour, the probe's
resolvers and control endpoint), runs ``tyndau probe once`` in the fixed vantage and checks the
subject's verdict (and method, and reason where one is certain) and that no bystander is called
blocked. Expected results are what a correct probe must conclude (tests/qa/README.md maps every
OONI case to ours, with OONI's expectation beside ours). Nothing is mocked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from lab.sites import SiteConfig

pytestmark = [pytest.mark.root, pytest.mark.lab, pytest.mark.slow]

Action = tuple[str, str, Mapping[str, str]]  # action, target, parameters
ALL_SITES = ("alpha", "plain", "beta", "ctlone", "ctltwo")
NOT_BLOCKED = "accessible|inconclusive|offline"


def act(action: str, target: str = "alpha", **params: str) -> Action:
    return (action, target, params)


@dataclass(frozen=True)
class Case:
    name: str
    expect: str  # "verdict" or "verdict/method"; "|" separates accepted alternatives
    actions: tuple[Action, ...] = ()
    sites: Mapping[str, SiteConfig] = field(default_factory=dict)
    target: str = "alpha"  # alpha: https://alpha-news.lab/, plain: http://plain-news.lab/
    reason: str | None = None
    control: str = "up"  # up | down | none
    resolvers: tuple[str, ...] = ("public",)
    timeout: float = 2.0
    bystanders: str = "accessible"  # what every uninvolved target must be


def site(**settings: Any) -> SiteConfig:
    return SiteConfig(**settings)


CASES = [
    # -- no censorship at all ------------------------------------------------------------------
    Case("success-https", "accessible"),
    Case("success-http", "accessible", target="plain"),
    Case("large-file-https", "accessible", sites={"alpha": site(page="large")}),
    Case("large-file-http", "accessible", target="plain", sites={"plain": site(page="large")}),
    Case("redirect-www-https", "accessible", sites={"alpha": site(redirect="www")}),
    Case("redirect-www-http", "accessible", target="plain", sites={"plain": site(redirect="www")}),
    # -- DNS blocking of every kind ------------------------------------------------------------
    Case("dns-nxdomain", "blocked/dns", (act("dns-nxdomain"),), reason="dns.nxdomain"),
    Case("dns-nxdomain-http", "blocked/dns", (act("dns-nxdomain", "plain"),), target="plain"),
    Case("dns-refused", "blocked/dns", (act("dns-refused"),), reason="dns.refused"),
    Case("dns-servfail", "blocked/dns", (act("dns-servfail"),), reason="dns.servfail"),
    Case("dns-bogon", "blocked/dns", (act("dns-bogon"),), reason="dns.bogon"),
    Case("dns-redirect-https", "blocked/dns", (act("dns-redirect"),)),
    Case("dns-redirect-http", "blocked/dns", (act("dns-redirect", "plain"),), target="plain"),
    Case("dns-injection", "blocked/dns", (act("dns-injection"),), reason="dns.injected"),
    Case("dns-localhost-https", "blocked/dns", (act("dns-localhost"),)),
    Case("dns-localhost-http", "blocked/dns", (act("dns-localhost", "plain"),), target="plain"),
    Case("dns-proxy-relay-https", "accessible", (act("dns-proxy"),)),
    Case("dns-proxy-relay-http", "accessible", (act("dns-proxy", "plain"),), target="plain"),
    Case(
        "dns-proxy-notice-http",
        "blocked/dns|blocked/http",
        (act("dns-proxy", "plain", http="notice"),),
        target="plain",
    ),
    Case("ghost-dns-https", "blocked/dns", (act("dns-redirect"),), {"alpha": site(dns="nxdomain")}),
    # a name gone for the control, answered here with an address no list knows (the ISP's proxy,
    # serving its own notice page on 80): inconsistent by itself (OONI's classic rule) unless it
    # validates for the name; the proxy relays 443 to the site, so only a site also down leaves
    # the DNS answer as the finding, else the notice page against the site's own https page
    Case(
        "ghost-dns-proxy-down-http",
        "blocked/dns",
        (act("dns-proxy", "plain", http="notice"),),
        {"plain": site(dns="nxdomain", down="refuse")},
        target="plain",
        reason="dns.inconsistent",
    ),
    Case(
        "ghost-dns-proxy-notice-http",
        "blocked/http",
        (act("dns-proxy", "plain", http="notice"),),
        {"plain": site(dns="nxdomain")},
        target="plain",
        reason="http.diff",
    ),
    Case(
        "ghost-dns-http",
        "blocked/dns",
        (act("dns-redirect", "plain"),),
        {"plain": site(dns="nxdomain")},
        target="plain",
    ),
    # -- issue 11 class 1: the resolver in resolv.conf given again is not a control ------------
    *(
        Case(
            f"same-resolver-twice-{kind}",
            "blocked/dns",
            (act(f"dns-{kind}"),),
            control="none",
            resolvers=("isp",),
            reason=f"dns.{kind}",
        )
        for kind in ("refused", "servfail")
    ),
    # its cleartext NXDOMAIN, with no independent view of the name: a name gone and a censor's
    # forged NXDOMAIN look the same (docs/method.md); the resolver is still not its own control
    Case(
        "same-resolver-twice-nxdomain",
        "inconclusive",
        (act("dns-nxdomain"),),
        control="none",
        resolvers=("isp",),
    ),
    # -- issue 11 class 4: an injector racing the resolver with the true answer ----------------
    Case("injector-true-answer-https", "accessible", (act("dns-injection", answer="true"),)),
    Case(
        "injector-true-answer-http",
        "accessible",
        (act("dns-injection", "plain", answer="true"),),
        target="plain",
    ),
    # -- TCP blocking per port and per address (issue 11 class 5) ------------------------------
    Case("tcp-blackhole", "blocked/tcp", (act("tcp-blackhole"),), reason="tcp.timeout"),
    Case("tcp-reset", "blocked/tcp", (act("tcp-reset"),), reason="tcp.reset"),
    Case("tcp-blackhole-443", "blocked/tcp", (act("tcp-blackhole", port="443"),)),
    Case("tcp-reset-443", "blocked/tcp", (act("tcp-reset", port="443"),)),
    Case("tcp-blackhole-80-https-url", "accessible", (act("tcp-blackhole", port="80"),)),
    Case(
        "tcp-reset-80-http-url",
        "blocked/tcp|blocked/http",
        (act("tcp-reset", "plain", port="80"),),
        target="plain",
    ),
    *(
        Case(
            f"two-addresses-{how}-{which}-blocked",
            "accessible",
            (act(f"tcp-{how}", address=which),),
            {"alpha": site(addresses=2)},
        )
        for how in ("blackhole", "reset")
        for which in ("first", "second")
    ),
    Case(
        "two-addresses-both-blocked",
        "blocked/tcp",
        (act("tcp-blackhole", address="all"),),
        {"alpha": site(addresses=2)},
    ),
    # -- TLS blocking and interception ---------------------------------------------------------
    Case("tls-sni-reset", "blocked/tls", (act("tls-sni-reset"),), reason="tls.reset"),
    Case("tls-sni-blackhole", "blocked/tls", (act("tls-sni-blackhole"),), reason="tls.timeout"),
    Case("tls-mitm", "blocked/tls", (act("tls-mitm"),), reason="tls.mitm"),
    Case(
        "tls-mitm-of-expired-site",
        "blocked/tls",
        (act("tls-mitm"),),
        {"alpha": site(certificate="expired")},
        reason="tls.mitm",
    ),
    Case(
        "tls-reset-with-dns-hijack",
        "blocked/dns|blocked/tls",
        (act("dns-proxy"), act("tls-sni-reset")),
    ),
    # -- HTTP blocking, resets, blockpages and diffs (issue 11 class 3) ------------------------
    Case(
        "http-blockpage",
        "blocked/http",
        (act("http-blockpage", "plain"),),
        target="plain",
        reason="http.blockpage",
    ),
    Case(
        "http-reset",
        "blocked/http",
        (act("http-reset", "plain"),),
        target="plain",
        reason="http.reset",
    ),
    # a 302 to the national notice page (Indonesia's Kominfo, Korea's warning.or.kr): named by
    # its Location fingerprint, also when the notice page itself does not load
    Case(
        "http-redirect-notice",
        "blocked/http",
        (act("http-redirect", "plain"),),
        target="plain",
        reason="http.blockpage",
    ),
    Case(
        "http-redirect-notice-down",
        "blocked/http",
        (act("http-redirect", "plain", notice="down"),),
        target="plain",
        reason="http.blockpage",
    ),
    Case(
        "http-notice-page",
        "blocked/http",
        (act("http-notice", "plain"),),
        target="plain",
        reason="http.diff",
    ),
    Case(
        "http-notice-page-no-control",
        "blocked/http",
        (act("http-notice", "plain"),),
        target="plain",
        reason="http.diff",
        control="none",
    ),
    # -- redirects ending in a failure, and a broken one ---------------------------------------
    Case(
        "redirect-then-reset",
        "blocked",
        (act("tcp-reset", "beta"),),
        {"alpha": site(redirect="beta")},
    ),
    Case(
        "redirect-then-timeout",
        "blocked",
        (act("tcp-blackhole", "beta"),),
        {"alpha": site(redirect="beta")},
    ),
    Case(
        "redirect-then-nxdomain",
        "blocked",
        (act("dns-nxdomain", "beta"),),
        {"alpha": site(redirect="beta")},
    ),
    Case(
        "redirect-then-sni-reset",
        "blocked",
        (act("tls-sni-reset", "beta"),),
        {"alpha": site(redirect="beta")},
    ),
    # the site's own 302 to "https://" (over validated TLS, or seen by the control too): the
    # site's answer leading nowhere, like its redirect loop
    Case("redirect-broken-https", "inconclusive", sites={"alpha": site(redirect="broken")}),
    Case(
        "redirect-broken-http",
        "inconclusive",
        sites={"plain": site(redirect="broken")},
        target="plain",
    ),
    # OONI's redirectWithMoreThanTenRedirects: the site's own loop, never a block
    Case("redirect-loop-https", "inconclusive", sites={"alpha": site(redirect="loop")}),
    Case(
        "redirect-loop-http", "inconclusive", sites={"plain": site(redirect="loop")}, target="plain"
    ),
    # -- issue 11 class 2: the site's own certificate problem is not censorship ----------------
    *(
        Case(
            f"cert-{cert}-control-{control}",
            "inconclusive",
            sites={"alpha": site(certificate=cert)},
            control=control,
        )
        for cert in ("expired", "wrong-name", "untrusted")
        for control in ("up", "none")
    ),
    Case(
        "cert-expired-everywhere",
        "inconclusive",
        sites={name: site(certificate="expired") for name in ALL_SITES},
        bystanders=NOT_BLOCKED,
    ),
    # -- issue 11 class 6: down or gone for everyone, the ISP resolver down --------------------
    Case("website-down-refuse", "inconclusive", sites={"alpha": site(down="refuse")}),
    Case("website-down-timeout", "inconclusive", sites={"alpha": site(down="timeout")}),
    Case("website-down-nxdomain", "inconclusive", sites={"alpha": site(dns="nxdomain")}),
    Case("website-down-no-address", "inconclusive", sites={"alpha": site(dns="nodata")}),
    Case("website-localhost-https", "inconclusive", sites={"alpha": site(dns="localhost")}),
    Case(
        "website-localhost-http",
        "inconclusive",
        sites={"plain": site(dns="localhost")},
        target="plain",
    ),
    Case(
        "isp-resolver-down",
        "inconclusive|offline",
        (act("resolver-down", "all"),),
        bystanders="inconclusive|offline",
    ),
    Case(
        "isp-resolver-down-no-other-resolver",
        "inconclusive|offline",
        (act("resolver-down", "all"),),
        control="none",
        resolvers=(),
        bystanders="inconclusive|offline",
    ),
    Case("shutdown", "offline", (act("shutdown", "all"),), bystanders="offline"),
    # -- issue 11 class 6: a bot challenge from the real site -----------------------------------
    Case("challenge-403-https", "accessible", sites={"alpha": site(page="challenge")}),
    Case(
        "challenge-403-http", "accessible", sites={"plain": site(page="challenge")}, target="plain"
    ),
    # -- control failures ----------------------------------------------------------------------
    Case("control-down-success-https", "accessible", control="down"),
    Case("control-down-success-http", "accessible", target="plain", control="down"),
    Case("control-down-dns-nxdomain", "blocked/dns", (act("dns-nxdomain"),), control="down"),
    Case("control-down-tcp-reset", "blocked/tcp", (act("tcp-reset"),), control="down"),
    # -- throttling ----------------------------------------------------------------------------
    Case("throttle", "blocked/throttled", (act("throttle"),), timeout=8.0),
]


def involved(case: Case) -> set[str]:
    names = {case.target, *case.sites}
    names |= {s.redirect for s in case.sites.values() if s.redirect in ALL_SITES}
    for _, target, _ in case.actions:
        names |= set(ALL_SITES) if target == "all" else {target}
    return names


def matches(verdict: dict[str, Any], expect: str) -> bool:
    for option in expect.split("|"):
        kind, _, method = option.partition("/")
        if verdict["verdict"] == kind and (not method or verdict.get("method") == method):
            return True
    return False


def describe(verdict: dict[str, Any], *, evidence: bool = False) -> str:
    shown = "/".join(str(verdict.get(k)) for k in ("verdict", "method", "reason"))
    text = f"{shown}: {verdict.get('explanation', '')}"
    if evidence:  # what the probe measured, for whoever fixes the case
        steps = [
            f"{m['test']}={m['outcome']} {json.dumps(m.get('details', {}), sort_keys=True)[:1600]}"
            for m in verdict.get("measurements", [])
        ]
        text += "\n  " + "\n  ".join(steps)
    return text


Outcome = dict[str, dict[str, Any]] | BaseException  # verdicts by target, or what went wrong


def compatible(a: Case, b: Case) -> bool:
    """Two cases may run at once (one per vantage group): same sites, one hijack proxy at most."""
    proxy = sum(any(step[0] == "dns-proxy" for step in c.actions) for c in (a, b))
    return a.sites == b.sites and proxy < 2


def pairs(cases: list[Case]) -> list[tuple[Case, ...]]:
    """Greedy pairing in table order; a case without a partner runs alone."""
    left = list(cases)
    out: list[tuple[Case, ...]] = []
    while left:
        first = left.pop(0)
        partner = next((c for c in left if compatible(first, c)), None)
        if partner is None:
            out.append((first,))
        else:
            left.remove(partner)
            out.append((first, partner))
    return out


class Runner:
    """Runs each case's pair the first time one of the two is asked for, then remembers both."""

    def __init__(self, world: Any, cases: list[Case]) -> None:
        self.world = world
        self.partners = {c.name: group for group in pairs(cases) for c in group}
        self.results: dict[str, Outcome] = {}

    def outcome(self, case: Case) -> Outcome:
        if case.name not in self.results:
            self._run(self.partners.get(case.name, (case,)))
        return self.results[case.name]

    def _run(self, group: tuple[Case, ...]) -> None:
        nodes = ("fixed", "mobile")[: len(group)]
        steps = [
            (*step, node) for case, node in zip(group, nodes, strict=True) for step in case.actions
        ]
        try:
            self.world.prepare(group[0].sites, steps)
            jobs = [
                (n, c.control, c.resolvers, c.timeout) for c, n in zip(group, nodes, strict=True)
            ]
            for case, verdicts in zip(group, self.world.run_together(jobs), strict=True):
                self.results[case.name] = verdicts
        except Exception as exc:  # reported by each case of the pair
            self.results.update({case.name: exc for case in group})
        finally:
            self.world.lab.clear()


def _qa_case(item: pytest.Item) -> Case | None:
    """The QA case an item runs; other modules parametrize a "case" of their own (strings)."""
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    return case if isinstance(case, Case) else None


@pytest.fixture(scope="module")
def runner(qa_world: Any, request: pytest.FixtureRequest) -> Runner:
    """Pairs the selected cases (same sites: one per vantage group, at once)."""
    selected = {case.name for item in request.session.items if (case := _qa_case(item))}
    return Runner(qa_world, [c for c in CASES if c.name in selected])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(runner: Runner, case: Case) -> None:
    verdicts = runner.outcome(case)
    if isinstance(verdicts, BaseException):
        raise verdicts
    got = verdicts[case.target]
    assert matches(got, case.expect), f"expected {case.expect}, got {describe(got, evidence=True)}"
    if case.reason is not None:
        assert got["reason"] == case.reason, describe(got)
    bystanders = {n: v for n, v in verdicts.items() if n not in involved(case)}
    wrong = {n: describe(v) for n, v in bystanders.items() if not matches(v, case.bystanders)}
    assert not wrong, f"bystanders should be {case.bystanders}: {wrong}"


def test_pairs_share_sites_and_never_two_proxies() -> None:
    paired = pairs(CASES)
    assert sorted(c.name for group in paired for c in group) == sorted(c.name for c in CASES)
    for group in paired:
        assert len(group) == 1 or compatible(*group)


def test_every_case_has_a_unique_name() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
