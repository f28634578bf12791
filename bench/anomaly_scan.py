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
import resource
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from collector.anomaly.cache import GridCache
from collector.anomaly.classify import detect
from collector.anomaly.series import Grid, build_grid
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
        t = int(rng.integers(300, n - 50))
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


def fill_store(path: Path, series: int, days: int) -> int:
    """A collector SQLite store with ``series`` (group, target) series over ``days``; in SQL."""
    SqliteStore(path).close()  # the collector's own schema
    groups = max(1, series // TARGETS)
    n = days * 86400 // STEP_S
    t0 = int(SINCE.timestamp())
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
        "CREATE TEMP TABLE pair(g, cc, asn, network, target, category);"
        "CREATE TEMP TABLE probe(g, name, k);"
        "CREATE TEMP TABLE t(i INTEGER PRIMARY KEY);"
    )
    rows = []
    for g in range(groups):
        vantage = (COUNTRIES[g % len(COUNTRIES)], 64500 + g // 2, ("fixed", "mobile")[g % 2])
        rows += [(g, *vantage, f"platform-{k}", "platform") for k in range(TARGETS)]
        rows.append((g, *vantage, "control", "control"))
    db.executemany("INSERT INTO pair VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.executemany(
        "INSERT INTO probe VALUES (?, ?, ?)",
        [(g, f"probe-{g}-{k}", k) for g in range(groups) for k in range(PROBES)],
    )
    db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(n)])
    silent = (n * 2 // 3, n * 2 // 3 + 24)  # group 0 silent for two hours
    db.execute("BEGIN")
    db.execute(
        "INSERT INTO verdicts SELECT id, probe_id, cc, asn, network, target, category,"
        " CASE WHEN blocked THEN 'blocked' ELSE 'accessible' END,"
        " CASE WHEN blocked THEN 'dns' ELSE '' END,"
        " CASE WHEN blocked THEN 'dns.nxdomain' ELSE '' END, at_ns, 1.0, '{}' FROM ("
        "  SELECT t.i || '-' || pair.rowid || '-' || probe.k AS id, probe.name AS probe_id,"
        "  pair.cc, pair.asn, pair.network, pair.target, pair.category,"
        "  ((t.i * 7 + pair.rowid * 13 + probe.k) % 100 = 0 AND pair.category = 'platform')"
        "  AS blocked, (? + t.i * ? + 30 + probe.k) * 1000000000 AS at_ns"
        "  FROM t JOIN pair JOIN probe ON probe.g = pair.g"
        "  WHERE NOT (pair.g = 0 AND t.i >= ? AND t.i < ?))",
        [t0, STEP_S, *silent],
    )
    db.execute(
        "INSERT INTO heartbeats SELECT t.i || '-' || probe.name, probe.name, pair.cc, pair.asn,"
        " pair.network, (? + t.i * ? + 20 + probe.k) * 1000000000, t.i * 300.0, 0, '{}'"
        " FROM t JOIN pair JOIN probe ON probe.g = pair.g WHERE pair.target = 'control'"
        " AND NOT (pair.g = 0 AND t.i >= ? AND t.i < ?)",
        [t0, STEP_S, *silent],
    )
    db.executemany(
        "INSERT INTO day_stamps VALUES (?, abs(random()))",
        [(t0 + d * 86400,) for d in range(days)],
    )
    db.execute("COMMIT")
    count: int = db.execute("SELECT count(*) FROM verdicts").fetchone()[0]
    db.close()
    return count


def time_store_scan(series: int, days: int, tmp: Path, *, curve: bool = False) -> None:
    path = tmp / f"store-{series}-{days}.sqlite3"
    began = time.perf_counter()
    verdicts = fill_store(path, series, days)
    filled = time.perf_counter() - began
    th = Thresholds()
    since = SINCE + timedelta(seconds=th.warmup_s)  # the scan reads `days` in all, warm-up included
    until = SINCE + timedelta(days=days)
    store = SqliteStore(path)
    cache = GridCache(tmp / f"grids-{series}-{days}")
    figures = []
    for label in ("cold", "warm", "late"):
        if label == "late":  # one verdict uploaded late into the middle of the range
            late = Verdict("late-1", "probe-0-0", Vantage(COUNTRIES[0], 64500, "fixed"),
                           TargetRef("platform-0", "platform-0.test", Category.PLATFORM), "r",
                           SINCE + timedelta(days=days // 2, minutes=1), VerdictKind.ACCESSIBLE,
                           None, None, 1.0, ())  # fmt: skip
            store.write_batch(verdicts=[late])
        began = time.perf_counter()
        changes = evaluate(store, since=since, until=until, th=th, now=until, cache=cache)
        seconds = time.perf_counter() - began
        figures.append(f"{label:4s} {seconds:7.2f} s ({cache.stats.read:2d} days read from the"
                       f" store, {len(changes)} events written)")  # fmt: skip
    if curve:  # warm scans of shorter ranges ending at the same time: the cost over time
        for part in (days / 4, days / 2, days):
            start = until - timedelta(days=part) + timedelta(seconds=th.warmup_s)
            began = time.perf_counter()
            evaluate(store, since=start, until=until, th=th, now=until, cache=cache)
            figures.append(f"warm {time.perf_counter() - began:7.2f} s over {part:g} days")
    store.close()
    size = path.stat().st_size / 2**20
    path.unlink()
    print(f"{series:5d} series x {days} d: {verdicts:,d} verdicts in the store ({size:,.0f} MiB,"
          f" filled in {filled:.0f} s)")  # fmt: skip
    for line in figures:
        print(f"      {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--no-store", action="store_true", help="skip the end-to-end store scan")
    args = parser.parse_args()
    if not args.no_store:
        print(f"end to end from a SQLite store: tyndau anomaly scan over {args.days:g} days")
        with tempfile.TemporaryDirectory(prefix="tyndau-scan-") as tmp:
            for size in args.sizes:
                curve = size == max(args.sizes)
                time_store_scan(size, int(args.days), Path(tmp), curve=curve)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process: {peak:,.0f} MiB")
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
