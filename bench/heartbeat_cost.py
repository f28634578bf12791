"""What ``probe run --no-heartbeats`` costs the shutdown detector (docs/volunteers.md).

python bench/heartbeat_cost.py [--days 30] [--events 40] [--seed 0]

Simulates networks of 1, 2, 3, 5 and 8 always-on probes whose rounds follow the daemon's
schedule (every 300 s plus 0..30 s of jitter that carries over, as APScheduler's interval
trigger does) and whose heartbeats come every 60 s, then runs the real detector
(collector/anomaly: build_grid, detect) on the fully backfilled history, with and without the
heartbeats (``on``), with none (``off``: every probe runs ``--no-heartbeats``) and with every
other probe's (``half``). Prints, per network size: false shutdown events in ``--days`` of
quiet, and recall and median onset delay (buckets) of ``--events`` 20-60 minute cuts.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from collector.anomaly.classify import Detection, detect
from collector.anomaly.series import build_grid
from collector.anomaly.thresholds import Thresholds
from collector.records import EventKind, HeartbeatBucket, VerdictBucket

STEP_S = 300
ROUND_S, JITTER_S, BEAT_S = 300.0, 30.0, 60.0
SINCE = datetime(2022, 1, 1, tzinfo=UTC)
WARMUP_DAYS = 1
TARGETS = (("facebook", "platform"), ("example", "control"))
SIZES = (1, 2, 3, 5, 8)


@dataclass(frozen=True)
class Cut:
    asn: int
    start: float  # seconds since SINCE
    end: float


@dataclass
class Tally:
    """Verdicts of one network, target and bucket."""

    probes: set[int] = field(default_factory=set)
    accessible: int = 0
    offline: int = 0


def _start(t: int) -> datetime:
    return SINCE + timedelta(seconds=t * STEP_S)


def history(
    size: int, asn: int, days: float, cuts: list[Cut], rng: random.Random, *, beats: str
) -> tuple[list[VerdictBucket], list[HeartbeatBucket]]:
    """Buckets of one network (``asn``) of ``size`` probes: verdicts per round, heartbeats."""
    horizon = days * 86400
    counts: dict[tuple[int, str, str], Tally] = defaultdict(Tally)
    heard: dict[int, set[int]] = defaultdict(set)
    for probe in range(size):
        at = rng.uniform(0, ROUND_S)
        while at < horizon:
            offline = any(c.asn == asn and c.start <= at < c.end for c in cuts)
            for name, category in TARGETS:
                tally = counts[(int(at // STEP_S), name, category)]
                tally.probes.add(probe)
                if offline:
                    tally.offline += 1
                else:
                    tally.accessible += 1
            at += ROUND_S + rng.uniform(0, JITTER_S)
        if beats == "on" or (beats == "half" and probe % 2 == 0):
            beat = rng.uniform(0, BEAT_S)
            while beat < horizon:
                heard[int(beat // STEP_S)].add(probe)
                beat += BEAT_S
    verdicts = [
        VerdictBucket(
            "KZ",
            asn,
            "fixed",
            name,
            category,
            _start(t),
            accessible=tally.accessible,
            offline=tally.offline,
            probes=len(tally.probes),
        )
        for (t, name, category), tally in counts.items()
    ]
    hbs = [HeartbeatBucket("KZ", asn, "fixed", _start(t), len(p), len(p)) for t, p in heard.items()]
    return verdicts, hbs


def run(days: float, cuts: list[Cut], seed: int, *, beats: str) -> list[Detection]:
    rng = random.Random(seed)
    verdicts: list[VerdictBucket] = []
    heartbeats: list[HeartbeatBucket] = []
    for size in SIZES:
        v, h = history(size, 1000 + size, days, cuts, rng, beats=beats)
        verdicts += v
        heartbeats += h
    until = SINCE + timedelta(days=days)
    grid = build_grid(verdicts, heartbeats, since=SINCE, until=until, step_s=STEP_S)
    return detect(grid, Thresholds(), judge_from=WARMUP_DAYS * 86400 // STEP_S)


def shutdowns(found: list[Detection], asn: int) -> list[Detection]:
    return [d for d in found if d.kind is EventKind.SHUTDOWN and d.scope.asn in (asn, None)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cuts = []
    for i in range(args.events):  # spaced a day apart so that cuts never overlap
        start = (WARMUP_DAYS + i * (args.days - WARMUP_DAYS - 1) / args.events) * 86400
        start += rng.uniform(0, 12 * 3600)
        cuts.append(Cut(1000 + SIZES[i % len(SIZES)], start, start + rng.uniform(20, 60) * 60))
    for beats in ("on", "off", "half"):
        quiet = run(args.days, [], args.seed, beats=beats)
        noisy = run(args.days, cuts, args.seed, beats=beats)
        for size in SIZES:
            asn = 1000 + size
            false = len(shutdowns(quiet, asn))
            mine = [c for c in cuts if c.asn == asn]
            delays = []
            for cut in mine:
                begin = SINCE + timedelta(seconds=cut.start)
                end = SINCE + timedelta(seconds=cut.end)
                hits = [
                    d for d in shutdowns(noisy, asn) if d.start < end and (d.end or end) > begin
                ]
                if hits:
                    delays.append((min(d.opened for d in hits) - begin).total_seconds() / STEP_S)
            median = f"{statistics.median(delays):.1f}" if delays else "-"
            print(
                f"heartbeats={beats:4s} probes={size}: "
                f"false events in {args.days:g} quiet days={false}, "
                f"recall={len(delays)}/{len(mine)}, onset median={median} buckets"
            )


if __name__ == "__main__":
    main()
