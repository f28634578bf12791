"""The arguments of ``tyndau lab`` and ``tyndau demo`` (handlers in lab/, named as strings)."""

from __future__ import annotations

import argparse
from pathlib import Path

from probe.cli_args import Sub, command, group

PLAYS = (
    ("up", "build the lab and start playing a scenario in the background"),
    ("run", "build the lab, play a scenario to its end, show what a vantage sees, tear down"),
)


def add_lab_commands(root: Sub) -> None:
    sub = group(
        root,
        "lab",
        "the censorship lab: a simulated internet (needs root)",
        "The censorship lab: a simulated internet built from network namespaces (needs root).",
    )
    for name, help_text in PLAYS:
        play = command(sub, name, f"lab.cli:{name}", help_text)
        play.add_argument(
            "scenario", help="a name from config/scenarios/ or a path to a scenario file"
        )
        play.add_argument(
            "--speed",
            type=float,
            default=None,
            help="play the timeline this many times faster (default: the scenario's compression)",
        )
    command(sub, "down", "lab.cli:down", "remove the lab, including leftovers of a crashed run")
    status = command(sub, "status", "lab.cli:status", "show the lab's nodes and active actions")
    status.add_argument("--json", action="store_true")
    execute = command(
        sub,
        "exec",
        "lab.cli:exec_in_node",
        "run a command inside a lab node (exit status passed through)",
    )
    execute.add_argument("node", help="a vantage (fixed, mobile), collector, isp or internet")
    execute.add_argument("cmd", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")


def add_demo_command(root: Sub) -> None:
    demo = command(
        root,
        "demo",
        "lab.demo.run:main",
        "the whole system in the lab: Kazakhstan, January 2022, in minutes",
    )
    demo.add_argument(
        "--minutes",
        type=float,
        default=3.0,
        help="how long the compressed replay takes (default 3)",
    )
    demo.add_argument("--store", metavar="URL", help="influxdb:URL to use InfluxDB, else SQLite")
    demo.add_argument(
        "--output",
        type=Path,
        default=Path("demo-output"),
        help="where the chart and summary are kept (default ./demo-output)",
    )
    demo.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the store, copied into 2022 scenario time (DIR/kz-2022.sqlite3), and the "
        "charts and summary in DIR (instead of --output)",
    )
