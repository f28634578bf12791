"""``tyndau probe once``: measure every target once from here and print the results."""

from __future__ import annotations

import argparse
import asyncio
import logging

from probe.model import VerdictKind
from probe.report import failed_measurements, json_lines, verdict_table
from probe.round import run_round
from probe.settings import settings_for_command
from probe.targets import load_targets


def main(args: argparse.Namespace) -> int:
    """Run one round; exit 0 when it ran (whatever it found), 2 on bad configuration."""
    settings = settings_for_command(args)
    targets = load_targets(settings.targets_file)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per GET is noise here
    result = asyncio.run(
        run_round(settings, probe_id=settings.probe_id or "local", targets=targets)
    )
    if args.json:
        for line in json_lines(result.measurements, result.verdicts):
            print(line)
        return 0
    print(verdict_table(result.verdicts))
    failed = list(failed_measurements(result.measurements))
    if failed:
        print("\nfailed measurements:")
        print("\n".join(failed))
    blocked = sum(v.verdict is VerdictKind.BLOCKED for v in result.verdicts)
    print(f"\nround {result.round_id}: {len(result.verdicts)} targets, {blocked} blocked")
    return 0
