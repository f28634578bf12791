"""Speed of an anomaly scan: series x 30 days at 5-minute steps, for three sizes.

python bench/anomaly_scan.py [--days 30] [--sizes 250 500 1000] [--no-store]
A "series" is one vantage group (cc, asn, network) with one platform target. Goal: a scan over
1,000 series x 30 days <= 10 s, cost linear in series x time.

1. End to end from a real store (unless --no-store): a SQLite collector store is filled in bulk
   (in SQL, bypassing the API: 20 platform targets and a control per vantage group, 2 probes
   each reporting every 5 minutes, heartbeats, 1% blocked noise, one silent spell), then
   ``tyndau anomaly scan``'s ``evaluate`` runs twice: cold (empty day-grid cache: every day is
   aggregated in the store and pivoted) and warm (unchanged days from the cache, as for the
   periodic watcher and any re-scan), and once more after a late upload into one day.
2. Detection alone over arrays filled directly (the silence and failure detectors each over
   that many rows), and the pivot from bucket records per record.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from collector.anomaly.cache import GridCache
from collector.anomaly.cache import _read as read_day
from collector.anomaly.classify import detect
from collector.anomaly.series import Grid, build_grid
from collector.anomaly.settings import AnomalySettings
from collector.anomaly.thresholds import Thresholds
from collector.anomaly.watcher import evaluate
from collector.records import HeartbeatBucket, VerdictBucket
from collector.store.sqlite import SqliteStore
from probe.model import Category, TargetRef, Vantage, Verdict, VerdictKind

STEP_S = 300
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


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
    leaves = [("ZZ", 64500 + i, "fixed") for i in range(series)]
    grid = Grid(
        since=SINCE, step_s=STEP_S, n_times=n, leaves=leaves, heard=heard, offline=zeros.copy(),
        verdicts=heard.copy(), control_ok=np.full((series, n), 1.0), beats=heard.copy(),
        bad=zeros.copy(), cut=zeros.copy(), pairs=[(i, "target") for i in range(series)],
        accessible=heard - blocked, blocked=blocked, inconclusive=zeros.copy(), probes=heard,
    )  # fmt: skip
    for s in range(1, series, 50):
        for t in np.flatnonzero(blocked[s] > 0):
            grid.methods[(s, int(t))] = {"dns": int(blocked[s, t])}
    return grid


def time_detect(series: int, days: float) -> tuple[float, int]:
    grid = make_grid(series, days)
    began = time.perf_counter()
    found = detect(grid, Thresholds(), judge_from=288)
    return time.perf_counter() - began, len(found)


def time_pivot(buckets: int) -> float:
    start = SINCE
    leaves = max(1, buckets // 8640)
    verdicts = [
        VerdictBucket("ZZ", 64500 + i % leaves, "fixed", "target", "platform",
                      start + timedelta(seconds=STEP_S * (i // leaves)), accessible=5, probes=5)
        for i in range(buckets)
    ]  # fmt: skip
    heartbeats = [HeartbeatBucket(v.cc, v.asn, v.network, v.start, 5, 5) for v in verdicts]
    until = start + timedelta(seconds=STEP_S * (buckets // leaves + 1))
    began = time.perf_counter()
    build_grid(verdicts, heartbeats, since=start, until=until, step_s=STEP_S)
    return time.perf_counter() - began


TARGETS = 20  # platform targets per vantage group
PROBES = 2  # per vantage group: the fewest an event may rest on (min_probes)
COUNTRIES = ("KZ", "UZ", "KG", "TJ", "TM", "AZ", "GE", "AM", "MN", "BY")
GOALS = {"cold": 10.0, "rss": 300.0, "cycle_1000": 1.0, "cycle_10000": 5.0, "late": 0.5,
         "bytes": 80.0}  # fmt: skip


def _uid(ms: int, serial: int) -> bytes:
    """A 16-byte id laid out as a UUIDv7 (time first), as probes make them."""
    return ((ms << 80) | (7 << 76) | serial).to_bytes(16, "big")


def fill_store(path: Path, series: int, days: float, *, first_day: int = 0) -> tuple[int, float]:
    """A collector SQLite store with ``series`` (group, target) series over ``days``, written
    in SQL in the store's own coded layout (bypassing the API), then its rollups built from
    the rows as the store does on opening an older store. Returns (verdicts, rollup seconds)."""
    SqliteStore(path).close()  # the collector's own schema
    groups = max(1, series // TARGETS)
    n = int(days * 86400) // STEP_S
    t0 = int(SINCE.timestamp()) + first_day * 86400
    db = sqlite3.connect(path, isolation_level=None)
    db.create_function("uid", 2, _uid, deterministic=True)
    db.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
        "CREATE TEMP TABLE pair(g, cc, asn, network, target, category);"
        "CREATE TEMP TABLE probe(g, k, code);"
        "CREATE TEMP TABLE t(i INTEGER PRIMARY KEY);"
    )
    rows, leaves = [], []
    for g in range(groups):
        vantage = (COUNTRIES[g % len(COUNTRIES)], 64500 + g // 2, ("fixed", "mobile")[g % 2])
        leaves.append((g + 1, *vantage))
        rows += [(g, *vantage, f"platform-{k}", "platform") for k in range(TARGETS)]
        rows.append((g, *vantage, "control", "control"))
    db.execute("BEGIN")
    db.executemany("INSERT INTO pair VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO series SELECT rowid, cc, asn, network, target, category FROM pair")
    db.executemany("INSERT INTO leaves VALUES (?, ?, ?, ?)", leaves)
    probes = [(g, k, g * PROBES + k + 1) for g in range(groups) for k in range(PROBES)]
    db.executemany("INSERT INTO probe VALUES (?, ?, ?)", probes)
    db.executemany(
        "INSERT INTO probe_codes VALUES (?, ?)", [(c, f"probe-{g}-{k}") for g, k, c in probes]
    )
    db.executemany(
        "INSERT INTO kinds VALUES (?, ?, ?, ?)",
        [(1, "accessible", "", ""), (2, "blocked", "dns", "dns.nxdomain")],
    )
    db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(n)])
    silent = (n * 2 // 3, n * 2 // 3 + 24)  # group 0 silent for two hours
    db.execute(
        "INSERT INTO verdicts SELECT uid(at_ns / 1000000, (rowid_ << 8) + k), code, rowid_,"
        " CASE WHEN blocked THEN 2 ELSE 1 END, at_ns, 1.0, '[]' FROM ("
        "  SELECT pair.rowid AS rowid_, probe.k AS k, probe.code AS code,"
        "  ((t.i * 7 + pair.rowid * 13 + probe.k) % 100 = 0 AND pair.category = 'platform')"
        "  AS blocked, (? + t.i * ? + 30 + probe.k) * 1000000000 AS at_ns"
        "  FROM t JOIN pair JOIN probe ON probe.g = pair.g"
        "  WHERE NOT (pair.g = 0 AND t.i >= ? AND t.i < ?))",
        [t0, STEP_S, *silent],
    )
    db.execute(
        "INSERT INTO heartbeats SELECT uid((? + t.i * ? + 20 + probe.k) * 1000, probe.code),"
        " probe.code, probe.g + 1, (? + t.i * ? + 20 + probe.k) * 1000000000, t.i * 300.0, 0,"
        " '[\"0.1\"]' FROM t JOIN probe WHERE NOT (probe.g = 0 AND t.i >= ? AND t.i < ?)",
        [t0, STEP_S, t0, STEP_S, *silent],
    )
    db.executemany(
        "INSERT INTO day_stamps VALUES (?, abs(random()))",
        [(t0 + d * 86400,) for d in range(int(-(-days // 1)))],
    )
    db.execute("COMMIT")
    count: int = db.execute("SELECT count(*) FROM verdicts").fetchone()[0]
    db.close()
    began = time.perf_counter()
    store = SqliteStore(path)
    store.rebuild_rollups()
    store.close()
    return count, time.perf_counter() - began


def storage(path: Path) -> dict[str, int]:
    """Bytes per table and index (SQLite's dbstat), after a checkpoint."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    sizes = {str(name): int(size) for name, size in
             db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")}  # fmt: skip
    db.close()
    return sizes


def _late_verdict(at: datetime, name: str) -> Verdict:
    return Verdict(name, "probe-0-0", Vantage(COUNTRIES[0], 64500, "fixed"),
                   TargetRef("platform-0", "platform-0.test", Category.PLATFORM), "r", at,
                   VerdictKind.ACCESSIBLE, None, None, 1.0, ())  # fmt: skip


def scan_figures(path: str, cache_dir: str, days: int) -> dict[str, float]:
    """Cold, warm and after-late-upload scans, in a fresh process (its own peak RSS)."""
    th = Thresholds()
    since = SINCE + timedelta(seconds=th.warmup_s)  # the scan reads `days` in all, warm-up included
    until = SINCE + timedelta(days=days)
    store = SqliteStore(path)
    cache = GridCache(Path(cache_dir))
    out: dict[str, float] = {}
    for label in ("cold", "warm", "late"):
        if label == "late":  # one verdict uploaded late into the middle of the range
            began = time.perf_counter()
            late = _late_verdict(SINCE + timedelta(days=days // 2, minutes=1), "late-1")
            store.write_batch(verdicts=[late])
            out["late_write"] = time.perf_counter() - began
        began = time.perf_counter()
        changes = evaluate(store, since=since, until=until, th=th, now=until, cache=cache)
        out[label] = time.perf_counter() - began
        out[f"{label}_read"] = cache.stats.read
        out[f"{label}_events"] = len(changes)
        if label == "cold":
            out["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()  # the store's share: every day's grid read, no detection
    day = SINCE
    while day < until:
        read_day(store, day, day + timedelta(days=1), th.step_s)
        day += timedelta(days=1)
    out["store_read"] = time.perf_counter() - began
    began = time.perf_counter()  # a late upload's store cost: the write and its day re-read
    late_at = SINCE + timedelta(days=days // 2, minutes=2)
    store.write_batch(verdicts=[_late_verdict(late_at, "late-2")])
    first = late_at.replace(hour=0, minute=0)
    read_day(store, first, first + timedelta(days=1), th.step_s)
    out["late_store"] = time.perf_counter() - began
    store.close()
    return out


def cycle_figure(path: str, cache_dir: str, days: int) -> dict[str, float]:
    """A watcher cycle as ``Watcher.cycle`` runs it (lookback, warm-up, day cache), after a
    round of fresh data into the current day; the cache is warm from one earlier cycle."""
    th = Thresholds()
    until = SINCE + timedelta(days=days)
    since = until - timedelta(seconds=AnomalySettings().lookback_s)
    store = SqliteStore(path)
    cache = GridCache(Path(cache_dir))
    evaluate(store, since=since, until=until, th=th, now=until, cache=cache)
    round_at = until - timedelta(minutes=4)
    store.write_batch(verdicts=[_late_verdict(round_at, f"round-{i}") for i in range(3)])
    began = time.perf_counter()
    evaluate(store, since=since, until=until, th=th, now=until, cache=cache)
    seconds = time.perf_counter() - began
    store.close()
    return {"cycle": seconds, "read": cache.stats.read}


def _in_child(func: Callable[..., dict[str, float]], *args: object) -> dict[str, float]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(func, args)


def _goal(value: float, goal: float) -> str:
    return f"(goal <= {goal:g}: {'met' if value <= goal else 'NOT met'})"


def time_store_scans(sizes: list[int], days: int, cycle_sizes: list[int], tmp: Path) -> None:
    print(f"end to end from a SQLite store: tyndau anomaly scan over {days} days")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    cells, colds = [], []
    for series in sizes:
        path = tmp / f"store-{series}.sqlite3"
        began = time.perf_counter()
        verdicts, rollup_s = fill_store(path, series, days)
        filled = time.perf_counter() - began
        sizes_of = storage(path)
        total = sum(sizes_of.values())
        per = total / verdicts
        raw = sum(
            v
            for k, v in sizes_of.items()
            if k.startswith(("verdicts", "sqlite_autoindex_verdicts"))
        )
        f = _in_child(scan_figures, str(path), str(tmp / f"grids-{series}"), days)
        path.unlink()
        cells.append(series * days * 86400 / STEP_S)
        colds.append(f["cold"])
        print(
            f"{series:5d} series x {days} d: {verdicts:,d} verdicts, {total / 2**20:,.0f} MiB"
            f" (filled in {filled:.0f} s, of which rollups built in {rollup_s:.0f} s)"
        )
        print(
            f"      storage {per:6.1f} B/verdict in all (verdict rows {raw / verdicts:.1f} B)"
            f" {_goal(per, GOALS['bytes'])}"
        )
        print(
            f"      cold  {f['cold']:7.2f} s ({f['cold_read']:.0f} days read), peak RSS"
            f" {f['rss']:,.0f} MiB {_goal(f['cold'], GOALS['cold'])} s,"
            f" {_goal(f['rss'], GOALS['rss'])} MiB"
        )
        print(
            f"      warm  {f['warm']:7.2f} s ({f['warm_read']:.0f} days read): detection and"
            " merging of cached days alone"
        )
        print(
            f"      store share of the cold scan: {f['store_read']:.2f} s for {days} day grids"
            f" from the rollups ({f['cold'] - f['warm']:.2f} s cold minus warm)"
        )
        print(f"      late upload: write {f['late_write']:.3f} s, write + day re-read"
              f" {f['late_store']:.3f} s {_goal(f['late_store'], GOALS['late'])} s;"
              f" full re-scan {f['late']:.2f} s ({f['late_read']:.0f} day read)")  # fmt: skip
    if len(cells) > 1:
        slope, intercept = np.polyfit(cells, colds, 1)
        print(
            f"cold-scan cost: {1e6 * slope:.3f} s per million series-buckets"
            f" + {intercept:.2f} s; per size: "
            + ", ".join(f"{1e6 * c / n:.3f}" for c, n in zip(colds, cells, strict=True))
        )
    for series in cycle_sizes:
        cycle_days = 3  # the watcher reads lookback (1 d) + warm-up (26 h): three days
        path = tmp / f"cycle-{series}.sqlite3"
        verdicts, _ = fill_store(path, series, cycle_days)
        f = _in_child(cycle_figure, str(path), str(tmp / f"cycle-grids-{series}"), cycle_days)
        path.unlink()
        goal = GOALS.get(f"cycle_{series}", GOALS["cycle_10000"])
        print(
            f"watcher cycle at {series:,d} series ({verdicts:,d} verdicts in 3 days):"
            f" {f['cycle']:.2f} s ({f['read']:.0f} day re-read) {_goal(f['cycle'], goal)} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--no-store", action="store_true", help="skip the end-to-end store scan")
    parser.add_argument(
        "--cycle-sizes", type=int, nargs="*", default=[1000, 10000],
        help="series counts for the watcher-cycle figure (3 days of data each)",
    )  # fmt: skip
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
