"""Histories replaying published timelines of real events, on a differently built population.

A second family, built apart from ``volunteers.py``'s event scenarios and probe habits, so a
rule that only fits that generator shows here (issue 13: the detector was tuned to one
generator). What differs:

- **Probes** are alternating renewal processes: sessions and gaps drawn from log-normal laws
  (no fixed bedtime: shift workers, laptops carried about), phones' dropouts a Poisson process
  with exponential lengths (mean 20 minutes, heavy short end) rather than 1-2 a day of 10-60
  minutes; group sizes geometric (1-8) rather than drawn from a fixed list.
- **Scheduled power cuts** (load shedding, as in Pakistan and Iran in summer): every probe of a
  fixed-line group in one region off for 2 hours at the same hour each day, nothing recorded.
  A whole group going dark together daily, with no offline verdict ever: not a shutdown.
- **Events at the hours the reports give** (UTC), not drawn at random:
  - ``KZ``, Kazakhstan 4-7 Jan 2022 (Cloudflare Radar and Digital Paradigm, "Qazaqstan
    Shutdown 2022"; gixtools.net 2022-01-05): messengers (WhatsApp, Telegram, Signal)
    restricted from 4 Jan; mobile operators cut around 16:00 UTC on 4 Jan, one after another;
    the whole country cut from 10:30 UTC on 5 Jan; a few hours of fixed-line access on the
    night of 6 Jan, then cut again; fixed lines back first, mobile a day later.
  - ``MM``, Myanmar Feb 2021 (OONI, "Myanmar: Data on internet blocks and internet outages
    following military coup"; NetBlocks via dig.watch, 26 Feb 2021): Facebook, Twitter and
    Instagram blocked from 5 Feb; every night 01:00-09:00 local (18:30-02:30 UTC) the internet
    cut on every network but the military's own operator (Mytel), night after night.
  - ``IR``, Iran Sep 2022 (NetBlocks via Reuters and The Record, 21-22 Sep 2022): mobile
    networks of MCI and Rightel cut in a curfew every afternoon and evening, Irancell's only
    partly; Instagram blocked from 21 Sep evening and WhatsApp hours later (on every network).
  - ``IR``, Iran Nov 2019 (Kentik, OONI): for a day and a half international traffic cut while
    the national network (domestic sites, the domestic control) stays reachable.
  - global: Facebook, Instagram and WhatsApp down worldwide on 4 Oct 2021, 15:39 to about
    21:40 UTC (Facebook's post-mortem; Cloudflare: BGP withdrawal of their DNS prefixes).
  Each is placed on the history's days at its real UTC time of day; ``TR`` and ``PK`` only see
  the global outage and their own noise.
"""

from __future__ import annotations

import numpy as np

from collector.records import EventKind
from synth.history import DAY, EPOCH, STEP_S, WARMUP, Truth
from synth.scenarios import OUTAGE, Probe, Scenarios
from synth.volunteers import (
    INTL_CONTROLS,
    PLATFORMS,
    Realism,
    VolunteerHistory,
    _measure,
    domestic_control,
)

HOUR = 3600 // STEP_S
# cc: (UTC offset in hours, ASNs as (number, role)); roles name who the timelines act on
POPULATION: dict[str, tuple[float, tuple[tuple[int, str], ...]]] = {
    "KZ": (6, ((9198, "incumbent"), (48503, "tele2"), (206026, "kcell"))),
    "MM": (6.5, ((9988, "mpt"), (133385, "telenor"), (136255, "mytel"))),
    "IR": (3.5, ((197207, "mci"), (57218, "rightel"), (44244, "irancell"), (58224, "tci"))),
    "TR": (3, ((9121, "ttnet"), (15897, "vodafone"))),
    "PK": (5, ((17557, "ptcl"), (45595, "zong"))),
}
DAYS = 7  # the timelines need a week after the warm-up day
JAM = 2  # block code: TLS (SNI) filtering, the messengers' block in KZ and IR's Instagram


def generate(*, seed: int, days: float = DAYS) -> VolunteerHistory:
    """A warm-up day, then ``days`` (at least 7) with the timelines above at their hours."""
    if days < DAYS:
        raise ValueError(f"timelines need days >= {DAYS} (got {days})")
    rng = np.random.default_rng(seed)
    n = int(days * DAY) + WARMUP
    probes = _population(rng, n)
    targets = [(p, "platform") for p in PLATFORMS] + [(c, "control") for c in INTL_CONTROLS]
    targets += [(domestic_control(cc), "control") for cc in POPULATION]
    world = Scenarios(rng, n, probes, PLATFORMS)
    jitter = int(rng.integers(0, 2 * HOUR))  # the day's timelines shift a little per seed
    _kazakhstan(world, WARMUP + jitter)
    _myanmar(world, WARMUP + DAY + jitter)
    _iran_2022(world, WARMUP + 3 * DAY + jitter)
    _iran_2019(world, WARMUP + 5 * DAY + jitter)
    _facebook(world, WARMUP + 2 * DAY)
    world.collector_outage(WARMUP + 4 * DAY + int(rng.integers(0, DAY - 12)), 6)
    history = VolunteerHistory(EPOCH, n, targets, truths=world.truths)
    history.leaf_of_probe = [p.leaf for p in probes]
    _measure(history, world, rng, Realism())
    return history


def _at(day_start: int, hour_utc: float) -> int:
    return day_start + int(hour_utc * HOUR)


def _asns(world: Scenarios, cc: str, *roles: str) -> list[int]:
    wanted = {asn for asn, role in POPULATION[cc][1] if role in roles}
    return [i for i, p in enumerate(world.probes) if p.leaf[0] == cc and p.leaf[1] in wanted]


def _of(world: Scenarios, cc: str, network: str | None = None) -> list[int]:
    return [
        i for i, p in enumerate(world.probes) if p.leaf[0] == cc and network in (None, p.leaf[2])
    ]


def _kazakhstan(w: Scenarios, d: int) -> None:
    mobile = _of(w, "KZ", "mobile")
    everyone = _of(w, "KZ")
    fixed = _of(w, "KZ", "fixed")
    block_a, block_b = _at(d, 3), _at(d, 24 * 3 + 12)  # messengers: 4 Jan to after the cut
    for target in ("whatsapp", "telegram", "signal"):
        w._set_block(everyone, target, block_a, block_b, JAM)
        w._truth(
            Truth(EventKind.BLOCKING, "KZ", None, None, target, "tls", block_a, block_b), everyone
        )
    cut_mobile = _at(d, 16)
    for k, role in enumerate(("tele2", "kcell", "incumbent")):  # operators one after another
        members = [i for i in _asns(w, "KZ", role) if w.probes[i].leaf[2] == "mobile"]
        w.cut[members, cut_mobile + 4 * k : _at(d, 24 * 3 + 6)] = True  # mobile back last
    national = _at(d, 24 + 10.5)
    w.cut[fixed, national : _at(d, 24 * 2 + 18)] = True
    w.cut[fixed, _at(d, 24 * 2 + 21) : _at(d, 24 * 3)] = True  # again after a 3-hour window
    back = _at(d, 24 * 3)
    for i in fixed:  # fixed lines restored over a few hours
        w.cut[i, back : back + int(w.rng.integers(0, 3 * HOUR))] = True
    w._truth(
        Truth(EventKind.SHUTDOWN, "KZ", None, "mobile", None, None, cut_mobile, national), mobile
    )
    w._truth(
        Truth(EventKind.SHUTDOWN, "KZ", None, None, None, None, national, _at(d, 24 * 2 + 18)),
        everyone,
    )
    w._truth(
        Truth(
            EventKind.SHUTDOWN,
            "KZ",
            None,
            None,
            None,
            None,
            _at(d, 24 * 2 + 21),
            _at(d, 24 * 3 + 6),
        ),
        everyone,
    )


def _myanmar(w: Scenarios, d: int) -> None:
    everyone = _of(w, "MM")
    cut = [i for i in everyone if i not in set(_asns(w, "MM", "mytel"))]
    a, b = _at(d, 2), _at(d, 24 * 5)
    for target in ("facebook", "twitter", "instagram"):
        w._set_block(everyone, target, a, b, int(w.rng.choice([0, 3])))
    for target in ("facebook", "twitter", "instagram"):
        method = "dns" if int(w.block[(everyone[0], target)][a]) == 0 else "http"
        w._truth(Truth(EventKind.BLOCKING, "MM", None, None, target, method, a, b), everyone)
    for night in range(1, 4):  # 01:00-09:00 local = 18:30-02:30 UTC, three nights running
        s, e = _at(d, 24 * night - 5.5), _at(d, 24 * night + 2.5)
        w.cut[cut, s:e] = True
        w._truth(Truth(EventKind.SHUTDOWN, "MM", None, None, None, None, s, e), cut)


def _iran_2022(w: Scenarios, d: int) -> None:
    full = [i for i in _asns(w, "IR", "mci", "rightel") if w.probes[i].leaf[2] == "mobile"]
    part = [i for i in _asns(w, "IR", "irancell") if w.probes[i].leaf[2] == "mobile"]
    part = part[: max(1, len(part) // 2)]
    for day in range(2):  # curfew: 16:00-24:00 local = 12:30-20:30 UTC
        s, e = _at(d, 24 * day + 12.5), _at(d, 24 * day + 20.5)
        w.cut[full + part, s:e] = True
        w._truth(Truth(EventKind.SHUTDOWN, "IR", None, "mobile", None, None, s, e), full + part)
    everyone = _of(w, "IR")
    for target, hour in (("instagram", 17.0), ("whatsapp", 21.0)):
        a, b = _at(d, hour), _at(d, 24 * 2 + 6)
        w._set_block(everyone, target, a, b, JAM)
        w._truth(Truth(EventKind.BLOCKING, "IR", None, None, target, "tls", a, b), everyone)


def _iran_2019(w: Scenarios, d: int) -> None:
    everyone = _of(w, "IR")
    s, e = _at(d, 12), _at(d, 24 + 23)
    w.intl_cut[everyone, s:e] = True
    w._truth(Truth(EventKind.SHUTDOWN, "IR", None, None, None, None, s, e), everyone)


def _facebook(w: Scenarios, d: int) -> None:
    everyone = list(range(len(w.probes)))
    s, e = _at(d, 15 + 39 / 60), _at(d, 21 + 40 / 60)
    for target in ("facebook", "instagram", "whatsapp"):
        w._set_block(everyone, target, s, e, OUTAGE)
        w._truth(Truth(EventKind.PLATFORM_OUTAGE, "*", None, None, target, None, s, e), everyone)


def _population(rng: np.random.Generator, n: int) -> list[Probe]:
    probes: list[Probe] = []
    shed = {cc: int(rng.integers(0, DAY)) for cc in ("PK", "IR")}  # load-shedding hour (UTC)
    for cc, (_offset, asns) in POPULATION.items():
        for asn, _role in asns:
            for net in ("fixed", "mobile"):
                size = min(8, int(rng.geometric(0.4)))
                shedding = net == "fixed" and cc in shed and rng.random() < 0.5
                for _ in range(size):
                    probe = _probe(rng, n, (cc, asn, net))
                    if shedding:  # the region's scheduled power cut: nothing recorded
                        for day in range(n // DAY + 1):
                            a = day * DAY + shed[cc]
                            probe.on[a : a + 2 * HOUR] = False
                    probes.append(probe)
    return probes


def _probe(rng: np.random.Generator, n: int, leaf: tuple[str, int, str]) -> Probe:
    on = np.zeros(n, bool)
    t = 0 if rng.random() < 0.8 else int(rng.integers(0, n // 2))  # some join later
    mobile = leaf[2] == "mobile"
    while t < n:  # sessions and gaps: log-normal (median 14 h on, 3 h off; phones 30 h / 1 h)
        session = int(rng.lognormal(np.log((30 if mobile else 14) * HOUR), 0.6))
        on[t : t + max(1, session)] = True
        t += max(1, session) + int(rng.lognormal(np.log((1 if mobile else 3) * HOUR), 0.8))
    if rng.random() < 0.1:
        on[int(rng.integers(n // 2, n)) :] = False  # leaves for good
    link = np.ones(n, bool)
    if mobile:  # signal lost: a Poisson process, exponential lengths (mean 4 rounds)
        for a in np.flatnonzero(rng.random(n) < 1.2 / DAY):
            link[a : a + 1 + int(rng.exponential(3))] = False
    else:
        for a in np.flatnonzero(rng.random(n) < 0.1 / DAY):  # a home link down for hours
            link[a : a + int(rng.integers(6, 48))] = False
    trouble = np.zeros(n, np.int8)
    for a in np.flatnonzero(rng.random(n) < 0.3 / DAY):
        trouble[a : a + int(rng.integers(1, 4))] = int(rng.integers(1, 4))
    return Probe(leaf, on, link, trouble)


__all__ = ["generate"]
