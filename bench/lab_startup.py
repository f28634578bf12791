"""Lab start and teardown times (median of 3): the lab must start in <= 10 s and go in <= 5 s.

Run as root: ``.venv/bin/python bench/lab_startup.py``. Builds a private lab (prefix "tbench").
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab import Lab

RUNS = 3


def main() -> int:
    starts: list[float] = []
    stops: list[float] = []
    for _ in range(RUNS):
        lab = Lab(prefix="tbench")
        began = time.monotonic()
        lab.up()
        ready = time.monotonic()
        try:
            probe = lab.run("fixed", ["dig", "+short", "+tries=1", "+time=2", "example.com"])
            if probe.stdout.strip() != lab.address_of("example"):
                print(f"lab not working: dig said {probe.stdout!r}", file=sys.stderr)
                return 1
        finally:
            stopping = time.monotonic()
            lab.down()
        starts.append(ready - began)
        stops.append(time.monotonic() - stopping)
    print(
        f"lab start    median {statistics.median(starts):6.2f} s  (runs: "
        f"{', '.join(f'{s:.2f}' for s in starts)}; limit 10 s)"
    )
    print(
        f"lab teardown median {statistics.median(stops):6.2f} s  (runs: "
        f"{', '.join(f'{s:.2f}' for s in stops)}; limit 5 s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
