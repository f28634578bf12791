"""Histories of messy volunteer networks, modelled on real shutdowns, blocks and outages.

Every probe is simulated round by round, then aggregated the way the collector's store does
(``count(DISTINCT probe_id)`` per bucket), for the records that had arrived by a given time.

Volunteer realism (issue 13): groups of 1-6 probes per (cc, asn, network); probes joining and
leaving for good; desktops off most nights; phones dozing (silent) or losing signal (offline
verdicts uploaded later) for 10-60 minutes a day; home links down for hours (offline, uploaded
later); power cuts (nothing recorded); local trouble of 1-3 rounds on one probe (a broken
resolver: everything inconclusive; a lossy link: half the measurements time out; a captive
portal: a few blocked answers); a collector outage (30 minutes in which nothing uploads).

Events, each after a real one:
- ``national``: Kazakhstan, 5-10 Jan 2022 (NetBlocks, IODA, Access Now #KeepItOn): mobile cut
  first, fixed lines in steps; restoration spread over hours; a block of messengers that began
  before the cut outlives it.
- ``mobile``: Iran, Nov 2019 and Sep 2022 (IODA, OONI "Iran protests" reports): mobile networks
  cut, operators one after another.
- ``nightly``: Myanmar, Feb-Apr 2021 (OONI, Access Now): the network cut 01:00-09:00 local every
  night, three nights running.
- ``domestic``: Iran, Nov 2019 (Kentik, OONI): international traffic cut while the national
  network (domestic sites, the domestic control) stays reachable.
- ``asn_blocks``: Russia, Feb-Mar 2022 (OONI "Russia blocks Twitter and Facebook"): one platform
  blocked by each ASN at its own time, one method per censor.
- ``throttle``: Russia, Mar 2021 (Xue et al., IMC 2021, "Throttling Twitter"), on mobile only.
- ``whitelist``: mobile whitelists (Myanmar 2021, Russia 2025 reports): every platform but one
  blocked, the controls reachable.
- ``global``: Facebook, Instagram and WhatsApp down worldwide, 4 Oct 2021 (Facebook engineering
  post-mortem: BGP withdrawal made their DNS unreachable): seen from every country at once.
- ``small_cut``: a 10-30 minute total cut of one 2-probe network (the operator's hand test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from collector.records import HeartbeatBucket, VerdictBucket
from synth.history import DAY, EPOCH, STEP_S, WARMUP, Truth
from synth.scenarios import OUTAGE, Probe, Scenarios

Bools = npt.NDArray[np.bool_]
PLATFORMS = (
    "youtube",
    "telegram",
    "whatsapp",
    "facebook",
    "instagram",
    "twitter",
    "signal",
    "tiktok",
)
INTL_CONTROLS = ("example", "wikipedia")
ACCESSIBLE, BLOCKED, OFFLINE, INCONCLUSIVE = 0, 1, 2, 3
METHODS = ("dns", "tcp", "tls", "http", "throttled")
REASONS = (
    "dns.nxdomain",
    "tcp.reset",
    "tls.reset",
    "http.blockpage",
    "throttled.bandwidth",
    "tcp.timeout",
    "dns.servfail",
)
COUNTRIES = (("KZ", 5), ("IR", 3), ("MM", 6), ("RU", 3), ("UZ", 5))  # cc, UTC offset (hours)
KINDS = (
    "national",
    "mobile",
    "nightly",
    "domestic",
    "asn_blocks",
    "throttle",
    "whitelist",
    "global",
    "small_cut",
)


@dataclass(frozen=True, slots=True)
class Realism:
    """Scale factors of the volunteer realism (``bench/anomaly_eval.py --perturb``): 1 is the
    network described above, 0.5 and 2 halve and double one phenomenon. At 1 the draws are
    exactly those of the unperturbed generator, so seeds keep their histories."""

    group_size: float = 1.0  # probes per (cc, asn, network)
    night_off: float = 1.0  # share of nights a desktop is switched off (0.7, at most 1)
    phone_dropouts: float = 1.0  # phone dropouts a day (1-2)
    phone_length: float = 1.0  # their length (10-60 minutes)
    home_link: float = 1.0  # home links down for hours (8% of days)
    trouble: float = 1.0  # local trouble of 1-3 rounds (0.5 a day per probe)
    churn: float = 1.0  # probes joining or leaving for good (15% each)
    upload_delay: float = 1.0  # records uploaded a round late (30%)

    def scaled(self, rng: np.random.Generator, count: int, factor: float) -> int:
        """``count`` times ``factor``, rounded at random (unbiased); no draw at factor 1."""
        if factor == 1.0:
            return count
        value = count * factor
        return int(value) + int(rng.random() < value - int(value))


def domestic_control(cc: str) -> str:
    """The domestic control of a country: named ``<cc>-...`` (collector/anomaly/series.py)."""
    return f"{cc.lower()}-gov"


@dataclass(slots=True)
class VolunteerHistory:
    """Per-probe records (one per probe, target and round) with their arrival bucket."""

    since: datetime
    n_times: int
    targets: list[tuple[str, str]]  # (name, category)
    truths: list[Truth] = field(default_factory=list)
    leaf_of_probe: list[tuple[str, int, str]] = field(default_factory=list)
    # parallel record columns
    probe: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    t: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    target: npt.NDArray[np.int16] = field(default_factory=lambda: np.zeros(0, np.int16))
    outcome: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    method: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    reason: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    arrival: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))

    def view(
        self, *, arrived_by: int | None = None
    ) -> tuple[list[VerdictBucket], list[HeartbeatBucket]]:
        """Buckets of the records arrived by ``arrived_by`` (None: all, the backfilled view)."""
        keep = np.ones(self.t.size, bool) if arrived_by is None else self.arrival <= arrived_by
        return self._buckets(keep)

    def realtime(self) -> tuple[list[VerdictBucket], list[HeartbeatBucket]]:
        """Each bucket as the watcher cycle right after it saw it: records arrived by t + 1."""
        return self._buckets(self.arrival <= self.t + 1)

    def _buckets(self, keep: Bools) -> tuple[list[VerdictBucket], list[HeartbeatBucket]]:
        probe, t, target = self.probe[keep], self.t[keep], self.target[keep]
        outcome, method, reason = self.outcome[keep], self.method[keep], self.reason[keep]
        leaves = sorted(set(self.leaf_of_probe))
        leaf_ix = {leaf: i for i, leaf in enumerate(leaves)}
        leaf = np.array([leaf_ix[x] for x in self.leaf_of_probe], np.int64)[probe]
        n_t, n_target = self.n_times, len(self.targets)
        key = (leaf * n_target + target) * n_t + t
        groups, inverse = np.unique(key, return_inverse=True)
        counts = np.zeros((groups.size, 4), np.int64)
        np.add.at(counts, (inverse, outcome), 1)
        blocked = outcome == BLOCKED
        fine: dict[int, tuple[dict[str, int], dict[str, int]]] = {}
        fkey = (inverse[blocked] * 8 + method[blocked]) * 8 + reason[blocked]
        fgroups, fcounts = np.unique(fkey, return_counts=True)
        for k, c in zip(fgroups.tolist(), fcounts.tolist(), strict=True):
            rest, r = divmod(k, 8)
            g, m = divmod(rest, 8)
            methods, reasons = fine.setdefault(g, ({}, {}))
            methods[METHODS[m]] = methods.get(METHODS[m], 0) + c
            reasons[REASONS[r]] = reasons.get(REASONS[r], 0) + c
        step = timedelta(seconds=STEP_S)
        starts = [EPOCH + i * step for i in range(n_t)]
        lf_a, rest_a = np.divmod(groups, n_target * n_t)
        tg_a, tt_a = np.divmod(rest_a, n_t)
        empty: tuple[dict[str, int], dict[str, int]] = ({}, {})
        verdicts = [
            VerdictBucket(
                *leaves[lf],
                *self.targets[tg],
                starts[tt],
                accessible=c0,
                blocked=c1,
                offline=c2,
                inconclusive=c3,
                probes=c0 + c1 + c2 + c3,
                methods=fine.get(g, empty)[0],
                reasons=fine.get(g, empty)[1],
            )
            for g, (lf, tg, tt, (c0, c1, c2, c3)) in enumerate(
                zip(lf_a.tolist(), tg_a.tolist(), tt_a.tolist(), counts.tolist(), strict=True)
            )
        ]
        # heartbeats: one per probe and round it ran (they wait in the outbox like verdicts)
        first = target == 0
        hb_key = leaf[first] * n_t + t[first]
        hb_groups, hb_counts = np.unique(hb_key, return_counts=True)
        heartbeats = []
        for k, n in zip(hb_groups.tolist(), hb_counts.tolist(), strict=True):
            lf, tt = divmod(k, n_t)
            cc, asn, net = leaves[lf]
            heartbeats.append(HeartbeatBucket(cc, asn, net, starts[tt], n, n))
        return verdicts, heartbeats


def generate(
    *, days: float, events: int, seed: int, realism: Realism | None = None
) -> VolunteerHistory:
    """A warm-up day, then ``days`` with ``events`` scenarios (drawn in turn from KINDS)."""
    rng = np.random.default_rng(seed)
    real = realism or Realism()
    n = int(days * DAY) + WARMUP
    probes = _population(rng, n, real)
    targets = [(p, "platform") for p in PLATFORMS] + [(c, "control") for c in INTL_CONTROLS]
    targets += [(domestic_control(cc), "control") for cc, _ in COUNTRIES]
    world = Scenarios(rng, n, probes, PLATFORMS)
    kinds = list(KINDS)
    rng.shuffle(kinds)
    slot = (n - WARMUP - DAY // 4) // max(events, 1)
    for i in range(events):
        world.add(kinds[i % len(kinds)], WARMUP + DAY // 4 + i * slot, slot)
    for _ in range(max(1, int(days // 4))):  # the collector itself down for half an hour
        world.collector_outage(int(rng.integers(WARMUP, n - 12)), 6)
    history = VolunteerHistory(EPOCH, n, targets, truths=world.truths)
    history.leaf_of_probe = [p.leaf for p in probes]
    _measure(history, world, rng, real)
    return history


def _population(rng: np.random.Generator, n: int, real: Realism) -> list[Probe]:
    """Groups of 1-6 probes; desktops on fixed lines, phones on mobile; churn; daily habits."""
    probes: list[Probe] = []
    t = np.arange(n)
    for ci, (cc, offset) in enumerate(COUNTRIES):
        for ai in range(int(rng.integers(2, 4))):
            for net in ("fixed", "mobile"):
                size = int(rng.choice([1, 1, 2, 2, 2, 3, 4, 5, 6]))
                size = max(1, real.scaled(rng, size, real.group_size))
                for _ in range(size):
                    probes.append(_probe(rng, t, (cc, 64500 + 10 * ci + ai, net), offset, real))
    return probes


def _probe(
    rng: np.random.Generator,
    t: npt.NDArray[np.int64],
    leaf: tuple[str, int, str],
    offset: int,
    real: Realism,
) -> Probe:
    n = t.size
    powered = np.ones(n, bool)
    link = np.ones(n, bool)
    present = np.ones(n, bool)
    if rng.random() < 0.15 * real.churn:
        present[: int(rng.integers(WARMUP, n))] = False  # joins mid-window
    elif rng.random() < 0.15 * real.churn:
        present[int(rng.integers(WARMUP, n)) :] = False  # leaves for good
    days = n // DAY + 2
    if leaf[2] == "fixed":
        for d in range(days):  # desktops: off most nights, at their owner's bedtime
            if rng.random() < 0.7 * real.night_off:
                off = d * DAY + 23 * 12 + int(rng.normal(0, 12)) - offset * 12
                on = off + 8 * 12 + int(rng.normal(0, 12))
                powered[max(0, off) : max(0, on)] = False
            if rng.random() < 0.08 * real.home_link:  # home link down for hours: offline, later
                a = int(rng.integers(0, n))
                link[a : a + int(rng.integers(12, 72))] = False
    else:
        for d in range(days):  # phones: dozing (silent) or without signal (offline), daily
            for _ in range(real.scaled(rng, int(rng.integers(1, 3)), real.phone_dropouts)):
                a = d * DAY + int(rng.integers(0, DAY))
                span = max(1, real.scaled(rng, int(rng.integers(2, 13)), real.phone_length))
                (powered if rng.random() < 0.5 else link)[a : a + span] = False
    for _ in range(rng.poisson(0.04 * n / DAY)):  # power cuts: nothing recorded
        a = int(rng.integers(0, n))
        powered[a : a + int(rng.integers(6, 48))] = False
    trouble = np.zeros(n, np.int8)  # 1 broken resolver, 2 lossy link, 3 captive portal
    for _ in range(rng.poisson(0.5 * real.trouble * n / DAY)):
        a = int(rng.integers(0, n))
        trouble[a : a + int(rng.integers(1, 4))] = int(rng.integers(1, 4))
    return Probe(leaf, present & powered, link, trouble)


def _measure(
    history: VolunteerHistory, world: Scenarios, rng: np.random.Generator, real: Realism
) -> None:
    """Every probe's verdict for every target and round it ran, with its arrival bucket."""
    n = history.n_times
    t_all = np.arange(n)
    cols: dict[str, list[npt.NDArray[np.int64]]] = {
        k: [] for k in ("probe", "t", "target", "outcome", "method", "reason", "arrival")
    }
    background = rng.uniform(0.003, 0.02, len(history.targets))
    for pi, probe in enumerate(world.probes):
        cc = probe.leaf[0]
        on = probe.on
        cut = world.cut[pi]
        intl = world.intl_cut[pi]
        online = probe.link & ~cut
        reach = online & ~intl  # can reach the collector (abroad)
        # arrival: the next bucket at which the probe is on and can upload, then the collector
        nxt = np.where(reach & on, t_all, n * 2)
        arrival = np.minimum.accumulate(nxt[::-1])[::-1]
        arrival = np.maximum(arrival, t_all) + (rng.random(n) < 0.3 * real.upload_delay)
        arrival = world.collector_delay(arrival)
        ts = np.flatnonzero(on)
        for ti, (name, category) in enumerate(history.targets):
            domestic = name == domestic_control(cc)
            if category == "control" and name.endswith("-gov") and not domestic:
                continue  # other countries' domestic controls are not in this probe's list
            size = ts.size
            outcome = np.zeros(size, np.int64)
            method = np.zeros(size, np.int64)
            reason = np.zeros(size, np.int64)
            r = rng.random(size)
            bg = r < background[ti]
            outcome[bg] = BLOCKED
            method[bg] = rng.integers(0, 4, int(bg.sum()))
            reason[bg] = method[bg]
            outcome[(r >= background[ti]) & (r < background[ti] + 0.01)] = INCONCLUSIVE
            block = world.block.get((pi, name))
            if block is not None:
                m = block[ts]
                hit = (m >= 0) & (rng.random(size) < 0.95)
                censor = hit & (m < OUTAGE)
                outcome[censor], method[censor], reason[censor] = BLOCKED, m[censor], m[censor]
                down = hit & (m == OUTAGE)  # the platform's own outage: its DNS unreachable
                outcome[down], method[down], reason[down] = BLOCKED, 0, 6
                outcome[down & (rng.random(size) < 0.7)] = INCONCLUSIVE  # control endpoint too
            if not domestic:
                lost = intl[ts]
                outcome[lost], method[lost], reason[lost] = BLOCKED, 1, 5
            trouble = probe.trouble[ts]
            outcome[trouble == 1] = INCONCLUSIVE
            lossy = (trouble == 2) & (rng.random(size) < 0.5)
            outcome[lossy], method[lossy], reason[lossy] = BLOCKED, 1, 5
            portal = (trouble == 3) & (rng.random(size) < 0.3)
            outcome[portal], method[portal], reason[portal] = BLOCKED, 3, 3
            outcome[~online[ts]] = OFFLINE
            cols["probe"].append(np.full(size, pi))
            cols["t"].append(ts)
            cols["target"].append(np.full(size, ti))
            cols["outcome"].append(outcome)
            cols["method"].append(method)
            cols["reason"].append(reason)
            cols["arrival"].append(arrival[ts])
    join = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in cols.items()}
    history.probe = join["probe"].astype(np.int32)
    history.t = join["t"].astype(np.int32)
    history.target = join["target"].astype(np.int16)
    history.outcome = join["outcome"].astype(np.int8)
    history.method = join["method"].astype(np.int8)
    history.reason = join["reason"].astype(np.int8)
    history.arrival = join["arrival"].astype(np.int32)


__all__ = ["KINDS", "Realism", "VolunteerHistory", "domestic_control", "generate"]
