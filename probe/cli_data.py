"""The arguments of the commands that read and move stored data: ``tyndau timeline``,
``import ooni`` and ``export ooni``. Handlers are named as strings: the probe imports nothing of
the collector (tests/test_architecture.py)."""

from __future__ import annotations

from pathlib import Path

from probe.cli_args import STORE_URL, Sub, command, group, range_flags, repeatable, store_flags

OONI_CONFIG = "collector configuration file (its store)"


def add_timeline_command(root: Sub) -> None:
    timeline = command(
        root,
        "timeline",
        "collector.timeline_cli:main",
        "availability per target over time, with events",
    )
    store_flags(timeline)
    timeline.add_argument("--api", metavar="URL", help="read from a collector's HTTP API instead")
    timeline.add_argument("--cc", required=True, help="country (ISO 3166-1 alpha-2)")
    timeline.add_argument("--asn", type=int, help="autonomous system number")
    timeline.add_argument("--network", help="vantage network, e.g. mobile or fixed")
    timeline.add_argument("--target", help="one target name")
    range_flags(timeline, "start (RFC 3339 UTC)", "end (RFC 3339 UTC)", required=True)
    timeline.add_argument("--step", default="5m", help="bucket size, e.g. 5m, 1h (default 5m)")
    timeline.add_argument("--format", choices=("table", "csv", "json", "png"), default="table")
    timeline.add_argument(
        "--output", type=Path, help="file for --format png (default timeline.png)"
    )


def add_ooni_commands(root: Sub) -> None:
    """``tyndau import ooni`` and ``tyndau export ooni`` (collector/ooni/, docs/ooni.md)."""
    sub = group(
        root,
        "import",
        "read other tools' measurements",
        "Read other tools' data.",
        metavar="FORMAT",
    )
    read = command(
        sub,
        "ooni",
        "collector.ooni.cli:import_ooni",
        "judge OONI measurements (.json, .jsonl, .jsonl.gz, directories) with our verdicts",
    )
    read.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories")
    read.add_argument("--json", action="store_true", help="one verdict line per measurement")
    store_flags(read, config_help=OONI_CONFIG, store_help=f"store them too: {STORE_URL}")
    range_flags(
        read,
        "only measurements from (RFC 3339 UTC)",
        "only measurements before (RFC 3339 UTC)",
        required=False,
    )
    read.add_argument("--cc", help="only this probe_cc")
    read.add_argument("--test", help="only this test_name, e.g. web_connectivity")
    read.add_argument("--targets", type=Path, help="targets file (default config/targets.toml)")
    repeatable(
        read,
        "--allow-net",
        "addresses in this range are not bogons (repeatable; labs: 198.18.0.0/15)",
        metavar="CIDR",
    )
    sub = group(
        root,
        "export",
        "write our measurements in other formats",
        "Write our data.",
        metavar="FORMAT",
    )
    write = command(
        sub,
        "ooni",
        "collector.ooni.cli:export_ooni",
        "stored measurements as OONI JSON lines (web_connectivity-like, pseudonymous)",
    )
    store_flags(write, config_help=OONI_CONFIG)
    range_flags(
        write,
        "start (RFC 3339 UTC; default: everything)",
        "end (RFC 3339 UTC; default: now)",
        required=False,
    )
    write.add_argument("--cc", help="only this country")
    write.add_argument("--output", type=Path, help="file (.gz: gzip'd); default: stdout")
