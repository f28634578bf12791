"""Signals per network and per ASN, IODA-style: so that silence shows even with no event.

Per time bucket, from the stores' aggregates (never raw rows):

- ``heard``: distinct probes whose heartbeat is stamped in the bucket (backfilled heartbeats
  count: a probe cut off but alive is heard once its outbox drains);
- ``measured``: probes that sent a verdict timed in the bucket (the most probes of any one
  target, summed over the vantages of the group);
- ``up``: measured probes whose verdicts were not ``offline`` (measured x (1 - offline share));
- ``offline_share``: offline verdicts / all verdicts (None: no verdict at all);
- ``expected``: the most probes heard or measured in any bucket of the range, the baseline a
  drop is read against (IODA compares with a moving median; a range maximum is plainer and
  enough to see a network go dark).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from collector.records import HeartbeatBucket, VerdictBucket


@dataclass(frozen=True, slots=True)
class SignalPoint:
    start: datetime
    heard: int
    measured: int
    up: int
    offline_share: float | None


@dataclass(frozen=True, slots=True)
class Signals:
    """One group's signals: a network (``asn`` None) or one ASN's network."""

    network: str
    asn: int | None
    expected: int
    points: tuple[SignalPoint, ...]

    @property
    def label(self) -> str:
        return self.network if self.asn is None else f"AS{self.asn} {self.network}"

    @property
    def key(self) -> str:
        """A stable id fragment for pages: ``mobile`` or ``9198-mobile``."""
        return self.network if self.asn is None else f"{self.asn}-{self.network}"


_Key = tuple[int | None, str]


def up_and_share(measured: int, offline: int, total: int) -> tuple[int, float | None]:
    """Probes up (``measured`` x (1 - offline share)) and the offline share of ``total`` verdicts
    (None: no verdict at all): the one formula of the signals and of the chart's strip."""
    share = None if total == 0 else offline / total
    return (measured if share is None else round(measured * (1 - share))), share


def signals(
    verdicts: Sequence[VerdictBucket],
    heartbeats: Sequence[HeartbeatBucket],
    starts: Sequence[datetime],
    *,
    per_asn: bool = True,
) -> list[Signals]:
    """Signals per network (then per ASN and network when ``per_asn``), one point per start."""
    out = _grouped(verdicts, heartbeats, starts, lambda asn, net: (None, net))
    if per_asn:
        out += _grouped(verdicts, heartbeats, starts, lambda asn, net: (asn, net))
    return out


def _grouped(
    verdicts: Iterable[VerdictBucket],
    heartbeats: Iterable[HeartbeatBucket],
    starts: Sequence[datetime],
    key_of: Callable[[int, str], _Key],
) -> list[Signals]:
    # per group and bucket: probes per (vantage, target), offline and total verdict counts
    best: dict[_Key, dict[datetime, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    offline: dict[_Key, dict[datetime, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    heard: dict[_Key, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for b in verdicts:
        key = key_of(b.asn, b.network)
        per_asn = best[key][b.start]
        per_asn[b.asn] = max(per_asn.get(b.asn, 0), b.probes)
        counts = offline[key][b.start]
        counts[0] += b.offline
        counts[1] += b.total
    for h in heartbeats:
        heard[key_of(h.asn, h.network)][h.start] += h.probes
    out = []
    for key in sorted(set(best) | set(heard), key=lambda k: (k[1], -1 if k[0] is None else k[0])):
        points = []
        for start in starts:
            measured = sum(best[key].get(start, {}).values())
            off, total = offline[key].get(start, (0, 0))
            up, share = up_and_share(measured, off, total)
            points.append(SignalPoint(start, heard[key].get(start, 0), measured, up, share))
        expected = max((max(p.heard, p.measured) for p in points), default=0)
        out.append(Signals(key[1], key[0], expected, tuple(points)))
    return out
