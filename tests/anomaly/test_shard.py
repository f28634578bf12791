"""``--shard K/N``: countries assigned by a stable hash (Prometheus' hashmod), ``--cc`` on top."""

from __future__ import annotations

import pytest

from collector.anomaly.shard import Partitions, Shard, parse_shard, shard_of
from probe.configfile import ConfigError

COUNTRIES = ["BY", "IR", "KG", "KZ", "RU", "TJ", "TM", "UZ", "*"]


def test_every_partition_has_exactly_one_shard_and_the_hash_never_moves() -> None:
    for count in (1, 2, 3, 7):
        shards = [Shard(k, count) for k in range(count)]
        for cc in COUNTRIES:
            assert [s.owns(cc) for s in shards].count(True) == 1
    # md5 of the code, low 64 bits, mod N: fixed values, so a pair of watchers of one shard
    # (or a restart with a new version) never disagree on who serves a country
    assert [shard_of(cc, 3) for cc in COUNTRIES] == [1, 2, 0, 0, 0, 1, 1, 2, 0]


def test_cc_narrows_a_shard_and_takes_outages_only_when_listed() -> None:
    kz = Partitions.of(countries=["kz"])
    assert kz.owns("KZ") and not kz.owns("UZ") and not kz.owns("*")
    assert Partitions.of(countries=["KZ", "*"]).owns("*")
    assert Partitions().owns("*") and Partitions().owns("UZ")
    assert not Partitions.of(Shard(0, 2), ["KZ"]).owns("KZ")  # KZ is in shard 1 of 2


def test_parse_shard() -> None:
    assert parse_shard("1/3") == Shard(1, 3) and str(parse_shard("0/1")) == "0/1"
    for bad in ("3/3", "x", "1/", "/2", "-1/2"):
        with pytest.raises(ConfigError, match="K/N"):
            parse_shard(bad)
