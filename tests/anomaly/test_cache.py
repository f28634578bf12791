"""The day-grid cache: the same grid and events as reading the store at once; late data counts."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from synth.legacy import World, generate

from collector.anomaly.alerts import Ledger
from collector.anomaly.cache import GridCache
from collector.anomaly.classify import detect
from collector.anomaly.series import Grid, build_grid, merge_grids
from collector.anomaly.settings import AnomalySettings
from collector.anomaly.thresholds import Thresholds
from collector.anomaly.watcher import Watcher
from collector.records import HeartbeatBucket, VerdictBucket
from tests.support.memory_store import MemoryStore

TH = Thresholds()
DAY_S = 86_400


class StampedMemoryStore(MemoryStore):
    """MemoryStore plus day stamps, bumped like the real stores on every write into a day."""

    def __init__(self, verdicts: Iterable[VerdictBucket], heartbeats: Iterable[HeartbeatBucket]):
        super().__init__()
        self.stamps: dict[int, int] = {}
        self.reads = 0
        self.add(list(verdicts), list(heartbeats))

    def add(self, verdicts: list[VerdictBucket], heartbeats: list[HeartbeatBucket]) -> None:
        self.verdicts += verdicts
        self.heartbeats += heartbeats
        for start in [b.start for b in verdicts] + [b.start for b in heartbeats]:
            day = int(start.timestamp()) // DAY_S * DAY_S
            self.stamps[day] = self.stamps.get(day, 0) + 1

    def day_stamps(self, *, since: datetime, until: datetime) -> dict[int, int]:
        first = int(since.timestamp()) // DAY_S * DAY_S
        return {d: s for d, s in self.stamps.items() if first <= d < until.timestamp()}

    def verdict_buckets(self, **kwargs: Any) -> list[VerdictBucket]:
        self.reads += 1
        return super().verdict_buckets(**kwargs)


def _direct(store: MemoryStore, since: datetime, until: datetime, step_s: int = 300) -> Grid:
    return build_grid(
        store.verdict_buckets(since=since, until=until, step_s=step_s),
        store.heartbeat_buckets(since=since, until=until, step_s=step_s),
        since=since,
        until=until,
        step_s=step_s,
    )


def _canonical(grid: Grid) -> dict[str, Any]:
    """A grid as plain data independent of row order: rows keyed by leaf and (leaf, target)."""
    out: dict[str, Any] = {"since": grid.since, "n_times": grid.n_times}
    for i, leaf in enumerate(grid.leaves):
        for name in ("heard", "offline", "verdicts", "control_ok"):
            out[f"{name}{leaf}"] = np.nan_to_num(getattr(grid, name)[i], nan=-1.0).tolist()
    for p, (row, target) in enumerate(grid.pairs):
        key = (grid.leaves[row], target)
        for name in ("accessible", "blocked", "inconclusive", "probes"):
            out[f"{name}{key}"] = getattr(grid, name)[p].tolist()
    for name in ("methods", "reasons"):
        table = getattr(grid, name)
        out[name] = {
            ((grid.leaves[grid.pairs[p][0]], grid.pairs[p][1]), t): c for (p, t), c in table.items()
        }
    return out


def _history(seed: int = 3) -> tuple[StampedMemoryStore, datetime, datetime]:
    history = generate(World(countries=("KZ", "UZ")), days=3, events=6, seed=seed)
    store = StampedMemoryStore(*history.view())
    since = history.since + timedelta(hours=7, minutes=35)  # not at a day boundary
    return store, since, history.since + timedelta(days=3, hours=20)


def test_cached_grid_equals_reading_the_range_at_once(tmp_path: Path) -> None:
    store, since, until = _history()
    cache = GridCache(tmp_path)
    first = cache.grid(store, since=since, until=until, step_s=300)
    assert (cache.stats.cached, cache.stats.read) == (0, 4)
    direct = _direct(store, since, until)
    assert _canonical(first) == _canonical(direct)
    assert first.methods, "the history has blocking: methods must come through"

    second = cache.grid(store, since=since, until=until, step_s=300)
    assert (cache.stats.cached, cache.stats.read) == (4, 0)
    assert _canonical(second) == _canonical(direct)
    key = lambda d: (d.kind, d.scope, d.target, d.method, d.start, d.end)  # noqa: E731
    expected = sorted(map(key, detect(direct, TH, judge_from=288)), key=str)
    assert expected, "the history has events"
    assert sorted(map(key, detect(second, TH, judge_from=288)), key=str) == expected


def test_late_data_makes_exactly_its_day_be_read_again(tmp_path: Path) -> None:
    store, since, until = _history()
    cache = GridCache(tmp_path)
    cache.grid(store, since=since, until=until, step_s=300)
    late = replace(store.verdicts[-1], start=store.verdicts[-1].start - timedelta(days=1))
    late = replace(late, accessible=late.accessible + 40, probes=99)
    store.add([late], [])
    grid = cache.grid(store, since=since, until=until, step_s=300)
    assert (cache.stats.cached, cache.stats.read) == (3, 1)
    assert _canonical(grid) == _canonical(_direct(store, since, until))


def test_other_steps_are_cached_apart_and_odd_steps_read_directly(tmp_path: Path) -> None:
    store, since, until = _history()
    cache = GridCache(tmp_path)
    since = since.replace(minute=0)
    hourly = cache.grid(store, since=since, until=until, step_s=3600)
    assert _canonical(hourly) == _canonical(_direct(store, since, until, 3600))
    assert {p.name for p in tmp_path.iterdir()} == {"step3600"}
    odd = cache.grid(store, since=since, until=until, step_s=420)  # 86400 / 420 is not whole
    assert cache.stats.read == cache.stats.cached == 0
    assert _canonical(odd) == _canonical(_direct(store, since, until, 420))


def test_a_damaged_cache_file_is_read_again_not_trusted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, since, until = _history()
    cache = GridCache(tmp_path)
    expected = _canonical(cache.grid(store, since=since, until=until, step_s=300))
    victim = sorted((tmp_path / "step300").iterdir())[1]
    victim.write_bytes(victim.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="tyndau.anomaly"):
        again = cache.grid(store, since=since, until=until, step_s=300)
    assert (cache.stats.cached, cache.stats.read) == (3, 1)
    assert victim.name in caplog.text
    assert _canonical(again) == expected


def test_merge_cuts_to_the_range_and_drops_rows_absent_from_it() -> None:
    store, since, _ = _history()
    day = datetime.fromtimestamp(int(since.timestamp()) // DAY_S * DAY_S, since.tzinfo)
    part = _direct(store, day, day + timedelta(days=1))
    window = (day + timedelta(hours=3), day + timedelta(hours=5))
    merged = merge_grids([part], since=window[0], until=window[1], step_s=300)
    assert merged.n_times == 24
    assert _canonical(merged) == _canonical(_direct(store, *window))
    with pytest.raises(ValueError, match="step"):
        merge_grids([part], since=window[0], until=window[1], step_s=600)


def test_the_watcher_fills_the_cache_with_older_history_one_day_a_cycle(tmp_path: Path) -> None:
    """History from before the watcher started gets cached too, so a later scan of it is
    fast; only days with data are read, newest first, one per cycle."""
    store, _, _ = _history()  # 2026-01-05 .. 2026-01-09, four days
    cache = GridCache(tmp_path / "grids")
    watcher = Watcher(
        store,
        AnomalySettings(state_dir=tmp_path),
        channels=[],
        ledger=Ledger(tmp_path / "alerts.sqlite3"),
        cache=cache,
    )
    try:
        watcher.cycle(datetime(2026, 1, 9, tzinfo=UTC))
        cached = sorted(p.stem for p in (tmp_path / "grids" / "step300").iterdir())
        assert cached == ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"]
        assert watcher.cache is cache
        older = {"since": store_start(store), "until": datetime(2026, 1, 7, tzinfo=UTC)}
        assert cache.prefetch(store, **older, step_s=300, limit=5) == []
    finally:
        watcher.close()
    cache.grid(store, since=store_start(store), until=datetime(2026, 1, 9, tzinfo=UTC), step_s=300)
    assert (cache.stats.cached, cache.stats.read) == (4, 0)
    late = replace(store.verdicts[0], accessible=store.verdicts[0].accessible + 1)
    store.add([late], [])  # a backlog into the oldest day makes it stale: prefetch reads it
    assert cache.prefetch(store, **older, step_s=300, limit=5) == [store_start(store)]


def store_start(store: MemoryStore) -> datetime:
    return min(b.start for b in store.verdicts)


def _random_records(seed: int, since: datetime, hours: int) -> tuple[list[Any], list[Any]]:
    """Verdicts (platforms, international and domestic controls, every kind) and heartbeats
    of several leaves, some heard only by heartbeats, some only by verdicts."""
    import random

    from probe.model import (
        BlockMethod,
        Category,
        Heartbeat,
        Reason,
        TargetRef,
        Vantage,
        Verdict,
        VerdictKind,
    )

    rng = random.Random(seed)
    targets = [
        TargetRef("telegram", "t.test", Category.PLATFORM),
        TargetRef("signal", "s.test", Category.PLATFORM),
        TargetRef("control", "c.test", Category.CONTROL),
        TargetRef("kz-gov", "g.test", Category.CONTROL),
    ]
    leaves = [Vantage("KZ", 64500 + i % 3, ("fixed", "mobile")[i % 2]) for i in range(5)]
    verdicts, beats = [], []
    for n in range(seed * 1000, seed * 1000 + 600):
        at = since + timedelta(seconds=rng.randrange(hours * 3600))
        vantage, probe = rng.choice(leaves), f"p{rng.randrange(4)}"
        if vantage is not leaves[4]:
            kind = rng.choice(list(VerdictKind))
            blocked = kind is VerdictKind.BLOCKED
            verdicts.append(
                Verdict(
                    f"v{n}",
                    probe,
                    vantage,
                    rng.choice(targets),
                    "r",
                    at,
                    kind,
                    rng.choice([BlockMethod.DNS, BlockMethod.TLS]) if blocked else None,
                    Reason.DNS_NXDOMAIN if blocked else None,
                    1.0,
                    (),
                )
            )
        if vantage is not leaves[3]:
            beats.append(Heartbeat(f"h{n}", probe, "0.1", vantage, at, 1.0, 0))
    return verdicts, beats


def _broken_report(since: datetime) -> list[Any]:
    """One report from a leaf without heartbeats (an imported OONI user's) whose every other
    site failed, a platform too: reports.py counts it bad in its bucket."""
    from probe.model import BlockMethod, Category, Reason, TargetRef, Vantage, Verdict, VerdictKind

    at, vantage = since + timedelta(minutes=40), Vantage("KZ", 64599, "mobile")
    sites = [TargetRef(f"site{i}", f"site{i}.test", Category.OTHER) for i in range(6)]
    return [
        Verdict(
            f"o{i}",
            "oo1",
            vantage,
            target,
            "r",
            at + timedelta(seconds=i),
            VerdictKind.BLOCKED,
            BlockMethod.TCP,
            Reason.TCP_TIMEOUT,
            1.0,
            (),
        )
        for i, target in enumerate([TargetRef("telegram", "t.test", Category.PLATFORM), *sites])
    ]


def _sparse_bad(grid: Grid) -> float:
    return float(grid.bad[grid.leaves.index(("KZ", 64599, "mobile"))].sum())


@pytest.mark.parametrize("hours", [6, 24, 48])  # 24, 48: from the day rows
def test_grid_from_rollup_columns_equals_grid_from_buckets(tmp_path: Path, hours: int) -> None:
    from collector.anomaly.series_columns import grid_from_columns
    from collector.store.sqlite import SqliteStore

    since = datetime(2026, 1, 5, tzinfo=UTC)
    until = since + timedelta(hours=hours)
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        for seed in range(3):  # several batches: day rows updated in place, late ones too
            verdicts, beats = _random_records(seed, since - timedelta(hours=1), hours + 2)
            store.write_batch(verdicts=verdicts, heartbeats=beats)
        store.write_batch(verdicts=_broken_report(since))
        columns = store.rollup_columns(since=since, until=until, step_s=300)
        assert columns is not None
        got = grid_from_columns(*columns, since=since, until=until, step_s=300)
        want = build_grid(
            store.verdict_buckets(since=since, until=until, step_s=300),
            store.heartbeat_buckets(since=since, until=until, step_s=300),
            since=since,
            until=until,
            step_s=300,
        )
        assert store.rollup_columns(since=since, until=until, step_s=3600) is None
        store.rebuild_rollups()  # the rebuild from raw rows makes the same day rows
        again = store.rollup_columns(since=since, until=until, step_s=300)
    finally:
        store.close()
    assert got.bad.any() and got.methods  # the data exercises the control and method paths
    assert _sparse_bad(got) == 1.0  # and the other sites' (reports.py)
    assert again is not None
    rebuilt = grid_from_columns(*again, since=since, until=until, step_s=300)
    for name in Grid.__slots__:
        for grid in (got, rebuilt):
            mine, theirs = getattr(grid, name), getattr(want, name)
            if isinstance(mine, np.ndarray):
                np.testing.assert_array_equal(mine, theirs, err_msg=name)
            else:
                assert mine == theirs, name


@pytest.mark.parametrize("hours", [6, 24])
def test_grid_from_influx_rollup_columns_equals_grid_from_buckets(hours: int) -> None:
    """The InfluxDB rollup points read as columns (collector/store/influx_read.py) give the
    grid their bucket records give, on a real influxd."""
    from collector.anomaly.series_columns import grid_from_columns
    from collector.store.influx import InfluxStore
    from tests.support.influx import influxd_or_skip

    since = datetime(2026, 1, 5, tzinfo=UTC)
    until = since + timedelta(hours=hours)
    with influxd_or_skip() as server:
        store = InfluxStore(server.url, database=f"cols{hours}")
        try:
            for seed in range(3):
                verdicts, beats = _random_records(seed, since - timedelta(hours=1), hours + 2)
                store.write_batch(verdicts=verdicts, heartbeats=beats)
            store.write_batch(verdicts=_broken_report(since))
            # the bucket reads also bring the rollup points up to date
            v = store.verdict_buckets(since=since, until=until, step_s=300)
            h = store.heartbeat_buckets(since=since, until=until, step_s=300)
            want = build_grid(v, h, since=since, until=until, step_s=300)
            columns = store.rollup_columns(since=since, until=until, step_s=300)
            assert store.rollup_columns(since=since, until=until, step_s=3600) is None
        finally:
            store.close()
    assert columns is not None  # the day-grid cache reads InfluxDB's rollups as columns too
    got = grid_from_columns(*columns, since=since, until=until, step_s=300)
    assert got.bad.any() and got.methods
    assert _sparse_bad(got) == 1.0
    for name in Grid.__slots__:
        mine, theirs = getattr(got, name), getattr(want, name)
        if isinstance(mine, np.ndarray):
            np.testing.assert_array_equal(mine, theirs, err_msg=name)
        else:
            assert mine == theirs, name


def test_a_watcher_window_holds_its_newest_days_and_a_long_scan_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The newest days stay in memory for the next cycle; a call over more than HOLD_WITHIN
    days (a month's scan) holds none, and gives the same grid."""
    store, since, until = _history()
    cache = GridCache(tmp_path)
    short = cache.grid(store, since=since, until=until, step_s=300)
    assert len(cache._held) == 4  # the call's four days, HELD_DAYS of them
    monkeypatch.setattr("collector.anomaly.cache.HOLD_WITHIN", 3)
    long = cache.grid(store, since=since, until=until, step_s=300)
    assert cache._held == {} and cache.stats.cached == 4
    assert _canonical(long) == _canonical(short) == _canonical(_direct(store, since, until))
