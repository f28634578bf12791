"""Kinds and scopes: what an anomaly is and where, from deterministic histories."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from collector.anomaly.classify import EVERYWHERE, Detection, detect
from collector.anomaly.series import build_grid
from collector.anomaly.thresholds import Thresholds
from collector.records import EventKind, Scope

TH = Thresholds()


def run(b: Any, leaves: list[Any], n: int, *, backfilled: bool = True) -> list[Detection]:
    verdicts, heartbeats = b.history(leaves, n, backfilled=backfilled)
    until = b.t0 + timedelta(seconds=n * b.step)
    grid = build_grid(verdicts, heartbeats, since=b.t0, until=until, step_s=b.step)
    return detect(grid, TH, judge_from=b.day)


NETS = ("fixed", "mobile")


def country(b: Any, special: dict[tuple[int, str], dict[str, Any]] | None = None) -> list[Any]:
    """KZ with two ASNs, each with fixed and mobile vantages; ``special`` sets some leaves."""
    special = special or {}
    return [
        b.Leaf(cc="KZ", asn=asn, network=net, **special.get((asn, net), {}))
        for asn in (64500, 64501)
        for net in ("fixed", "mobile")
    ]


def test_mobile_only_cut_in_one_asn_is_scoped_to_that_network(b: Any) -> None:
    s = b.day + 30
    leaves = country(b, {(64500, "mobile"): {"shutdown": (s, s + 20)}})
    (det,) = run(b, leaves, b.day + 80)
    assert det.kind == EventKind.SHUTDOWN
    assert det.scope == Scope(cc="KZ", asn=64500, network="mobile", probes=6)
    assert (det.start, det.end) == (b.at(s), b.at(s + 20))
    assert det.opened - det.start <= timedelta(seconds=2 * b.step)


def test_nationwide_cut_is_one_country_event(b: Any) -> None:
    s = b.day + 30
    leaves = country(b)
    for leaf in leaves:
        leaf.shutdown = (s, s + 20)
    (det,) = run(b, leaves, b.day + 80)
    assert det.scope.cc == "KZ" and det.scope.asn is None and det.scope.network is None
    assert det.evidence["probes_before"] == 24
    assert det.evidence["offline_verdicts"] == 4 * 6 * 2 * 20


def test_one_asn_cut_is_scoped_to_the_asn(b: Any) -> None:
    s = b.day + 30
    leaves = country(b)
    for leaf in leaves[:2]:
        leaf.shutdown = (s, s + 20)
    (det,) = run(b, leaves, b.day + 80)
    assert (det.scope.asn, det.scope.network) == (64500, None)


def test_shutdown_seen_in_real_time_is_ongoing_while_silent(b: Any) -> None:
    s = b.day + 30
    leaves = [b.Leaf(shutdown=(s, s + 1000))]
    (det,) = run(b, leaves, b.day + 40, backfilled=False)
    assert det.kind == EventKind.SHUTDOWN and det.end is None and det.start == b.at(s)


def test_blocking_with_method_and_reasons(b: Any) -> None:
    s = b.day + 10
    leaves = country(b, {(64501, "fixed"): {"blocked": {"telegram": (s, s + 30, "dns")}}})
    (det,) = run(b, leaves, b.day + 60)
    assert (det.kind, det.target, det.method) == (EventKind.BLOCKING, "telegram", "dns")
    assert det.scope == Scope(cc="KZ", asn=64501, network="fixed", probes=6)
    assert det.evidence["reasons"] == {"dns.nxdomain": 6 * 30}
    assert det.evidence["blocked"] == 180 and det.evidence["measured"] == 180


def test_throttling_is_its_own_kind(b: Any) -> None:
    s = b.day + 10
    leaves = country(b)
    for leaf in leaves:
        leaf.blocked = {"telegram": (s, s + 30, "throttled")}
    (det,) = run(b, leaves, b.day + 60)
    assert (det.kind, det.method, det.scope.asn) == (EventKind.THROTTLING, "throttled", None)


def test_failure_in_several_countries_is_a_platform_outage(b: Any) -> None:
    s = b.day + 10
    leaves = [
        b.Leaf(cc=cc, asn=asn, blocked={"telegram": (s + shift, s + 30, "tcp")})
        for cc, asn, shift in (("KZ", 64500, 0), ("UZ", 64510, 1), ("KG", 64520, 2))
    ]
    (det,) = run(b, leaves, b.day + 60)
    assert det.kind == EventKind.PLATFORM_OUTAGE and det.scope.cc == EVERYWHERE
    assert det.evidence["countries"] == ["KG", "KZ", "UZ"]


def test_inconclusive_failure_in_one_country_is_no_event(b: Any) -> None:
    # Issue 13: a single group can never make a platform outage (it needs min_countries); this
    # test used to expect one, which is the behaviour the issue names as wrong.
    s = b.day + 10
    assert run(b, [b.Leaf(inconclusive={"telegram": (s, s + 30)})], b.day + 60) == []


def test_no_blocking_when_the_controls_fail_too(b: Any) -> None:
    s = b.day + 10
    leaf = b.Leaf(blocked={"telegram": (s, s + 30, "tcp")}, controls_fail=(s, s + 30))
    # Every probe's controls and the platform fail together: the vantage lost its (international)
    # connectivity. Not blocking; since issue 13 it is reported as what it is, a shutdown.
    assert [d.kind for d in run(b, [leaf], b.day + 60)] == [EventKind.SHUTDOWN]


def test_quiet_history_has_no_events(b: Any) -> None:
    assert run(b, country(b), 2 * b.day) == []


def test_mobile_cut_across_every_asn_is_a_nationwide_mobile_event(b: Any) -> None:
    s = b.day + 30
    cut = {"shutdown": (s, s + 20)}
    (det,) = run(b, country(b, {(64500, "mobile"): cut, (64501, "mobile"): cut}), b.day + 80)
    assert (det.scope.cc, det.scope.asn, det.scope.network) == ("KZ", None, "mobile")
    assert det.evidence["leaves"] == ["KZ/AS64500/mobile", "KZ/AS64501/mobile"]


def test_cuts_in_some_networks_of_several_asns_stay_separate(b: Any) -> None:
    s = b.day + 30
    cut = {"shutdown": (s, s + 20)}
    found = run(b, country(b, {(64500, "mobile"): cut, (64501, "fixed"): cut}), b.day + 80)
    assert sorted((d.scope.asn, d.scope.network) for d in found) == [
        (64500, "mobile"),
        (64501, "fixed"),
    ]


def test_asns_blocking_on_their_own_time_are_separate_events(b: Any) -> None:
    # Russia 2022: each ISP blocked the platform when it did; hours apart, one event each
    s = b.day + 10
    block = {"blocked": {"telegram": (s, s + 60, "tls")}}
    later = {"blocked": {"telegram": (s + 24, s + 60, "tls")}}
    leaves = country(
        b,
        {(64500, "fixed"): block, (64500, "mobile"): block}
        | {(64501, "fixed"): later, (64501, "mobile"): later},
    )
    found = run(b, leaves, b.day + 100)
    assert sorted((d.scope.asn, d.scope.network, d.start) for d in found) == [
        (64500, None, b.at(s)),
        (64501, None, b.at(s + 24)),
    ]


def test_asns_blocking_together_are_one_country_event(b: Any) -> None:
    s = b.day + 10
    block = {"blocked": {"telegram": (s, s + 60, "tls")}}
    leaves = country(b, {k: block for k in ((a, n) for a in (64500, 64501) for n in NETS)})
    (det,) = run(b, leaves, b.day + 100)
    assert (det.scope.asn, det.scope.network) == (None, None)


def test_a_mobile_block_seen_fine_from_one_desktop_is_not_country_wide(b: Any) -> None:
    # the fixed lines have one probe each, too few to be "active", but they measured the
    # platform as fine meanwhile: the evidence says mobile, not the whole country
    s = b.day + 10
    block = {"blocked": {"telegram": (s, s + 60, "http")}}
    leaves = [
        b.Leaf(
            asn=asn,
            network=net,
            probes=1 if net == "fixed" else 3,
            **(block if net == "mobile" else {}),
        )
        for asn in (64500, 64501)
        for net in NETS
    ]
    (det,) = run(b, leaves, b.day + 100)
    assert (det.scope.asn, det.scope.network) == (None, "mobile")
