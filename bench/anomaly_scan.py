"""Speed of an anomaly scan: series x 30 days at 5-minute steps, each figure beside its goal.

python bench/anomaly_scan.py [--days 30] [--sizes 250 500 1000] [--cycle-sizes 1000 10000]
                             [--no-store]
A "series" is one vantage group (cc, asn, network) with one platform target. Goals (issue 17):
a cold scan of 1,000 series x 30 days <= 10 s and <= 300 MiB RSS, a watcher cycle <= 1 s at
1,000 series and <= 5 s at 10,000, a late upload into a past day <= 0.5 s, <= 80 bytes of
SQLite per verdict, cost linear in series x time (the slope is printed).

1. End to end from a real store (unless --no-store): a SQLite collector store is filled in bulk
   (bench/anomaly_fill.py), then ``tyndau anomaly scan``'s ``evaluate`` runs cold (empty
   day-grid cache: every day read from the rollups as arrays), warm (unchanged days from the
   cache), and again after a late upload into one day, each size in a fresh process (its own
   peak RSS). The cold scan's parts are then timed one by one: store reads, grid building,
   merging the days, detection; and, in another fresh process, the peak RSS of each stage of
   a cold scan (sampled every 5 ms): the day reads and the merged grid, shutdown detection,
   failure detection, the events. A watcher cycle runs over three days after a fresh round.
2. Detection alone over arrays filled directly, and the pivot from bucket records per record.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from anomaly_fill import SINCE, STEP_S, fill_store, late_verdict, storage

from collector.anomaly.cache import GridCache
from collector.anomaly.cache import _read as read_day
from collector.anomaly.classify import detect
from collector.anomaly.failures import failures
from collector.anomaly.lifecycle import reconcile
from collector.anomaly.series import Grid, build_grid
from collector.anomaly.series_columns import grid_from_columns
from collector.anomaly.settings import AnomalySettings
from collector.anomaly.shutdowns import shutdowns
from collector.anomaly.thresholds import Thresholds
from collector.anomaly.watcher import evaluate, floor_time
from collector.records import HeartbeatBucket, VerdictBucket
from collector.store.sqlite import SqliteStore

GOALS = {"cold": 10.0, "rss": 300.0, "cycle": 5.0, "cycle_1000": 1.0, "late": 0.5, "bytes": 80.0}
Figures = dict[str, float]


def make_grid(series: int, days: float, seed: int = 1) -> Grid:
    rng = np.random.default_rng(seed)
    n = int(days * 86400 / STEP_S)
    probes = rng.integers(2, 12, size=(series, 1)).astype(np.float64)
    heard = rng.binomial(probes.astype(np.int64), 0.97, size=(series, n)).astype(np.float64)
    blocked = rng.binomial(heard.astype(np.int64), 0.01).astype(np.float64)
    for s in range(0, series, 50):  # a few events so the bookkeeping runs too
        t = int(rng.integers(min(300, n // 2), n - 50))
        heard[s, t : t + 20] = 0
        blocked[s + 1, t : t + 30] = heard[s + 1, t : t + 30]
    zeros = np.zeros((series, n))
    grid = Grid(
        since=SINCE,
        step_s=STEP_S,
        n_times=n,
        leaves=[("ZZ", 64500 + i, "fixed") for i in range(series)],
        heard=heard,
        offline=zeros.copy(),
        verdicts=heard.copy(),
        control_ok=np.full((series, n), 1.0),
        beats=heard.copy(),
        bad=zeros.copy(),
        cut=zeros.copy(),
        pairs=[(i, "target") for i in range(series)],
        accessible=heard - blocked,
        blocked=blocked,
        inconclusive=zeros.copy(),
        probes=heard,
    )
    grid.methods = {
        (s, int(t)): {"dns": int(blocked[s, t])}
        for s in range(1, series, 50)
        for t in np.flatnonzero(blocked[s] > 0)
    }
    return grid


def time_detect(series: int, days: float) -> tuple[float, int]:
    grid = make_grid(series, days)
    began = time.perf_counter()
    found = detect(grid, Thresholds(), judge_from=288)
    return time.perf_counter() - began, len(found)


def time_pivot(buckets: int) -> float:
    leaves = max(1, buckets // 8640)
    verdicts = []
    for i in range(buckets):
        start = SINCE + timedelta(seconds=STEP_S * (i // leaves))
        vantage = ("ZZ", 64500 + i % leaves, "fixed")
        verdicts.append(VerdictBucket(*vantage, "target", "platform", start, 5, probes=5))
    heartbeats = [HeartbeatBucket(v.cc, v.asn, v.network, v.start, 5, 5) for v in verdicts]
    until = SINCE + timedelta(seconds=STEP_S * (buckets // leaves + 1))
    began = time.perf_counter()
    build_grid(verdicts, heartbeats, since=SINCE, until=until, step_s=STEP_S)
    return time.perf_counter() - began


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _RssPeaks:
    """Peak resident memory per stage: /proc/self/statm sampled every 5 ms by a thread."""

    def __init__(self) -> None:
        self._mib = os.sysconf("SC_PAGE_SIZE") / 2**20
        self._peak = self.now()
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def now(self) -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self._mib

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, self.now())

    def mark(self) -> float:
        """The peak since the last mark; the next stage starts from the current RSS."""
        time.sleep(0.02)
        peak, self._peak = max(self._peak, self.now()), self.now()
        return peak

    def stop(self) -> None:
        self._stop.set()


def stage_rss(path: str, cache_dir: str, days: int) -> Figures:
    """A cold scan (``evaluate``'s steps, nothing written) in a fresh process, with the peak
    RSS of each stage: imports, day reads and the merged grid, shutdown detection, failure
    detection, the stored events reconciled."""
    th = Thresholds()
    since, until = SINCE + timedelta(seconds=th.warmup_s), SINCE + timedelta(days=days)
    read_from = floor_time(since - timedelta(seconds=th.warmup_s), th.step_s)
    judge_from = int((since - read_from).total_seconds()) // th.step_s
    peaks = _RssPeaks()
    out = {"rss_imports": peaks.mark()}
    store = SqliteStore(path)
    grid = GridCache(Path(cache_dir)).grid(store, since=read_from, until=until, step_s=th.step_s)
    out["rss_grids"] = peaks.mark()
    found = shutdowns(grid, th, judge_from, True)
    out["rss_shutdowns"] = peaks.mark()
    found += failures(grid, th, judge_from)
    out["rss_failures"] = peaks.mark()
    stored = store.events(since=read_from, until=until)
    reconcile(stored, found, evaluated_since=since, evaluated_until=until, now=until)
    out["rss_events"] = peaks.mark()
    peaks.stop()
    store.close()
    return out


def _parts(store: SqliteStore, cache: GridCache, since: datetime, until: datetime) -> Figures:
    """A cold scan's parts timed one by one: rollup reads, grid building, merge, detection."""
    th = Thresholds()
    read_from = floor_time(since - timedelta(seconds=th.warmup_s), th.step_s)
    out = {"store_read": 0.0, "grid_build": 0.0}
    day = read_from.replace(hour=0, minute=0)
    while day < until:
        began = time.perf_counter()
        columns = store.rollup_columns(since=day, until=day + timedelta(days=1), step_s=th.step_s)
        out["store_read"] += time.perf_counter() - began
        assert columns is not None
        began = time.perf_counter()
        grid_from_columns(*columns, since=day, until=day + timedelta(days=1), step_s=th.step_s)
        out["grid_build"] += time.perf_counter() - began
        del columns
        day += timedelta(days=1)
    began = time.perf_counter()  # every day from the cache (warm): loads and the merge
    grid = cache.grid(store, since=read_from, until=until, step_s=th.step_s)
    out["merge"] = time.perf_counter() - began
    began = time.perf_counter()
    judge_from = int((since - read_from).total_seconds()) // th.step_s
    detect(grid, th, judge_from=judge_from)
    out["detect"] = time.perf_counter() - began
    return out


def scan_figures(path: str, cache_dir: str, days: int) -> Figures:
    """Cold, warm and after-late-upload scans, in a fresh process (its own peak RSS)."""
    th = Thresholds()
    since = SINCE + timedelta(seconds=th.warmup_s)  # the scan reads `days` in all, warm-up included
    until = SINCE + timedelta(days=days)
    store = SqliteStore(path)
    cache = GridCache(Path(cache_dir))
    out: Figures = {}
    for label in ("cold", "warm", "late"):
        if label == "late":  # one verdict uploaded late into the middle of the range
            began = time.perf_counter()
            late = late_verdict(SINCE + timedelta(days=days // 2, minutes=1), "late-1")
            store.write_batch(verdicts=[late])
            out["late_write"] = time.perf_counter() - began
        began, cpu = time.perf_counter(), time.process_time()
        evaluate(store, since=since, until=until, th=th, now=until, cache=cache)
        out[label] = time.perf_counter() - began
        out[f"{label}_cpu"] = time.process_time() - cpu
        out[f"{label}_read"] = cache.stats.read
        if label == "cold":
            out["rss"] = _rss_mib()
    began = time.perf_counter()  # a late upload's store cost: the write and its day re-read
    late_at = SINCE + timedelta(days=days // 2, minutes=2)
    store.write_batch(verdicts=[late_verdict(late_at, "late-2")])
    first = late_at.replace(hour=0, minute=0)
    read_day(store, first, first + timedelta(days=1), th.step_s)
    out["late_store"] = time.perf_counter() - began
    out.update(_parts(store, cache, since, until))
    store.close()
    return out


def cycle_figure(path: str, cache_dir: str, days: int) -> Figures:
    """A watcher cycle as ``Watcher.cycle`` runs it (lookback, warm-up, day cache), after a
    round of fresh data into the current day; the cache is warm from one earlier cycle."""
    th = Thresholds()
    until = SINCE + timedelta(days=days)
    since = until - timedelta(seconds=AnomalySettings().lookback_s)
    store = SqliteStore(path)
    cache = GridCache(Path(cache_dir))
    evaluate(store, since=since, until=until, th=th, now=until, cache=cache)
    round_at = until - timedelta(minutes=4)
    store.write_batch(verdicts=[late_verdict(round_at, f"round-{i}") for i in range(3)])
    began, cpu = time.perf_counter(), time.process_time()
    evaluate(store, since=since, until=until, th=th, now=until, cache=cache)
    out = {"cycle": time.perf_counter() - began, "read": cache.stats.read}
    out["cpu"] = time.process_time() - cpu
    day = until - timedelta(days=1)
    began = time.perf_counter()
    read_day(store, day, until, th.step_s)
    out["day_read"] = time.perf_counter() - began
    began = time.perf_counter()
    read_from = floor_time(since - timedelta(seconds=th.warmup_s), th.step_s)
    grid = cache.grid(store, since=read_from, until=until, step_s=th.step_s)
    out["merge"] = time.perf_counter() - began
    began = time.perf_counter()
    detect(grid, th, judge_from=th.warmup_s // th.step_s)
    out["detect"] = time.perf_counter() - began
    out["rss"] = _rss_mib()  # the process's peak over two cycles and the parts
    store.close()
    return out


def _in_child(func: Callable[..., Figures], *args: object) -> Figures:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(func, args)


def _goal(value: float, goal: float, unit: str = "s") -> str:
    return f"(goal <= {goal:g} {unit}: {'met' if value <= goal else 'NOT met'})"


def _scan_lines(
    series: int, days: int, verdicts: int, sizes_of: dict[str, int], f: Figures
) -> None:
    total = sum(sizes_of.values())
    per = total / verdicts
    raw = sum(v for k, v in sizes_of.items() if k.startswith(("verdicts", "sqlite_autoindex_v")))
    print(f"{series:5d} series x {days} d: {verdicts:,d} verdicts, {total / 2**20:,.0f} MiB")
    print(
        f"      storage {per:6.1f} B/verdict in all (verdict rows {raw / verdicts:.1f} B)"
        f" {_goal(per, GOALS['bytes'], 'B')}"
    )
    print(
        f"      cold  {f['cold']:7.2f} s ({f['cold_cpu']:.2f} s CPU, {f['cold_read']:.0f} days"
        f" read) {_goal(f['cold'], GOALS['cold'])}; peak RSS {f['rss']:,.0f} MiB"
        f" {_goal(f['rss'], GOALS['rss'], 'MiB')}"
    )
    print(
        f"        peak RSS by stage (another fresh process): imports {f['rss_imports']:.0f},"
        f" day reads + merged grid {f['rss_grids']:.0f}, shutdown detection"
        f" {f['rss_shutdowns']:.0f}, failure detection {f['rss_failures']:.0f}, events"
        f" {f['rss_events']:.0f} MiB"
    )
    print(
        f"        its parts, timed one by one: rollup reads {f['store_read']:.2f} s, grids"
        f" built {f['grid_build']:.2f} s, {days} days merged {f['merge']:.2f} s,"
        f" detection {f['detect']:.2f} s"
    )
    print(f"      warm  {f['warm']:7.2f} s ({f['warm_read']:.0f} days read)")
    print(
        f"      late upload: write {f['late_write']:.3f} s, write + day re-read"
        f" {f['late_store']:.3f} s {_goal(f['late_store'], GOALS['late'])};"
        f" the re-scan {f['late']:.2f} s ({f['late_read']:.0f} day read)"
    )


def time_store_scans(sizes: list[int], days: int, cycle_sizes: list[int], tmp: Path) -> None:
    print(f"end to end from a SQLite store: tyndau anomaly scan over {days} days")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    cells, colds = [], []
    for series in sizes:
        path = tmp / f"store-{series}.sqlite3"
        verdicts, _ = fill_store(path, series, days)
        sizes_of = storage(path)
        f = _in_child(scan_figures, str(path), str(tmp / f"grids-{series}"), days)
        f.update(_in_child(stage_rss, str(path), str(tmp / f"stage-grids-{series}"), days))
        path.unlink()
        cells.append(series * days * 86400 / STEP_S)
        colds.append(f["cold"])
        _scan_lines(series, days, verdicts, sizes_of, f)
    if len(cells) > 1:
        slope, intercept = np.polyfit(cells, colds, 1)
        print(
            f"cold-scan cost: {1e6 * slope:.3f} s per million series-buckets"
            f" + {intercept:.2f} s; per size: "
            + ", ".join(f"{1e6 * c / n:.3f}" for c, n in zip(colds, cells, strict=True))
        )
    for series in cycle_sizes:
        cycle_days = 3  # the watcher reads lookback (1 d) + warm-up (a day and more): three days
        path = tmp / f"cycle-{series}.sqlite3"
        verdicts, _ = fill_store(path, series, cycle_days)
        f = _in_child(cycle_figure, str(path), str(tmp / f"cycle-grids-{series}"), cycle_days)
        path.unlink()
        goal = GOALS["cycle_1000"] if series <= 1000 else GOALS["cycle"]
        print(
            f"watcher cycle at {series:,d} series ({verdicts:,d} verdicts in 3 days):"
            f" {f['cycle']:.2f} s ({f['cpu']:.2f} s CPU, {f['read']:.0f} day re-read)"
            f" {_goal(f['cycle'], goal)};"
            f" its parts: the changed day read and built {f['day_read']:.2f} s, days merged"
            f" {f['merge']:.2f} s, detection {f['detect']:.2f} s; peak RSS {f['rss']:,.0f} MiB"
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--no-store", action="store_true", help="skip the end-to-end store scan")
    parser.add_argument(
        "--cycle-sizes",
        type=int,
        nargs="*",
        default=[1000, 10000],
        help="series counts for the watcher-cycle figure (3 days of data each)",
    )
    args = parser.parse_args()
    if not args.no_store:
        with tempfile.TemporaryDirectory(prefix="tyndau-scan-") as tmp:
            time_store_scans(args.sizes, int(args.days), args.cycle_sizes, Path(tmp))
    print(f"detection (silence + failure detectors), {args.days:g} days at {STEP_S} s steps")
    print(f"{'series':>7} {'buckets':>12} {'seconds':>8} {'us/series-bucket':>17} events")
    for size in args.sizes:
        seconds, events = time_detect(size, args.days)
        cells = size * int(args.days * 86400 / STEP_S)
        print(f"{size:7d} {cells:12,d} {seconds:8.2f} {1e6 * seconds / cells:17.3f} {events}")
    size = max(args.sizes)
    print(f"the same at {size} series, growing the time range")
    for days in (args.days / 4, args.days / 2, args.days):
        seconds, events = time_detect(size, days)
        cells = size * int(days * 86400 / STEP_S)
        print(f"{days:5.1f} d {cells:12,d} {seconds:8.2f} {1e6 * seconds / cells:17.3f} {events}")
    print("pivot of bucket records into arrays (verdict + heartbeat buckets)")
    for buckets in (100_000, 200_000, 400_000):
        seconds = time_pivot(buckets)
        print(f"{buckets:12,d} buckets x2 {seconds:8.2f} s  {1e6 * seconds / buckets:.2f} us each")


if __name__ == "__main__":
    main()
