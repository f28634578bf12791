"""The background process behind ``tyndau lab up``: builds the lab, plays the timeline, waits.

It owns the Lab, so SIGTERM (sent by ``tyndau lab down``) tears everything down. It writes
``ready`` in the lab's state directory once the events at offset 0 are applied.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from lab.internet import Lab
from lab.nodes import STATE_ROOT
from lab.scenario import load_scenario
from probe.shipped import DEFAULT_TARGETS


def _terminate(signum: int, frame: FrameType | None) -> None:
    del frame
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.player")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--scenario", type=Path, required=True)
    parser.add_argument("--speed", type=float, required=True)
    parser.add_argument("--targets", type=Path, default=DEFAULT_TARGETS)
    parser.add_argument("--state-root", type=Path, default=STATE_ROOT)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    scenario = load_scenario(args.scenario, targets_file=args.targets)
    lab = Lab(prefix=args.prefix, targets_file=args.targets, state_root=args.state_root)
    with lab:

        def started() -> None:
            (lab.state / "ready").write_text("ready\n", encoding="utf-8")

        def applied(event: object, elapsed: float) -> None:
            print(f"[{elapsed:8.1f}s] {event}", flush=True)

        lab.play(scenario, speed=args.speed, on_event=applied, on_started=started)
        print("timeline played to its end; waiting for `tyndau lab down`", flush=True)
        while True:
            signal.pause()


if __name__ == "__main__":
    sys.exit(main())
