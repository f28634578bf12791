"""The ``tyndau`` command line: one entry point, one sub-command per role.

This module declares the probe's, the collector's and the anomaly watcher's arguments and
dispatches; ``timeline``, ``import`` and ``export`` are declared in probe/cli_data.py, ``lab`` and
``demo`` in probe/cli_lab.py, over the shared helpers of probe/cli_args.py. Each handler lives in
the module of its role and is imported when its command runs, so ``tyndau probe ...`` never
imports the collector's or the lab's dependencies.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from probe import __version__
from probe.cli_args import STORE_URL, Sub, command, group, range_flags, repeatable, store_flags
from probe.cli_data import add_ooni_commands, add_timeline_command
from probe.cli_lab import add_demo_command, add_lab_commands
from probe.command import CommandError
from probe.configfile import ConfigError
from probe.logs import setup_logging

log = logging.getLogger("tyndau")


def _add_probe_commands(root: Sub) -> None:
    sub = group(
        root,
        "probe",
        "run measurements from this vantage point",
        "Run measurements from this vantage point.",
    )

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config", type=Path, help="probe configuration file (TOML)")
        parser.add_argument(
            "--targets", type=Path, help="targets file (TOML); default: config/targets.toml"
        )
        repeatable(
            parser,
            "--resolver",
            "also query this resolver (repeatable); ADDR is an IP, "
            "IP:PORT, or https://... for DNS over HTTPS",
            metavar="ADDR",
        )
        parser.add_argument(
            "--ca-bundle", type=Path, help="extra CA certificates to trust (PEM), e.g. the lab's CA"
        )
        repeatable(
            parser,
            "--allow-net",
            "treat addresses in CIDR as ordinary, not bogons (repeatable)",
            metavar="CIDR",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            metavar="SECONDS",
            help="per-step timeout (DNS, TCP, TLS, HTTP each)",
        )

    once = command(sub, "once", "probe.once:main", "measure every target once and print results")
    common(once)
    once.add_argument(
        "--json", action="store_true", help="one JSON object per line: measurements, then verdicts"
    )
    run = command(
        sub,
        "run",
        "probe.daemon:main",
        "run the probe daemon: scheduled rounds, heartbeats, uploads",
    )
    common(run)
    run.add_argument(
        "--no-heartbeats",
        action="store_true",
        help="send no heartbeats (high-risk places: the collector then hears the probe only "
        "through its rounds; see docs/volunteers.md)",
    )
    status = command(
        sub, "status", "probe.status:main", "show the last round, outbox depth and next run"
    )
    status.add_argument("--config", type=Path, help="probe configuration file (TOML)")
    status.add_argument("--json", action="store_true", help="print status as JSON")
    register = command(
        sub,
        "register",
        "probe.register:main",
        "register with a collector and store the credentials (mode 0600)",
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
    doctor = command(
        sub,
        "doctor",
        "probe.doctor:main",
        "check what this probe can measure here (resolvers, raw capture, CAP_NET_RAW, libpcap, "
        "IPv6, control endpoint), each with its fix; exit 1 when a check fails",
    )
    common(doctor)
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON (for CI)")


def _add_collector_commands(root: Sub) -> None:
    sub = group(
        root,
        "collector",
        "receive, store and serve measurements",
        "Receive, store and serve measurements.",
    )
    serve = command(
        sub,
        "serve",
        "collector.serve:main",
        "serve the ingest API, query API, web page and control endpoint",
    )
    store_flags(serve, store_help=f"{STORE_URL} (overrides the config file)")
    serve.add_argument("--listen", metavar="HOST:PORT", help="address to listen on")
    serve.add_argument(
        "--init",
        action="store_true",
        help="make a new SQLite store if none exists (first run); without it a missing store "
        "is an error, so a mistyped path is never a new empty store",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="collector processes sharing the listen address (InfluxDB stores only; each "
        "keeps its own rate limits and /metrics); default 1",
    )
    add = command(
        sub,
        "add-probe",
        "collector.admin:add_probe",
        "create a probe's id and token and print them",
    )
    add.add_argument("name", help="a label for the probe (kept for the operator only)")
    store_flags(add)
    add.add_argument(
        "--create", action="store_true", help="make a new SQLite store if none exists at PATH"
    )
    _add_enrol_commands(sub)


def _add_enrol_commands(sub: Sub) -> None:
    actions = group(
        sub,
        "enrol-token",
        "tokens volunteers register probes with (the operator token stays with you)",
        "Enrolment tokens: limited in uses and time, stored hashed, revocable.",
        metavar="ACTION",
        dest="enrol_command",
    )
    target = "collector.admin:enrol_token"
    create = command(actions, "create", target, "make a token and print it once")
    create.add_argument("--uses", type=int, default=1, help="probes it may register (default 1)")
    create.add_argument("--expires", default="7d", help="lifetime: 30m, 12h, 7d, 2w (default 7d)")
    create.add_argument("--note", default="", help="who it is for (kept for the operator only)")
    listing = command(actions, "list", target, "show every token's uses, expiry and state")
    revoke = command(actions, "revoke", target, "revoke a token by its id")
    revoke.add_argument("id", help="enrolment_id from create or list")
    for parser in (create, listing, revoke):
        store_flags(parser)


def _add_anomaly_commands(root: Sub) -> None:
    sub = group(
        root,
        "anomaly",
        "detect shutdowns and blocking, send alerts",
        "Detect shutdowns and blocking, send alerts.",
    )
    watch = command(
        sub,
        "watch",
        "collector.anomaly.cli:watch",
        "evaluate recent data periodically and send alerts",
    )
    store_flags(watch)
    watch.add_argument("--interval", type=float, metavar="SECONDS", help="time between cycles")
    repeatable(
        watch,
        "--alertmanager",
        "Alertmanager base URL (v2 API); repeat for every node of a cluster",
        metavar="URL",
    )
    repeatable(watch, "--webhook", "generic JSON webhook", metavar="URL")
    repeatable(watch, "--slack-webhook", "Slack-style webhook", metavar="URL")
    repeatable(watch, "--cc", "only these countries (repeatable; '*' for outages across countries)")
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
    scan = command(
        sub, "scan", "collector.anomaly.cli:scan", "detect events over a past range (idempotent)"
    )
    store_flags(scan)
    range_flags(
        scan, "start (RFC 3339 UTC, e.g. 2022-01-04T00:00Z)", "end (RFC 3339 UTC)", required=True
    )
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
    add_timeline_command(root)
    add_ooni_commands(root)
    add_lab_commands(root)
    add_demo_command(root)
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
