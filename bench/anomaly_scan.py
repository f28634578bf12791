"""Speed of an anomaly scan: series x 30 days at 5-minute steps, for three sizes.

python bench/anomaly_scan.py [--days 30] [--sizes 250 500 1000]
A "series" here is one vantage group (cc, asn, network) with one platform target, so each size
runs the silence detector and the failure detector over that many rows each. Arrays are filled
directly (noise plus a few events); a second table times the pivot from bucket records, which
the stores' GROUP BY queries feed, per million buckets. Goal: 1,000 x 30 days <= 10 s, linear.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from collector.anomaly.classify import detect
from collector.anomaly.series import Grid, build_grid
from collector.anomaly.settings import Thresholds
from collector.records import HeartbeatBucket, VerdictBucket

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
        SINCE, STEP_S, n, leaves, heard, zeros.copy(), heard.copy(), np.full((series, n), 1.0),
        [(i, "target") for i in range(series)], heard - blocked, blocked, zeros.copy(), heard,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000])
    args = parser.parse_args()
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
