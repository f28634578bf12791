"""Server time of the researchers' country page: 20 targets x 3 networks x 30 days on SQLite.

python bench/web_page.py [--days 30] [--targets 20] [--round-minutes 5] [--repeat 5]
                         [--store PATH]

A SQLite collector store is filled through the Store API (one probe per network, a round every
5 minutes, heartbeats, a DNS block and a mobile shutdown backfilled as offline), then
``GET /country/ZZ`` is timed in-process (FastAPI's TestClient: the server's time, no network)
at the quick ranges 24 h, 7 d and 30 d, plus the overview and an event page: the first request
(cold) and the median of the next ones (warm: whole days from collector/web/cache.py). Goal: a
country page under 300 ms server time. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from collector.app import create_app
from collector.records import Event, EventKind, EventState, Scope
from collector.settings import CollectorSettings
from collector.store import open_store
from probe.ids import uuid7
from probe.model import (
    Category,
    Heartbeat,
    TargetRef,
    Vantage,
    Verdict,
    VerdictKind,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/support is not installed
from tests.support.records import DNS_NXDOMAIN, heartbeat, verdict

END = datetime(2026, 1, 31, tzinfo=UTC)
NETWORKS = (
    Vantage("ZZ", 64500, "fixed"),
    Vantage("ZZ", 64501, "mobile"),
    Vantage("ZZ", 64502, "satellite"),
)
BATCH = 20_000


def fill(path: Path, *, days: int, targets: int, round_minutes: float) -> int:
    """The store: returns the verdicts written."""
    store = open_store(f"sqlite:{path}")
    refs = [TargetRef(f"platform-{i}", f"p{i}.test", Category.PLATFORM) for i in range(targets)]
    refs[-1] = TargetRef("control", "control.test", Category.CONTROL)
    start = END - timedelta(days=days)
    block = (END - timedelta(days=3), END - timedelta(days=3) + timedelta(hours=6))
    cut = (END - timedelta(days=2), END - timedelta(days=2) + timedelta(hours=4))
    verdicts: list[Verdict] = []
    beats: list[Heartbeat] = []
    written = 0
    at = start
    step = timedelta(minutes=round_minutes)
    while at < END:
        ms = int(at.timestamp() * 1000)
        for n, vantage in enumerate(NETWORKS):
            probe = f"bench-{n}"
            beats.append(heartbeat(uuid7(unix_ms=ms), probe, vantage, at))
            offline = vantage.network == "mobile" and cut[0] <= at < cut[1]
            for ref in refs:
                blocked = ref.name == "platform-0" and block[0] <= at < block[1]
                kind = VerdictKind.BLOCKED if blocked else VerdictKind.ACCESSIBLE
                verdicts.append(
                    verdict(
                        uuid7(unix_ms=ms),
                        probe,
                        vantage,
                        ref,
                        at,
                        VerdictKind.OFFLINE if offline else kind,
                        blocked=DNS_NXDOMAIN if blocked and not offline else None,
                        confidence=0.9,
                    )
                )
        if len(verdicts) >= BATCH:
            store.write_batch(verdicts=verdicts, heartbeats=beats)
            written += len(verdicts)
            verdicts, beats = [], []
        at += step
    store.write_batch(verdicts=verdicts, heartbeats=beats)
    written += len(verdicts)
    store.write_events(
        [
            Event(
                "bench-block",
                EventKind.BLOCKING,
                Scope("ZZ", None, None, 3),
                "platform-0",
                "dns",
                *block,
                0.9,
                EventState.RESOLVED,
            ),
            Event(
                "bench-cut",
                EventKind.SHUTDOWN,
                Scope("ZZ", 64501, "mobile", 1),
                None,
                None,
                *cut,
                0.9,
                EventState.RESOLVED,
            ),
        ]
    )
    store.close()
    return written


def timed(client: TestClient, url: str, repeat: int) -> tuple[float, float, float, int]:
    """Milliseconds of the first request (cold: the page's day cache empty for this range),
    then the median and worst of ``repeat`` more (warm), and the page's size."""
    began = time.perf_counter()
    size = len(client.get(url).content)
    cold = (time.perf_counter() - began) * 1000
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return cold, statistics.median(times), max(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--round-minutes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", type=Path, help="reuse (or fill once) this SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or Path(tmp) / "collector.sqlite3"
        if not path.exists():
            began = time.perf_counter()
            count = fill(
                path, days=args.days, targets=args.targets, round_minutes=args.round_minutes
            )
            print(
                f"store: {count} verdicts ({args.targets} targets x {len(NETWORKS)} networks x "
                f"{args.days} days, a round every {args.round_minutes:g} min) written in "
                f"{time.perf_counter() - began:.1f} s, {path.stat().st_size / 1e6:.0f} MB"
            )
        store = open_store(f"sqlite:{path}")
        app = create_app(
            CollectorSettings(operator_token="bench-operator-token-0123456789"), store, targets=[]
        )
        until = "until=" + END.strftime("%Y-%m-%d+%H:%M")
        pages = [
            ("country, 24 h", f"/country/ZZ?range=24h&{until}"),
            ("country, 7 d", f"/country/ZZ?range=7d&{until}"),
            ("country, 30 d", f"/country/ZZ?range=30d&{until}"),
            ("country, 30 d, mobile", f"/country/ZZ?range=30d&network=mobile&{until}"),
            ("overview, 30 d", f"/?range=30d&{until}"),
            ("event (shutdown)", "/event/bench-cut"),
        ]
        with TestClient(app) as client:
            print(f"{'page':24} {'cold ms':>8} {'warm median':>12} {'warm worst':>11} {'KiB':>6}")
            for name, url in pages:
                cold, median, worst, size = timed(client, url, args.repeat)
                print(f"{name:24} {cold:8.0f} {median:12.0f} {worst:11.0f} {size / 1024:6.0f}")
        store.close()
    print("goal: a country page under 300 ms server time (cold: the store aggregates raw rows;")
    print("warm: whole days from the page's day cache, re-read when the store's day stamp moves)")


if __name__ == "__main__":
    main()
