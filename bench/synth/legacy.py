"""The first generator (formerly ``collector/anomaly/synth.py``), kept as a regression set.

Probes that join and leave (churn), laptops asleep at night, background failure rates per target,
and labelled shutdowns, blocking, throttling and platform outages in disjoint slots. It is kind:
groups of 3-9 always-cooperative probes, no local trouble, no collector outage. The realistic
generator is ``volunteers.py``; this one stays so the detector does not regress on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np
import numpy.typing as npt

from collector.anomaly.classify import EVERYWHERE
from collector.records import EventKind, HeartbeatBucket, VerdictBucket
from synth.history import DAY, EPOCH, STEP_S, WARMUP, History, Truth

METHODS = {"dns": "dns.nxdomain", "tcp": "tcp.reset", "tls": "tls.reset", "http": "http.blockpage"}


@dataclass(frozen=True, slots=True)
class World:
    countries: tuple[str, ...] = ("KZ", "UZ", "KG")
    asns_per_country: int = 2
    networks: tuple[str, ...] = ("fixed", "mobile")
    probes: tuple[int, int] = (3, 9)  # probes per leaf, drawn uniformly
    platforms: tuple[str, ...] = ("youtube", "telegram", "whatsapp", "facebook")
    controls: tuple[str, ...] = ("control-a", "control-b")
    background: tuple[float, float] = (0.003, 0.03)  # blocked-looking failures per verdict
    inconclusive: float = 0.01
    miss: float = 0.03  # a probe missing one bucket
    sleepy: float = 0.3  # share of probes off at night
    churn_per_day: float = 0.05  # share of probes joining or leaving each day


def generate(world: World, *, days: float, events: int, seed: int) -> History:
    """A day of warm-up, then ``days`` with ``events`` labelled events spread over them."""
    rng = np.random.default_rng(seed)
    n_times = int(days * DAY) + WARMUP
    leaves = [
        (cc, 64500 + 10 * ci + ai, net)
        for ci, cc in enumerate(world.countries)
        for ai in range(world.asns_per_country)
        for net in world.networks
    ]
    truths = _schedule(world, leaves, rng, n_times, events)
    history = History(EPOCH, n_times, truths=truths)
    rates = {t: rng.uniform(*world.background) for t in world.platforms}
    for leaf in leaves:
        _leaf(history, world, leaf, _probes_on(world, rng, n_times, leaf), rates, rng)
    return history


def _probes_on(
    world: World, rng: np.random.Generator, n: int, leaf: tuple[str, int, str]
) -> npt.NDArray[np.bool_]:
    count = int(rng.integers(world.probes[0], world.probes[1] + 1))
    t = np.arange(n)
    on = rng.random((count, n)) > world.miss
    for p in range(count):
        if rng.random() < world.churn_per_day * n / DAY:
            cut = int(rng.integers(0, n))
            if rng.random() < 0.5:
                on[p, :cut] = False  # joins at cut
            else:
                on[p, cut:] = False  # leaves at cut
        if rng.random() < world.sleepy:
            sleep = int(rng.integers(0, DAY))
            night = ((t - sleep) % DAY) < DAY // 4
            on[p, night] = False
    return on


def _schedule(
    world: World, leaves: list[tuple[str, int, str]], rng: np.random.Generator, n: int, count: int
) -> list[Truth]:
    """Events in disjoint slots (a slot per event plus quiet time), kinds drawn in turn."""
    truths: list[Truth] = []
    if count == 0:
        return truths
    warmup = WARMUP + DAY // 4  # a quiet first day: baselines learn the daily pattern
    slot = (n - warmup) // count
    kinds = [
        EventKind.SHUTDOWN,
        EventKind.BLOCKING,
        EventKind.THROTTLING,
        EventKind.PLATFORM_OUTAGE,
    ]
    for i in range(count):
        kind = kinds[i % len(kinds)]
        length = int(rng.integers(6, max(7, min(slot // 2, 72))))
        start = warmup + i * slot + int(rng.integers(12, max(13, slot - length - 12)))
        cc, asn, net = leaves[int(rng.integers(len(leaves)))]
        width = int(rng.integers(3))  # 0: one network, 1: the ASN, 2: the country
        scope_asn = asn if width < 2 else None
        scope_net = net if width == 0 else None
        target = None if kind == EventKind.SHUTDOWN else str(rng.choice(world.platforms))
        method = None
        if kind == EventKind.BLOCKING:
            method = str(rng.choice(list(METHODS)))
        elif kind == EventKind.THROTTLING:
            method = "throttled"
        elif kind == EventKind.PLATFORM_OUTAGE:
            cc, scope_asn, scope_net = EVERYWHERE, None, None
        truths.append(Truth(kind, cc, scope_asn, scope_net, target, method, start, start + length))
    return truths


def _covers(truth: Truth, leaf: tuple[str, int, str]) -> bool:
    cc, asn, net = leaf
    return (
        (truth.cc in (EVERYWHERE, cc)) and truth.asn in (None, asn) and truth.network in (None, net)
    )


def _leaf(
    history: History,
    world: World,
    leaf: tuple[str, int, str],
    on: npt.NDArray[np.bool_],
    rates: dict[str, float],
    rng: np.random.Generator,
) -> None:
    cc, asn, net = leaf
    n_on = on.sum(axis=0)
    mine = [t for t in history.truths if _covers(t, leaf)]
    arrival = np.arange(history.n_times)
    offline = np.zeros(history.n_times, dtype=bool)
    for truth in mine:
        if truth.kind == EventKind.SHUTDOWN:
            offline[truth.start : truth.end] = True
            arrival[truth.start : truth.end] = truth.end + 1
    for t in np.flatnonzero(n_on > 0):
        start = history.since + timedelta(seconds=int(t) * STEP_S)
        probes = int(n_on[t])
        history.heartbeats.append(
            (int(arrival[t]), HeartbeatBucket(cc, asn, net, start, probes, probes))
        )
        for target in world.controls:
            vb = VerdictBucket(cc, asn, net, target, "control", start, probes=probes)
            vb = _with_offline(vb, probes) if offline[t] else _replace_counts(vb, accessible=probes)
            history.verdicts.append((int(arrival[t]), vb))
        for target in world.platforms:
            base = VerdictBucket(cc, asn, net, target, "platform", start, probes=probes)
            if offline[t]:
                history.verdicts.append((int(arrival[t]), _with_offline(base, probes)))
                continue
            history.verdicts.append(
                (int(arrival[t]), _draw(base, probes, t, target, mine, rates, world, rng))
            )


def _draw(
    base: VerdictBucket,
    probes: int,
    t: int,
    target: str,
    mine: list[Truth],
    rates: dict[str, float],
    world: World,
    rng: np.random.Generator,
) -> VerdictBucket:
    active = next((x for x in mine if x.target == target and x.start <= t < x.end), None)
    methods: dict[str, int] = {}
    reasons: dict[str, int] = {}
    inconclusive = int(rng.binomial(probes, world.inconclusive))
    blocked = int(rng.binomial(probes - inconclusive, rates[target]))
    if blocked:
        method = str(rng.choice(list(METHODS)))
        methods[method], reasons[METHODS[method]] = blocked, blocked
    if active is not None:
        failing = int(rng.binomial(probes, 0.95))
        if active.kind == EventKind.PLATFORM_OUTAGE and active.start % 2 == 0:
            inconclusive, blocked, methods, reasons = failing, 0, {}, {}
        else:
            method = active.method or "tcp"
            reason = (
                "throttled.bandwidth"
                if method == "throttled"
                else METHODS.get(method, "tcp.timeout")
            )
            if active.kind == EventKind.PLATFORM_OUTAGE:
                reason = "tcp.timeout"
            inconclusive, blocked = 0, failing
            methods, reasons = ({method: failing}, {reason: failing}) if failing else ({}, {})
    return _replace_counts(
        base,
        accessible=probes - blocked - inconclusive,
        blocked=blocked,
        inconclusive=inconclusive,
        methods=methods,
        reasons=reasons,
    )


def _with_offline(vb: VerdictBucket, probes: int) -> VerdictBucket:
    return _replace_counts(vb, offline=probes)


def _replace_counts(vb: VerdictBucket, **counts: object) -> VerdictBucket:
    return replace(vb, **counts)  # type: ignore[arg-type]
