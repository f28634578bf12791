"""The detector on sparse, heartbeat-less histories: imported OONI data, as users measure it.

python bench/anomaly_sparse.py [--seeds 1-3] [--days 30]

1. A real event: twitter.com from MTN Uganda, Dec 2025 - Feb 2026 (OONI's own test data for its
   event detector, tests/anomaly/data/ooni-ug-2026-twitter.csv): the events ``tyndau anomaly
   scan`` writes, against the block the data show (TCP failures from Jan 18 05:46 UTC to Jan 23
   21:32; nothing else).
2. Noise only (bench/synth/ooni_sparse.py): the events written in each seed's ``--days``, for
   the MILD users (targets failing up to 15% of the time, up to 8% of runs failing whole) and the
   HARSH ones (up to 30% and 15%, half the bad runs rerun 2-6 times in a row), and the HARSH
   ones whose runs measure 10 test-list sites besides the platforms, as OONI's do ("harsh+sites":
   a run whose other sites all failed is the user's network, collector/anomaly/reports.py).
   Goal: 0.

Each history is written into a fresh SQLite store and scanned by the CLI, as a researcher would.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth.ooni_sparse import HARSH, HARSH_SITES, MILD, analysis_verdicts, noise_history, read_rows

from collector.store.sqlite import SqliteStore
from probe.model import Verdict

TYNDAU = str(Path(sys.executable).parent / "tyndau")


def scan(records: list[Verdict], since: str, until: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.db"
        store = SqliteStore(path)
        try:
            store.write_batch(verdicts=records)
        finally:
            store.close()
        command = [TYNDAU, "anomaly", "scan", "--store", f"sqlite:{path}", "--no-cache"]
        command += ["--state-dir", f"{tmp}/state", "--since", since, "--until", until]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=1800)
    return [line for line in done.stdout.splitlines() if " events written" not in line]


def seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-3", help="noise seeds, e.g. 1-3 (default)")
    parser.add_argument("--days", type=int, default=30, help="days of each noise history")
    args = parser.parse_args()
    began = time.monotonic()
    print("[real] twitter.com, MTN Uganda (AS20294), 2025-12-03 .. 2026-02-12")
    print("  expected: one blocking of x, method tcp, Jan 18 ~05:46 -> Jan 23 ~21:32 UTC")
    real = analysis_verdicts(read_rows())
    for line in scan(real, "2025-12-03T00:00:00Z", "2026-02-12T00:00:00Z"):
        print("  found:   ", line[37:])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    until = f"2026-01-{1 + args.days:02d}T00:00:00Z" if args.days < 31 else "2026-01-31T00:00:00Z"
    for name, noise in (("mild", MILD), ("harsh", HARSH), ("harsh+sites", HARSH_SITES)):
        counts = []
        for seed in seeds(args.seeds):
            records = noise_history(seed, start, min(args.days, 30), noise)
            found = scan(records, "2026-01-01T00:00:00Z", until)
            counts.append(len(found))
            print(f"[noise {name}] seed {seed}: {len(records)} verdicts, {len(found)} events")
        print(f"[noise {name}] events per {min(args.days, 30)} days: {counts} (goal 0)")
    print(f"[time] {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
