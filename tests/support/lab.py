"""The lab as the tests and benches use it: built (or skipped, loudly, with the reason),
a collector served in its collector node, and ``tyndau probe once --json`` run in a vantage."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.command import ROOT, TYNDAU

if TYPE_CHECKING:
    from lab import Lab

NEEDED = ("ip", "nft", "iptables-restore", "tc", "nginx", "unbound", "unbound-control", "dig")


def lab_unavailable(suite: str = "LAB TESTS", also: Sequence[str] = ()) -> str | None:
    """Why the lab cannot be built here for ``suite`` (which needs the tools ``also`` too),
    loudly reported as the skip reason; None when it can."""
    if os.geteuid() != 0:
        return f"{suite} SKIPPED: root is needed (network namespaces, nftables); CI runs them"
    missing = [tool for tool in (*NEEDED, *also) if shutil.which(tool) is None]
    if missing:
        return (
            f"{suite} SKIPPED: missing {', '.join(missing)} (deploy/setup-debian.sh; CI has them)"
        )
    return None


@contextmanager
def shipped_lab(prefix: str) -> Iterator[Lab]:
    """A lab whose namespaces are named ``prefix``-*, serving the shipped targets
    (config/targets.toml); a skip with the reason where it cannot be built."""
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    from lab import Lab

    with Lab(prefix=prefix, targets_file=ROOT / "config" / "targets.toml") as built:
        yield built


BACKLOG_LIMITS = "[limits]\nprobe_batches_per_minute = 100000\n"


def serve_collector(
    lab: Any,
    work: Path,
    *,
    token: str,
    port: int = 8080,
    settings: str = BACKLOG_LIMITS,
    wait: float = 30,
) -> str:
    """``tyndau collector serve`` in the lab's collector node over ``work``/collector.sqlite3;
    its URL once the fixed vantage reaches it (RuntimeError with the log's tail after ``wait``
    seconds). ``settings`` is TOML written after the ``[collector]`` table's listen, store and
    token lines: more of its keys first, then other tables (by default the rate limit lifted for
    backlogs). The lab stops the collector when it is torn down, pass or fail."""
    from lab.topology import COLLECTOR_ADDRESS

    config = work / "collector.toml"
    config.write_text(
        f'[collector]\nlisten = "{COLLECTOR_ADDRESS}:{port}"\n'
        f'store = "sqlite:{work}/collector.sqlite3"\noperator_token = "{token}"\n{settings}'
    )
    log = (work / "collector.log").open("wb")
    serve = [TYNDAU, "collector", "serve", "--config", str(config), "--init"]
    lab.popen("collector", serve, stdout=log, stderr=log)
    url = f"http://{COLLECTOR_ADDRESS}:{port}"
    health = ["curl", "-sf", "--max-time", "2", f"{url}/healthz"]
    deadline = time.monotonic() + wait
    while lab.run("fixed", health, timeout=5).returncode != 0:
        if time.monotonic() > deadline:
            tail = (work / "collector.log").read_text(errors="replace")[-1500:]
            raise RuntimeError(f"the lab's collector did not answer within {wait:g} s:\n{tail}")
        time.sleep(0.5)
    return url


def daemon_config(
    lab: Any,
    work: Path,
    url: str,
    *,
    round_minutes: float,
    heartbeat_seconds: float,
    retry_max_seconds: float | None = None,
) -> Path:
    """``work``/probe.toml for ``tyndau probe run`` in the fixed vantage: the shipped targets,
    the lab's CA and addresses as ordinary, short timeouts, uploads to ``url``."""
    retry = "" if retry_max_seconds is None else f"retry_max_seconds = {retry_max_seconds:g}\n"
    config = work / "probe.toml"
    config.write_text(
        f'[probe]\ncc = "KZ"\nasn = 9198\nnetwork = "fixed"\nstate_dir = "{work}"\n'
        f'targets = "{ROOT}/config/targets.toml"\nca_bundle = "{lab.ca_bundle}"\n'
        'allow_net = ["198.18.0.0/15"]\n'
        "[timeouts]\ndns = 3\ntcp = 3\ntls = 3\nhttp = 4\nthroughput = 4\n"
        f'[upload]\ncollector_url = "{url}"\ncredentials_file = "{work}/credentials.json"\n'
        f"{retry}[schedule]\nround_minutes = {round_minutes:g}\njitter_seconds = 0\n"
        f"heartbeat_seconds = {heartbeat_seconds:g}\n"
        f'[outbox]\npath = "{work}/outbox.sqlite3"\n'
    )
    return config


def probe_once(lab: Any, *, timeout: str, vantage: str = "fixed") -> list[dict[str, Any]]:
    """The JSON lines of one round from ``vantage``, trusting the lab's CA and its addresses
    (198.18.0.0/15) as ordinary ones, each step's timeout ``timeout`` seconds."""
    done = lab.run(
        vantage,
        [
            TYNDAU,
            "probe",
            "once",
            "--json",
            "--ca-bundle",
            str(lab.ca_bundle),
            "--allow-net",
            "198.18.0.0/15",
            "--timeout",
            timeout,
        ],
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]
