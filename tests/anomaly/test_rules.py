"""Issue 13's rules, one table row each: the faults seen on messy volunteer networks."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from collector.anomaly.classify import EVERYWHERE, Detection, detect
from collector.anomaly.series import build_grid
from collector.anomaly.thresholds import Thresholds
from collector.records import EventKind, HeartbeatBucket, Scope, VerdictBucket

TH = Thresholds()


def grid_detect(
    b: Any, verdicts: list[VerdictBucket], heartbeats: list[HeartbeatBucket], n: int, judge: int
) -> list[Detection]:
    until = b.t0 + timedelta(seconds=n * b.step)
    grid = build_grid(verdicts, heartbeats, since=b.t0, until=until, step_s=b.step)
    return detect(grid, TH, judge_from=judge)


def test_total_cut_of_a_two_probe_network_is_paged_on_day_one_within_two_rounds(b: Any) -> None:
    leaf = b.Leaf(probes=2, shutdown=(40, 50))
    verdicts, heartbeats = b.history([leaf], 60, backfilled=False)  # real time: silence
    ongoing = [x for x in verdicts if x.start < b.at(43)]
    beats = [x for x in heartbeats if x.start < b.at(43)]
    (det,) = grid_detect(b, ongoing, beats, 43, 0)
    assert det.kind == EventKind.SHUTDOWN and det.start == b.at(40)
    assert det.opened <= b.at(42)  # first page within 2 rounds of onset


def test_ten_minute_cut_of_a_two_probe_network_is_found_once_backfilled(b: Any) -> None:
    leaf = b.Leaf(probes=2, shutdown=(40, 42))
    (det,) = grid_detect(b, *b.history([leaf], 60), 60, 0)
    assert (det.kind, det.start, det.end) == (EventKind.SHUTDOWN, b.at(40), b.at(42))


def test_one_probe_groups_are_pooled_per_network_type(b: Any) -> None:
    s = b.day + 30
    leaves = [b.Leaf(asn=asn, probes=1, shutdown=(s, s + 20)) for asn in (64500, 64501, 64502)]
    leaves.append(b.Leaf(asn=64500, network="fixed", probes=3))
    (det,) = grid_detect(b, *b.history(leaves, b.day + 80), b.day + 80, b.day)
    assert (det.kind, det.scope.cc, det.scope.asn, det.scope.network) == (
        EventKind.SHUTDOWN,
        "KZ",
        None,
        "mobile",
    )


def test_a_block_seen_by_one_probe_in_each_of_several_groups_is_found(b: Any) -> None:
    # the country blocks telegram by DNS; its vantage groups have one probe each
    s = b.day + 30
    blocked = {"telegram": (s, s + 20, "dns")}
    leaves = [b.Leaf(asn=asn, probes=1, blocked=blocked) for asn in (64500, 64501, 64502)]
    (det,) = grid_detect(b, *b.history(leaves, b.day + 80), b.day + 80, b.day)
    assert (det.kind, det.scope.cc, det.target, det.method) == (
        EventKind.BLOCKING,
        "KZ",
        "telegram",
        "dns",
    )
    assert det.start == b.at(s)
    alone = [b.Leaf(asn=64500, probes=1, blocked=blocked), b.Leaf(asn=64501, probes=1)]
    assert grid_detect(b, *b.history(alone, b.day + 80), b.day + 80, b.day) == []  # one probe


def test_one_bad_probe_is_not_a_platform_outage_nor_a_block(b: Any) -> None:
    # a broken resolver on one probe of a group: everything it measures is inconclusive,
    # its controls too; the other probe is fine
    s = b.day + 10
    good = b.Leaf(probes=1)
    broken = b.Leaf(probes=1, inconclusive={"telegram": (s, s + 3)}, controls_fail=(s, s + 3))
    v1, h1 = good.buckets(b.day + 40)
    v2, h2 = broken.buckets(b.day + 40)
    assert grid_detect(b, v1 + v2, h1 + h2, b.day + 40, b.day) == []


def test_platform_outage_needs_several_countries(b: Any) -> None:
    s = b.day + 10
    one = [b.Leaf(cc="KZ", asn=a, blocked={"telegram": (s, s + 30, "tcp")}) for a in (1, 2)]
    found = grid_detect(b, *b.history(one, b.day + 60), b.day + 60, b.day)
    assert {d.kind for d in found} == {EventKind.BLOCKING}
    two = [b.Leaf(cc=cc, inconclusive={"telegram": (s, s + 30)}) for cc in ("KZ", "UZ")]
    (det,) = grid_detect(b, *b.history(two, b.day + 60), b.day + 60, b.day)
    assert (det.kind, det.scope.cc) == (EventKind.PLATFORM_OUTAGE, EVERYWHERE)


def test_a_platform_outage_that_spreads_to_more_countries_is_one_event(b: Any) -> None:
    # two countries fail first, two more join six rounds later while the first still fail:
    # one global outage, not two overlapping ones (the lifecycle would write one)
    s = b.day + 10
    first = [b.Leaf(cc=cc, inconclusive={"telegram": (s, s + 30)}) for cc in ("KZ", "UZ")]
    later = [b.Leaf(cc=cc, inconclusive={"telegram": (s + 6, s + 30)}) for cc in ("TR", "IR")]
    found = grid_detect(b, *b.history(first + later, b.day + 60), b.day + 60, b.day)
    (det,) = found
    assert (det.kind, det.scope.cc, det.start) == (EventKind.PLATFORM_OUTAGE, EVERYWHERE, b.at(s))


def test_cut_where_only_domestic_sites_work_is_a_shutdown(b: Any) -> None:
    s = b.day + 20
    leaf = b.Leaf(targets=("telegram", "youtube", "whatsapp"))
    verdicts, heartbeats = b.history([leaf], b.day + 80)
    out = []
    for measured in verdicts:
        v = measured
        cut = b.at(s) <= v.start < b.at(s + 20)
        if cut and v.category == "platform":
            v = replace(
                v,
                accessible=0,
                blocked=v.probes,
                methods={"tcp": v.probes},
                reasons={"tcp.timeout": v.probes},
            )
        if cut and v.category == "control":  # the international control fails
            v = replace(v, accessible=0, blocked=v.probes)
        out.append(v)
        if v.category == "control":  # the domestic control keeps working
            out.append(replace(v, target="kz-gov", accessible=v.probes, blocked=0))
    found = grid_detect(b, out, heartbeats, b.day + 80, b.day)
    assert [d.kind for d in found] == [EventKind.SHUTDOWN]


def test_collector_outage_is_no_shutdown_anywhere(b: Any) -> None:
    s = b.day + 30
    leaves = [b.Leaf(cc=cc, asn=a) for cc in ("KZ", "UZ", "KG") for a in (1, 2)]
    verdicts, heartbeats = b.history(leaves, b.day + 80)
    gap = (b.at(s), b.at(s + 6))
    verdicts = [v for v in verdicts if not gap[0] <= v.start < gap[1]]
    heartbeats = [h for h in heartbeats if not gap[0] <= h.start < gap[1]]
    assert grid_detect(b, verdicts, heartbeats, b.day + 80, b.day) == []


def test_leaf_without_heartbeats_gives_no_silence_signal(b: Any) -> None:
    # imported measurements (OONI) come without heartbeats, and in bursts
    s = b.day + 30
    verdicts, _ = b.history([b.Leaf()], b.day + 80)
    sparse = [v for v in verdicts if not b.at(s) <= v.start < b.at(s + 30)]
    assert grid_detect(b, sparse, [], b.day + 80, b.day) == []


def test_silence_that_brought_no_offline_record_is_sleep_not_a_cut(b: Any) -> None:
    s = b.day + 30
    verdicts, heartbeats = b.history([b.Leaf(probes=2)], b.day + 80)
    asleep = (b.at(s), b.at(s + 40))
    verdicts = [v for v in verdicts if not asleep[0] <= v.start < asleep[1]]
    heartbeats = [h for h in heartbeats if not asleep[0] <= h.start < asleep[1]]
    assert grid_detect(b, verdicts, heartbeats, b.day + 80, b.day) == []


def test_block_evidence_fades_during_silence(b: Any) -> None:
    # a block, then a long shutdown (no measurement), then another block: two events
    s = b.day + 10
    leaf = b.Leaf(blocked={"telegram": (s, s + 10, "dns")}, shutdown=(s + 10, s + 60))
    verdicts, heartbeats = b.history([leaf], b.day + 120)
    late = b.Leaf(blocked={"telegram": (s + 60, s + 70, "tls")})
    v2, _ = late.buckets(b.day + 120)
    after = [v for v in v2 if v.start >= b.at(s + 60)]
    before = [v for v in verdicts if v.start < b.at(s + 60)]
    found = grid_detect(b, before + after, heartbeats, b.day + 120, b.day)
    blocks = sorted((d.start, d.method) for d in found if d.kind == EventKind.BLOCKING)
    assert blocks == [(b.at(s), "dns"), (b.at(s + 60), "tls")]


def test_pools_of_both_network_types_make_one_country_event(b: Any) -> None:
    s = b.day + 30
    leaves = [
        b.Leaf(asn=asn, network=net, probes=1, shutdown=(s, s + 20))
        for asn in (64500, 64501, 64502)
        for net in ("fixed", "mobile")
    ]
    (det,) = grid_detect(b, *b.history(leaves, b.day + 80), b.day + 80, b.day)
    assert (det.kind, det.scope.cc, det.scope.asn, det.scope.network) == (
        EventKind.SHUTDOWN,
        "KZ",
        None,
        None,
    )


def test_a_cut_is_opened_when_a_pool_over_its_leaves_passed(b: Any) -> None:
    # the leaves' runs outlasted chance at round 18, their network type's pool at round 1: the
    # watcher paged the pool's event then, so the detection says it would have alerted then;
    # a pool of another network type over none of its leaves changes nothing
    from collector.anomaly.detect import Run
    from collector.anomaly.grouping import Item
    from collector.anomaly.shutdowns import _paged_with_pools

    leaves = [
        b.Leaf(asn=a, network=net, probes=2) for a in (64500, 64501) for net in ("mobile", "fixed")
    ]
    verdicts, heartbeats = b.history(leaves, 60)
    grid = build_grid(verdicts, heartbeats, since=b.t0, until=b.at(60), step_s=b.step)
    mobile = [x for x, leaf in enumerate(grid.leaves) if leaf[2] == "mobile"]
    fixed = [x for x, leaf in enumerate(grid.leaves) if leaf[2] == "fixed"]
    found = Detection(
        kind=EventKind.SHUTDOWN,
        scope=Scope(cc="KZ", asn=None, network="mobile", probes=4),
        target=None,
        method=None,
        start=b.at(40),
        end=b.at(55),
        opened=b.at(58),
        confidence=0.9,
        evidence={},
    )

    def pool(members: list[int], opened: int) -> tuple[list[int], Item]:
        return members, Item(members[0], Run(members[0], 40, 55, opened, 5.0), {})

    assert _paged_with_pools(grid, found, [pool(fixed, 41)]).opened == b.at(58)
    assert _paged_with_pools(grid, found, [pool(mobile, 41)]).opened == b.at(41)
    assert _paged_with_pools(grid, found, [pool(mobile, 30)]).opened == b.at(40)  # not before onset
