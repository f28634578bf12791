"""The events of ``volunteers.py``: who is cut or blocked when, and the truth labels.

Each scenario writes per-probe state (``cut``: offline; ``intl_cut``: only international targets
fail; ``block``: a method code per round for one target) and appends its truths. The sources of
each scenario are cited in ``volunteers.py``. A truth that fewer than two probes could observe
is dropped: one probe is not evidence (docs/anomaly.md, "Disco").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from collector.records import EventKind
from synth.history import DAY, Truth

OUTAGE = 10  # block code of a platform's own outage; 0-4 index volunteers.METHODS
Bools = npt.NDArray[np.bool_]
MOBILE = "mobile"


@dataclass(slots=True)
class Probe:
    leaf: tuple[str, int, str]
    on: Bools  # present and powered: rounds run
    link: Bools  # the home link or the phone's signal is up
    trouble: npt.NDArray[np.int8]  # local trouble code per round (volunteers._probe)


class Scenarios:
    """Per-probe event state over ``n`` rounds, and the labels."""

    def __init__(
        self, rng: np.random.Generator, n: int, probes: list[Probe], platforms: tuple[str, ...]
    ) -> None:
        self.rng, self.n, self.probes, self.platforms = rng, n, probes, platforms
        self.cut = np.zeros((len(probes), n), bool)
        self.intl_cut = np.zeros((len(probes), n), bool)
        self.block: dict[tuple[int, str], npt.NDArray[np.int64]] = {}
        self.truths: list[Truth] = []
        self.outages: list[tuple[int, int]] = []

    def add(self, kind: str, start: int, slot: int) -> None:
        getattr(self, f"_{kind}")(start + int(self.rng.integers(6, max(7, slot // 6))), slot)

    def collector_outage(self, start: int, length: int) -> None:
        self.outages.append((start, start + length))

    def collector_delay(self, arrival: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Nothing reaches the collector while it is down; the outboxes empty when it is back."""
        out = arrival.copy()
        for a, b in self.outages:
            out[(out >= a) & (out < b)] = b
        return out

    # -- helpers

    def _country(self) -> str:
        return str(self.rng.choice(sorted({p.leaf[0] for p in self.probes})))

    def _members(self, cc: str, *, asn: int | None = None, network: str | None = None) -> list[int]:
        return [
            i
            for i, p in enumerate(self.probes)
            if p.leaf[0] == cc and asn in (None, p.leaf[1]) and network in (None, p.leaf[2])
        ]

    def _span(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, max(lo + 1, hi)))

    def _truth(self, truth: Truth, members: list[int]) -> None:
        a, b = max(0, truth.start), min(self.n, truth.end)
        seen = sum(1 for i in members if self.probes[i].on[a:b].any())
        if seen >= 2 and b > a:
            whole = truth.kind == EventKind.SHUTDOWN and self._whole_group_cut(members, a)
            self.truths.append(replace(truth, start=a, end=b, whole=whole))

    def _whole_group_cut(self, members: list[int], at: int) -> bool:
        """Whether, in round ``at``, every running probe of some group of two or more among
        ``members`` is cut (offline or cut from abroad)."""
        groups: dict[tuple[str, int, str], list[bool]] = {}
        for i in members:
            if self.probes[i].on[at]:
                groups.setdefault(self.probes[i].leaf, []).append(
                    bool(self.cut[i, at] or self.intl_cut[i, at])
                )
        return any(len(cut) >= 2 and all(cut) for cut in groups.values())

    def _set_block(self, members: list[int], target: str, a: int, b: int, code: int) -> None:
        for i in members:
            arr = self.block.setdefault((i, target), np.full(self.n, -1, np.int64))
            arr[max(0, a) : max(0, b)] = code

    # -- scenarios (sources in volunteers.py)

    def _national(self, s: int, slot: int) -> None:
        cc = self._country()
        members = self._members(cc)
        end = s + self._span(36, slot // 2)
        last = s
        for i in members:
            step = 0 if self.probes[i].leaf[2] == MOBILE else int(self.rng.choice([3, 9, 15]))
            back = end + self._span(0, 36)  # restoration spread over hours
            self.cut[i, s + step : back] = True
            last = max(last, back)
        self._truth(Truth(EventKind.SHUTDOWN, cc, None, None, None, None, s, last), members)
        b0, b1 = s - self._span(6, 18), min(last + self._span(6, 24), s + slot - 12)
        self._set_block(members, "telegram", b0, b1, 0)  # began before the cut, outlives it
        self._truth(Truth(EventKind.BLOCKING, cc, None, None, "telegram", "dns", b0, b1), members)

    def _mobile(self, s: int, slot: int) -> None:
        cc = self._country()
        members = self._members(cc, network=MOBILE)
        end = s + self._span(24, slot // 2)
        last = s
        for asn in sorted({self.probes[i].leaf[1] for i in members}):
            a = s + self._span(0, 6)  # operators one after another
            b = end + self._span(0, 12)
            for i in self._members(cc, asn=asn, network=MOBILE):
                self.cut[i, a:b] = True
            last = max(last, b)
        self._truth(Truth(EventKind.SHUTDOWN, cc, None, MOBILE, None, None, s, last), members)

    def _nightly(self, s: int, slot: int) -> None:
        cc = self._country()
        offset = {"KZ": 5, "IR": 3, "MM": 6, "RU": 3, "UZ": 5}.get(cc, 0)
        members = self._members(cc)
        night = ((1 - offset) * 12) % DAY  # 01:00 local, in UTC buckets of the day
        a = s - s % DAY + night
        a = a if a >= s else a + DAY
        if a + 96 > s + slot:  # the slot is too short for a night: cut its last 8 hours
            a = s + slot - 100
        for i in members:
            self.cut[i, a : a + 96] = True  # 01:00-09:00 local
        self._truth(Truth(EventKind.SHUTDOWN, cc, None, None, None, None, a, a + 96), members)

    def _domestic(self, s: int, slot: int) -> None:
        cc = self._country()
        members = self._members(cc)
        end = s + self._span(24, slot // 2)
        for i in members:
            self.intl_cut[i, s:end] = True
        self._truth(Truth(EventKind.SHUTDOWN, cc, None, None, None, None, s, end), members)

    def _asn_blocks(self, s: int, slot: int) -> None:
        cc = self._country()
        target = str(self.rng.choice(["twitter", "facebook"]))
        code = int(self.rng.integers(0, 4))
        method = ("dns", "tcp", "tls", "http")[code]
        end = s + int(slot * 0.7)
        for asn in sorted({self.probes[i].leaf[1] for i in self._members(cc)}):
            a = s + self._span(0, 48)  # each ASN at its own time
            members = self._members(cc, asn=asn)
            self._set_block(members, target, a, end, code)
            self._truth(Truth(EventKind.BLOCKING, cc, asn, None, target, method, a, end), members)

    def _throttle(self, s: int, slot: int) -> None:
        cc = self._country()
        members = self._members(cc, network=MOBILE)
        end = s + self._span(24, slot // 2)
        self._set_block(members, "twitter", s, end, 4)
        truth = Truth(EventKind.THROTTLING, cc, None, MOBILE, "twitter", "throttled", s, end)
        self._truth(truth, members)

    def _whitelist(self, s: int, slot: int) -> None:
        cc = self._country()
        members = self._members(cc, network=MOBILE)
        allowed = str(self.rng.choice(self.platforms))
        code = int(self.rng.choice([2, 3]))  # SNI filtering or an HTTP block page
        end = s + self._span(24, slot // 2)
        for target in self.platforms:
            if target != allowed:
                self._set_block(members, target, s, end, code)
                method = ("dns", "tcp", "tls", "http")[code]
                truth = Truth(EventKind.BLOCKING, cc, None, MOBILE, target, method, s, end)
                self._truth(truth, members)

    def _global(self, s: int, slot: int) -> None:
        members = list(range(len(self.probes)))
        end = s + self._span(12, min(72, slot // 2))
        for target in ("facebook", "instagram", "whatsapp"):
            self._set_block(members, target, s, end, OUTAGE)
            truth = Truth(EventKind.PLATFORM_OUTAGE, "*", None, None, target, None, s, end)
            self._truth(truth, members)

    def _small_cut(self, s: int, slot: int) -> None:
        groups: dict[tuple[str, int, str], list[int]] = {}
        for i, p in enumerate(self.probes):
            groups.setdefault(p.leaf, []).append(i)
        for offset in range(0, slot // 2, 6):  # the first moment a 2-probe group is all up
            t = s + offset
            ready = [
                leaf
                for leaf, members in groups.items()
                if len(members) == 2 and all(self.probes[i].on[t : t + 8].all() for i in members)
            ]
            if ready:
                leaf = ready[int(self.rng.integers(len(ready)))]
                end = t + self._span(2, 7)  # 10-30 minutes
                for i in groups[leaf]:
                    self.cut[i, t:end] = True
                truth = Truth(EventKind.SHUTDOWN, leaf[0], leaf[1], leaf[2], None, None, t, end)
                self._truth(truth, groups[leaf])
                return
