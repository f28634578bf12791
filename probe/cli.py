"""The ``tyndau`` command line: one entry point, one sub-command per role.

This module only declares arguments and dispatches. Each handler lives in the module of its role
and is imported when its command runs, so ``tyndau probe ...`` never imports the collector's or the
lab's dependencies.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from probe import __version__
from probe.command import CommandError
from probe.configfile import ConfigError
from probe.logs import setup_logging

Handler = Callable[[argparse.Namespace], int]
log = logging.getLogger("tyndau")

EXTRAS = {
    "collector": "collector",
    "lab": "lab",
    "scapy": "raw",
    "fastapi": "collector",
    "influxdb_client": "collector",
    "numpy": "collector",
    "uvicorn": "collector",
    "matplotlib": "collector",
    "pydantic": "collector",
}


def lazy(target: str) -> Handler:
    """A handler that imports ``module:function`` only when its command runs."""

    def run(args: argparse.Namespace) -> int:
        module_name, _, function_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            if exc.name == module_name:
                raise CommandError(f"'{args.command_path}' is not built yet") from None
            if missing in EXTRAS:
                raise CommandError(
                    f"'{args.command_path}' needs the '{EXTRAS[missing]}' extra: "
                    f"pip install 'tyndau[{EXTRAS[missing]}]'"
                ) from None
            raise
        handler: Handler = getattr(module, function_name)
        return handler(args)

    return run


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    target: str,
    help_text: str,
    path: str,
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(func=lazy(target), command_path=f"tyndau {path}")
    return parser


def _add_probe_commands(root: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = root.add_parser(
        "probe",
        help="run measurements from this vantage point",
        description="Run measurements from this vantage point.",
    )
    sub = group.add_subparsers(dest="probe_command", required=True, metavar="COMMAND")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config", type=Path, help="probe configuration file (TOML)")
        parser.add_argument(
            "--targets", type=Path, help="targets file (TOML); default: config/targets.toml"
        )
        parser.add_argument(
            "--resolver",
            action="append",
            default=[],
            metavar="ADDR",
            help="also query this resolver (repeatable); ADDR is an IP, "
            "IP:PORT, or https://... for DNS over HTTPS",
        )
        parser.add_argument(
            "--ca-bundle", type=Path, help="extra CA certificates to trust (PEM), e.g. the lab's CA"
        )
        parser.add_argument(
            "--allow-net",
            action="append",
            default=[],
            metavar="CIDR",
            help="treat addresses in CIDR as ordinary, not bogons (repeatable)",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            metavar="SECONDS",
            help="per-step timeout (DNS, TCP, TLS, HTTP each)",
        )

    once = _command(
        sub, "once", "probe.once:main", "measure every target once and print results", "probe once"
    )
    common(once)
    once.add_argument(
        "--json", action="store_true", help="one JSON object per line: measurements, then verdicts"
    )
    run = _command(
        sub,
        "run",
        "probe.daemon:main",
        "run the probe daemon: scheduled rounds, heartbeats, uploads",
        "probe run",
    )
    common(run)
    run.add_argument(
        "--no-heartbeats",
        action="store_true",
        help="send no heartbeats (high-risk places: the collector then hears the probe only "
        "through its rounds; see docs/volunteers.md)",
    )
    status = _command(
        sub,
        "status",
        "probe.status:main",
        "show the last round, outbox depth and next run",
        "probe status",
    )
    status.add_argument("--config", type=Path, help="probe configuration file (TOML)")
    status.add_argument("--json", action="store_true", help="print status as JSON")
    register = _command(
        sub,
        "register",
        "probe.register:main",
        "register with a collector and store the credentials (mode 0600)",
        "probe register",
    )
    register.add_argument("--config", type=Path, help="probe configuration file (TOML)")
    register.add_argument("--collector", required=True, metavar="URL", help="collector base URL")
    register.add_argument(
        "--token",
        metavar="T",
        help="enrolment token from the collector's operator (tyndau collector enrol-token "
        "create), if the collector needs one",
    )
    register.add_argument(
        "--replace",
        action="store_true",
        help="become a new probe although credentials exist (refused while records wait)",
    )
    doctor = _command(
        sub,
        "doctor",
        "probe.doctor:main",
        "check what this probe can measure here (resolvers, raw capture, CAP_NET_RAW, libpcap, "
        "IPv6, control endpoint), each with its fix; exit 1 when a check fails",
        "probe doctor",
    )
    common(doctor)
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON (for CI)")


def _add_collector_commands(root: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = root.add_parser(
        "collector",
        help="receive, store and serve measurements",
        description="Receive, store and serve measurements.",
    )
    sub = group.add_subparsers(dest="collector_command", required=True, metavar="COMMAND")
    serve = _command(
        sub,
        "serve",
        "collector.serve:main",
        "serve the ingest API, query API, web page and control endpoint",
        "collector serve",
    )
    serve.add_argument("--config", type=Path, help="collector configuration file (TOML)")
    serve.add_argument("--listen", metavar="HOST:PORT", help="address to listen on")
    serve.add_argument(
        "--store", metavar="URL", help="sqlite:PATH or influxdb:URL (overrides the config file)"
    )
    serve.add_argument(
        "--init",
        action="store_true",
        help="make a new SQLite store if none exists (first run); without it a missing store "
        "is an error, so a mistyped path is never a new empty store",
    )
    add = _command(
        sub,
        "add-probe",
        "collector.admin:add_probe",
        "create a probe's id and token and print them",
        "collector add-probe",
    )
    add.add_argument("name", help="a label for the probe (kept for the operator only)")
    add.add_argument("--config", type=Path, help="collector configuration file (TOML)")
    add.add_argument("--store", metavar="URL", help="sqlite:PATH or influxdb:URL")
    add.add_argument(
        "--create", action="store_true", help="make a new SQLite store if none exists at PATH"
    )
    _add_enrol_commands(sub)


def _add_enrol_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    enrol = sub.add_parser(
        "enrol-token",
        help="tokens volunteers register probes with (the operator token stays with you)",
        description="Enrolment tokens: limited in uses and time, stored hashed, revocable.",
    )
    actions = enrol.add_subparsers(dest="enrol_command", required=True, metavar="ACTION")
    target = "collector.admin:enrol_token"
    create = _command(
        actions, "create", target, "make a token and print it once", "collector enrol-token create"
    )
    create.add_argument("--uses", type=int, default=1, help="probes it may register (default 1)")
    create.add_argument("--expires", default="7d", help="lifetime: 30m, 12h, 7d, 2w (default 7d)")
    create.add_argument("--note", default="", help="who it is for (kept for the operator only)")
    listing = _command(
        actions,
        "list",
        target,
        "show every token's uses, expiry and state",
        "collector enrol-token list",
    )
    revoke = _command(
        actions, "revoke", target, "revoke a token by its id", "collector enrol-token revoke"
    )
    revoke.add_argument("id", help="enrolment_id from create or list")
    for parser in (create, listing, revoke):
        parser.add_argument("--config", type=Path, help="collector configuration file (TOML)")
        parser.add_argument("--store", metavar="URL", help="sqlite:PATH or influxdb:URL")


def _add_anomaly_commands(root: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = root.add_parser(
        "anomaly",
        help="detect shutdowns and blocking, send alerts",
        description="Detect shutdowns and blocking, send alerts.",
    )
    sub = group.add_subparsers(dest="anomaly_command", required=True, metavar="COMMAND")
    watch = _command(
        sub,
        "watch",
        "collector.anomaly.cli:watch",
        "evaluate recent data periodically and send alerts",
        "anomaly watch",
    )
    watch.add_argument("--config", type=Path, help="collector configuration file (TOML)")
    watch.add_argument("--store", metavar="URL", help="sqlite:PATH or influxdb:URL")
    watch.add_argument("--interval", type=float, metavar="SECONDS", help="time between cycles")
    watch.add_argument(
        "--alertmanager",
        action="append",
        default=[],
        metavar="URL",
        help="Alertmanager base URL (v2 API); repeat for every node of a cluster",
    )
    watch.add_argument(
        "--webhook", action="append", default=[], metavar="URL", help="generic JSON webhook"
    )
    watch.add_argument(
        "--slack-webhook", action="append", default=[], metavar="URL", help="Slack-style webhook"
    )
    watch.add_argument(
        "--cc", action="append", default=[], help="only these countries (repeatable; '*': outages)"
    )
    watch.add_argument(
        "--shard",
        metavar="K/N",
        help="only the countries of shard K of N (0 <= K < N, md5 of the country mod N)",
    )
    watch.add_argument(
        "--replica",
        metavar="NAME",
        help="one of several watchers of the same countries: Alertmanager only, no webhooks",
    )
    watch.add_argument(
        "--state-dir",
        type=Path,
        help="alert ledger and the day-grid cache"
        " (default: [anomaly] state_dir, else /var/lib/tyndau/anomaly)",
    )
    watch.add_argument("--once", action="store_true", help="run one cycle and exit")
    scan = _command(
        sub,
        "scan",
        "collector.anomaly.cli:scan",
        "detect events over a past range (idempotent)",
        "anomaly scan",
    )
    scan.add_argument("--config", type=Path, help="collector configuration file (TOML)")
    scan.add_argument("--store", metavar="URL", help="sqlite:PATH or influxdb:URL")
    scan.add_argument("--since", required=True, help="start (RFC 3339 UTC, e.g. 2022-01-04T00:00Z)")
    scan.add_argument("--until", required=True, help="end (RFC 3339 UTC)")
    scan.add_argument(
        "--state-dir",
        type=Path,
        help="day-grid cache location (default: [anomaly] state_dir, else /var/lib/tyndau/anomaly)",
    )
    scan.add_argument(
        "--no-cache",
        action="store_true",
        help="read every day from the store, neither using nor updating the day-grid cache",
    )


def _add_timeline_command(root: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    timeline = _command(
        root,
        "timeline",
        "collector.timeline_cli:main",
        "availability per target over time, with events",
        "timeline",
    )
    timeline.add_argument("--config", type=Path, help="collector configuration file (TOML)")
    timeline.add_argument("--store", metavar="URL", help="sqlite:PATH or influxdb:URL")
    timeline.add_argument("--api", metavar="URL", help="read from a collector's HTTP API instead")
    timeline.add_argument("--cc", required=True, help="country (ISO 3166-1 alpha-2)")
    timeline.add_argument("--asn", type=int, help="autonomous system number")
    timeline.add_argument("--network", help="vantage network, e.g. mobile or fixed")
    timeline.add_argument("--target", help="one target name")
    timeline.add_argument("--since", required=True, help="start (RFC 3339 UTC)")
    timeline.add_argument("--until", required=True, help="end (RFC 3339 UTC)")
    timeline.add_argument("--step", default="5m", help="bucket size, e.g. 5m, 1h (default 5m)")
    timeline.add_argument("--format", choices=("table", "csv", "json", "png"), default="table")
    timeline.add_argument(
        "--output", type=Path, help="file for --format png (default timeline.png)"
    )


def _add_ooni_commands(root: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``tyndau import ooni`` and ``tyndau export ooni`` (collector/ooni/, docs/ooni.md)."""
    into = root.add_parser(
        "import", help="read other tools' measurements", description="Read other tools' data."
    )
    sub = into.add_subparsers(dest="import_command", required=True, metavar="FORMAT")
    read = _command(
        sub,
        "ooni",
        "collector.ooni.cli:import_ooni",
        "judge OONI measurements (.json, .jsonl, .jsonl.gz, directories) with our verdicts",
        "import ooni",
    )
    read.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories")
    read.add_argument("--json", action="store_true", help="one verdict line per measurement")
    read.add_argument("--store", metavar="URL", help="store them too: sqlite:PATH or influxdb:URL")
    read.add_argument("--config", type=Path, help="collector configuration file (its store)")
    read.add_argument("--since", help="only measurements from (RFC 3339 UTC)")
    read.add_argument("--until", help="only measurements before (RFC 3339 UTC)")
    read.add_argument("--cc", help="only this probe_cc")
    read.add_argument("--test", help="only this test_name, e.g. web_connectivity")
    read.add_argument("--targets", type=Path, help="targets file (default config/targets.toml)")
    read.add_argument(
        "--allow-net",
        action="append",
        default=[],
        metavar="CIDR",
        help="addresses in this range are not bogons (repeatable; labs: 198.18.0.0/15)",
    )
    out = root.add_parser(
        "export", help="write our measurements in other formats", description="Write our data."
    )
    sub = out.add_subparsers(dest="export_command", required=True, metavar="FORMAT")
    write = _command(
        sub,
        "ooni",
        "collector.ooni.cli:export_ooni",
        "stored measurements as OONI JSON lines (web_connectivity-like, pseudonymous)",
        "export ooni",
    )
    write.add_argument("--store", metavar="URL", help="sqlite:PATH or influxdb:URL")
    write.add_argument("--config", type=Path, help="collector configuration file (its store)")
    write.add_argument("--since", help="start (RFC 3339 UTC; default: everything)")
    write.add_argument("--until", help="end (RFC 3339 UTC; default: now)")
    write.add_argument("--cc", help="only this country")
    write.add_argument("--output", type=Path, help="file (.gz: gzip'd); default: stdout")


def _add_lab_commands(root: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = root.add_parser(
        "lab",
        help="the censorship lab: a simulated internet (needs root)",
        description="The censorship lab: a simulated internet built from "
        "network namespaces (needs root).",
    )
    sub = group.add_subparsers(dest="lab_command", required=True, metavar="COMMAND")
    up = _command(
        sub,
        "up",
        "lab.cli:up",
        "build the lab and start playing a scenario in the background",
        "lab up",
    )
    up.add_argument("scenario", help="a name from config/scenarios/ or a path to a scenario file")
    up.add_argument(
        "--speed",
        type=float,
        default=None,
        help="play the timeline this many times faster (default: the scenario's compression)",
    )
    run = _command(
        sub,
        "run",
        "lab.cli:run",
        "build the lab, play a scenario to its end, show what a vantage sees, tear down",
        "lab run",
    )
    run.add_argument("scenario", help="a name from config/scenarios/ or a path to a scenario file")
    run.add_argument(
        "--speed",
        type=float,
        default=None,
        help="play the timeline this many times faster (default: the scenario's compression)",
    )
    down = _command(
        sub,
        "down",
        "lab.cli:down",
        "remove the lab, including leftovers of a crashed run",
        "lab down",
    )
    del down
    status = _command(
        sub, "status", "lab.cli:status", "show the lab's nodes and active actions", "lab status"
    )
    status.add_argument("--json", action="store_true")
    execute = _command(
        sub,
        "exec",
        "lab.cli:exec_in_node",
        "run a command inside a lab node (exit status passed through)",
        "lab exec",
    )
    execute.add_argument("node", help="a vantage (fixed, mobile), collector, isp or internet")
    execute.add_argument("cmd", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tyndau",
        description="tyndau measures internet shutdowns and platform censorship.",
    )
    parser.add_argument("--version", action="version", version=f"tyndau {__version__}")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines for people (text, default) or machines (json)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    root = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_probe_commands(root)
    _add_collector_commands(root)
    _add_anomaly_commands(root)
    _add_timeline_command(root)
    _add_ooni_commands(root)
    _add_lab_commands(root)
    demo = _command(
        root,
        "demo",
        "lab.demo:main",
        "the whole system in the lab: Kazakhstan, January 2022, in minutes",
        "demo",
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(fmt=args.log_format, verbose=args.verbose)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"tyndau: configuration error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"tyndau: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tyndau: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `tyndau lab status | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: it catches the handlers'
    # CommandError (probe/command.py) and ConfigError and turns them into exit status 2.
    from probe.cli import main as _main

    sys.exit(_main())
