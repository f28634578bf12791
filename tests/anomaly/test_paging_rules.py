"""What a silence must show before the watcher pages it: probes going dark together, and a
whole group dark (or saying offline), not a neighbour's desktop switched off for the night."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from collector.anomaly.chance import chance_rounds, dropouts
from collector.anomaly.classify import Detection, detect
from collector.anomaly.series import build_grid
from collector.anomaly.thresholds import Thresholds
from collector.records import EventKind, HeartbeatBucket, VerdictBucket

TH = Thresholds()
Count = Callable[[int], tuple[int, int]]  # bucket -> (probes up, probes saying offline)


def realtime(b: Any, probes: int, n: int, count: Count, network: str = "fixed") -> list[Detection]:
    """One group of ``probes`` (fixed line unless ``network``) whose bucket t has count(t)
    probes up and reporting, judged as the watcher does (no hindsight: nothing after the
    buckets seen)."""
    verdicts: list[VerdictBucket] = []
    heartbeats: list[HeartbeatBucket] = []
    for t in range(n):
        up, offline = count(t)
        if up + offline == 0:
            continue  # silent: nothing arrives
        key = ("KZ", 64500, network)
        heartbeats.append(HeartbeatBucket(*key, b.at(t), up + offline, up + offline))
        for target, category in (("telegram", "platform"), ("control", "control")):
            verdicts.append(
                VerdictBucket(
                    *key,
                    target,
                    category,
                    b.at(t),
                    accessible=up,
                    offline=offline,
                    probes=up + offline,
                )
            )
    grid = build_grid(verdicts, heartbeats, since=b.at(0), until=b.at(n), step_s=b.step)
    return [
        d for d in detect(grid, TH, judge_from=0, hindsight=False) if d.kind == EventKind.SHUTDOWN
    ]


def test_desktops_switched_off_one_by_one_are_not_paged(b: Any) -> None:
    # three desktops of one home network going off at 22:00, 22:30 and 23:00, back at 7:00
    def count(t: int) -> tuple[int, int]:
        return (3 - sum(t >= s for s in (40, 46, 52)) if t < 150 else 3), 0

    assert realtime(b, 3, 170, count) == []


def test_the_same_three_going_dark_in_one_round_are_paged_within_two_rounds(b: Any) -> None:
    def count(t: int) -> tuple[int, int]:
        return (0 if 40 <= t < 150 else 3), 0

    (det,) = realtime(b, 3, 170, count)
    assert det.start == b.at(40) and det.opened <= b.at(42)


def test_two_of_four_silent_while_two_stay_up_is_not_paged(b: Any) -> None:
    def count(t: int) -> tuple[int, int]:
        return (2 if 40 <= t < 150 else 4), 0

    assert realtime(b, 4, 170, count) == []


@pytest.mark.parametrize(("network", "paged"), [("mobile", True), ("fixed", False)])
def test_three_of_five_going_dark_in_one_round_while_two_stay_up(
    b: Any, network: str, paged: bool
) -> None:
    """Phones stay on at night and doze each on its own: three going dark in one round are
    judged by their chance (paged in real time; on this first evening against the habits
    phones are assumed to have, so a few rounds in); desktops of a pool switch off at about
    the same bedtime, so the same partial silence of desktops waits for evidence."""

    def count(t: int) -> tuple[int, int]:
        return (2 if 40 <= t < 150 else 5), 0

    found = realtime(b, 5, 170, count, network)
    assert bool(found) is paged
    if paged:
        assert found[0].start == b.at(40) and found[0].opened <= b.at(46)


def test_two_of_four_phones_silent_while_two_stay_up_is_not_paged(b: Any) -> None:
    def count(t: int) -> tuple[int, int]:
        return (2 if 40 <= t < 150 else 4), 0

    assert realtime(b, 4, 170, count, "mobile") == []


def test_two_of_four_saying_offline_while_two_stay_up_is_paged(b: Any) -> None:
    # the same partial loss, but the two report offline verdicts: observed, not presumed
    def count(t: int) -> tuple[int, int]:
        return (2, 2) if 40 <= t < 150 else (4, 0)

    (det,) = realtime(b, 4, 170, count)
    assert det.start == b.at(40)


def test_dark_together_ignores_a_probe_that_left_before_the_onset(b: Any) -> None:
    # one probe leaves for good at bucket 20; the other two are cut together a day later
    # (on the first evening, two desktops going silent are judged against a night's habits)
    cut = b.day + 40

    def count(t: int) -> tuple[int, int]:
        return (0 if cut <= t < cut + 110 else (3 if t < 20 else 2)), 0

    (det,) = realtime(b, 3, cut + 130, count)
    assert det.start == b.at(cut)


def test_two_desktops_silent_together_on_the_first_evening_are_not_paged_at_once(b: Any) -> None:
    # no history anywhere: two desktops off within a round of each other at bedtime are as
    # likely a coincidence as a cut; paged only once the silence has outlasted a night
    def count(t: int) -> tuple[int, int]:
        return (0 if 40 <= t < 150 else 2), 0

    assert realtime(b, 2, 170, count) == []


def pooled_realtime(b: Any, cut: int) -> list[Detection]:
    """Four one-probe phones of four mobile ASNs; the first ``cut`` go silent in round 40."""
    leaves = [
        b.Leaf(asn=64500 + i, probes=1, shutdown=(40, 150) if i < cut else None) for i in range(4)
    ]
    verdicts, heartbeats = b.history(leaves, 170, backfilled=False)
    grid = build_grid(verdicts, heartbeats, since=b.at(0), until=b.at(170), step_s=b.step)
    return detect(grid, TH, judge_from=0, hindsight=False)


def test_a_pool_half_silent_with_nobody_offline_is_not_paged(b: Any) -> None:
    assert pooled_realtime(b, 2) == []


def test_a_pool_gone_dark_in_one_round_is_paged_within_two_rounds(b: Any) -> None:
    (det,) = pooled_realtime(b, 4)
    assert (det.kind, det.scope.asn, det.scope.network) == (EventKind.SHUTDOWN, None, "mobile")
    assert det.start == b.at(40) and det.opened <= b.at(42)


def phones(b: Any, both: tuple[int, int], *, hindsight: bool) -> list[Detection]:
    """Two phones of one mobile group that lose signal (saying offline once back) twice a day
    for 30-40 minutes each, on their own; then both from round ``both``, together."""
    own = {0: [(30, 38), (200, 206)], 1: [(100, 108), (250, 256)]}

    def offline(probe: int, t: int) -> bool:
        spans = [*own[probe], both]
        return any(a <= t < z for a, z in spans)

    verdicts: list[VerdictBucket] = []
    heartbeats: list[HeartbeatBucket] = []
    key = ("KZ", 64500, "mobile")
    for t in range(420):
        down = sum(offline(p, t) for p in (0, 1))
        heartbeats.append(HeartbeatBucket(*key, b.at(t), 2, 2))
        for target, category in (("telegram", "platform"), ("control", "control")):
            verdicts.append(
                VerdictBucket(
                    *key, target, category, b.at(t), accessible=2 - down, offline=down, probes=2
                )
            )
    grid = build_grid(verdicts, heartbeats, since=b.at(0), until=b.at(420), step_s=b.step)
    return [
        d
        for d in detect(grid, TH, judge_from=0, hindsight=hindsight)
        if d.kind == EventKind.SHUTDOWN
    ]


def test_two_phones_losing_signal_in_the_same_round_are_no_cut(b: Any) -> None:
    # both offline for 20 minutes from the same round: shorter than their own daily losses
    assert phones(b, (330, 334), hindsight=True) == []
    assert phones(b, (330, 334), hindsight=False) == []


def test_two_phones_offline_longer_than_they_ever_are_is_a_cut(b: Any) -> None:
    # the same group cut for 2.5 hours: paged once it outlasts their longest loss (8 rounds)
    # by enough that a longer loss of their own is no likely chance (the fading tail)
    for hindsight in (True, False):
        (det,) = phones(b, (330, 360), hindsight=hindsight)
        assert det.start == b.at(330) and b.at(338) < det.opened < b.at(360)


def test_dropouts_are_read_from_counts() -> None:
    # one probe out at 1 for 3 rounds; a second out at 2 for 1 round; one more at 6 for 1
    assert sorted(dropouts(np.array([0, 1, 2, 1, 0, 0, 1, 0]))) == [(1, 3), (2, 1), (6, 1)]


@pytest.mark.parametrize(
    ("past", "expected"),
    [
        ([0] * 288, 0),  # probes that never dropped out: no coincidence to fear, page at once
        ([0] * 100 + [1] * 6 + [0] * 182, 7),  # one 6-round dropout a day: outlast it
        ([0, 1] * 144, 7),  # a miss every other round: two rounds together are no longer rare
    ],
)
def test_chance_rounds_of_two_probes(past: list[int], expected: int) -> None:
    signal = np.array([*past, 2, 2, 2], dtype=float)
    assert chance_rounds(signal, len(past), 2, 2, day=288) == expected


def test_a_dropout_longer_than_any_seen_is_not_impossible() -> None:
    # one desktop off for 5 hours last night: both off together tonight are paged only once
    # the silence is well past what one night of history says (the tail fades, not stops)
    past = [0] * 288
    past[10:70] = [1] * 60
    rounds = chance_rounds(np.array([*past, 2, 2], dtype=float), 288, 2, 2, day=288)
    assert rounds > 2 * 60


def test_bedtime_yesterday_holds_tonight_but_not_at_noon() -> None:
    # three desktops that went dark around 23:00 yesterday (buckets 0-20 of this reading)
    day = 288
    past = np.zeros(2 * day)
    for first in (day - 10, day - 4, day + 6):
        past[first : first + 96] += 1
    signal = np.concatenate([past, [2, 2]])
    bedtime = chance_rounds(signal, 2 * day, 3, 2, day=day)
    # the same history, judged at an hour when they never drop out (12 hours later)
    noon_signal = np.concatenate([past[: 2 * day], np.zeros(144), [2, 2]])
    noon = chance_rounds(noon_signal, 2 * day + 144, 3, 2, day=day)
    assert bedtime > noon


def test_a_run_older_than_the_window_is_judged_at_the_busiest_hour() -> None:
    # three desktops went dark together at bedtime (bucket 150 of the reading); a run began
    # 10 buckets into the reading, so "this time yesterday" is not in it
    day = 288
    past = np.zeros(day + 10)
    for first in (150, 153, 157):
        past[first : first + 60] += 1
    signal = np.concatenate([past, [2, 2]])
    start = day + 10
    # judged as a fresh history: what there is of the window around yesterday's hour is quiet
    fresh = chance_rounds(signal, start, 3, 2, day=day)
    # the run began before the evaluated range: a cycle that saw it begin read that hour, so
    # this one judges it as if at the busiest hour it read, never on less evidence
    older = chance_rounds(signal, start, 3, 2, day=day, judged_from=start + 12)
    assert older > fresh
