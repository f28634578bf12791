"""Which countries a watcher writes and alerts for: ``--shard K/N`` and ``--cc``.

Countries are assigned to shards by a stable hash, as Prometheus' ``hashmod`` relabelling
assigns targets: the MD5 of the country code, its low 64 bits, modulo N. Every watcher of a
shard computes the same assignment with no coordination, and any number of watchers may serve
one shard (a pair, for high availability): detection is deterministic and Alertmanager
deduplicates their alerts (docs/operators.md, "Several watchers").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from probe.configfile import ConfigError


def shard_of(partition: str, count: int) -> int:
    """The shard (0 .. count-1) of a partition: a country code, or ``*`` (cross-country)."""
    digest = hashlib.md5(partition.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "big") % count


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count``; ``Shard(0, 1)`` is everything."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= K < N")

    def owns(self, partition: str) -> bool:
        return self.count == 1 or shard_of(partition, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


WHOLE = Shard()  # one shard: every partition


def parse_shard(text: str) -> Shard:
    """``K/N`` with 0 <= K < N (``0/2`` and ``1/2`` split the countries in two)."""
    index, slash, count = text.partition("/")
    try:
        shard = Shard(int(index), int(count)) if slash else None
    except ValueError:
        shard = None
    if shard is None:
        raise ConfigError(
            "<cli>", "--shard", f"not a shard: {text!r}", "K/N with 0 <= K < N, e.g. 0/2"
        )
    return shard


@dataclass(frozen=True, slots=True)
class Partitions:
    """The partitions one watcher serves: its shard, narrowed by ``--cc`` when given.

    With ``--cc``, cross-country platform outages (partition ``*``) are served only when ``*``
    is listed too, so a set of ``--cc`` watchers follows them once.
    """

    shard: Shard = WHOLE
    countries: frozenset[str] = frozenset()

    @classmethod
    def of(cls, shard: Shard = WHOLE, countries: Iterable[str] = ()) -> Partitions:
        return cls(shard, frozenset(c.upper() for c in countries))

    def owns(self, partition: str) -> bool:
        if self.countries and partition not in self.countries:
            return False
        return self.shard.owns(partition)
