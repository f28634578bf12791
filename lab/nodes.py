"""The lab's nodes: network namespaces, their links and addresses, and their removal.

Everything is named from the prefix (``{prefix}-inet``, ``{prefix}-isp``, ...) so two labs
coexist and ``remove_leftovers`` can find what a crashed run left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from lab.topology import (
    AUTHORITATIVE_DNS,
    BLOCKPAGE_SERVER,
    COLLECTOR_ADDRESS,
    COLLECTOR_LINK_INET,
    HIJACK_PROXY,
    INET_DOWNLINK,
    ISP_RESOLVER,
    ISP_UPLINK,
    NOTICE_SERVER,
    PUBLIC_RESOLVER,
    SILENT_HOST,
    VANTAGES,
    vantage_interface,
)

STATE_ROOT = Path("/run/tyndau-lab")
NETNS_ETC = Path("/etc/netns")
NODES = {
    "internet": "inet",
    "isp": "isp",
    "fixed": "fixed",
    "mobile": "mobile",
    "collector": "coll",
}
PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,5}$")


class LabError(Exception):
    """The lab cannot be built or driven; the message says why and what to do."""


def namespace(prefix: str, node: str) -> str:
    short = NODES.get(node, node)
    if short not in NODES.values():
        raise LabError(f"unknown lab node {node!r} (accepted: {' | '.join(NODES)})")
    return f"{prefix}-{short}"


def check_privileges() -> None:
    """Fail before anything is built when we cannot create namespaces (no CAP_NET_ADMIN)."""
    cap_net_admin = 12
    effective = 0
    with contextlib.suppress(OSError):
        status = Path("/proc/self/status").read_text(encoding="utf-8")
        found = re.search(r"CapEff:\s*([0-9a-f]+)", status)
        effective = int(found[1], 16) if found else 0
    if os.geteuid() != 0 or not effective >> cap_net_admin & 1:
        raise LabError("the lab needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN): run it with sudo")


def sh(args: Sequence[str], *, stdin: str | None = None, check: bool = True) -> str:
    """Run a host-side command; a failure is a LabError carrying its stderr."""
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(args[:6])}... failed: {done.stderr.strip() or done.stdout}")
    return done.stdout


def player_pid_file(prefix: str, state_root: Path = STATE_ROOT) -> Path:
    """Where ``lab up``'s background player records its pid (outside the lab's state dir)."""
    return state_root / f"{prefix}.player.pid"


def remove_leftovers(prefix: str, state_root: Path = STATE_ROOT) -> list[str]:
    """Kill every process in the prefix's namespaces, delete them and their files; idempotent."""
    removed: list[str] = []
    player = player_pid_file(prefix, state_root)
    if player.exists():
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
            pid = int(player.read_text().strip())
            if pid != os.getpid():
                os.kill(pid, signal.SIGKILL)  # it may be gone already
                player.unlink()
    existing = set(sh(["ip", "netns", "list"], check=False).split())
    for short in NODES.values():
        ns = f"{prefix}-{short}"
        if ns in existing:
            for member in sh(["ip", "netns", "pids", ns], check=False).split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(member), signal.SIGKILL)  # it may have exited meanwhile
            sh(["ip", "netns", "del", ns], check=False)
            removed.append(ns)
        shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)
    shutil.rmtree(state_root / prefix, ignore_errors=True)
    return removed


def _veth(ns: str, name: str, peer: str, peer_ns: str) -> None:
    """A veth pair created directly inside the namespaces: it never touches the host's."""
    sh(
        [
            "ip",
            "-n",
            ns,
            "link",
            "add",
            name,
            "type",
            "veth",
            "peer",
            "name",
            peer,
            "netns",
            peer_ns,
        ]
    )


def _batch(ns: str, lines: Sequence[str]) -> None:
    sh(["ip", "-n", ns, "-batch", "-"], stdin="\n".join(lines) + "\n")


def build_topology(prefix: str, target_addresses: Sequence[str]) -> None:
    """Create the five namespaces, their links, addresses, routes and resolv.conf files."""
    ns = {node: namespace(prefix, node) for node in NODES}
    for node, name in ns.items():
        sh(["ip", "netns", "add", name])
        etc = NETNS_ETC / name
        etc.mkdir(parents=True, exist_ok=True)
        resolver = ISP_RESOLVER if node in ("isp", "fixed", "mobile") else PUBLIC_RESOLVER
        (etc / "resolv.conf").write_text(f"nameserver {resolver}\n", encoding="utf-8")
    p, isp, inet = prefix, ns["isp"], ns["internet"]
    _veth(isp, f"{p}-up", f"{p}-isp", inet)
    for v in VANTAGES:
        _veth(isp, vantage_interface(p, v.name), "eth0", ns[v.name])
    _veth(inet, f"{p}-coll", "eth0", ns["collector"])
    _batch(
        isp,
        [
            "link set lo up",
            f"addr add {ISP_RESOLVER}/32 dev lo",
            *(f"addr add {a}/32 dev lo" for a in (BLOCKPAGE_SERVER, HIJACK_PROXY, NOTICE_SERVER)),
            f"addr add {ISP_UPLINK}/30 dev {p}-up",
            f"link set {p}-up up",
            *(f"addr add {v.router}/24 dev {vantage_interface(p, v.name)}" for v in VANTAGES),
            *(f"link set {vantage_interface(p, v.name)} up" for v in VANTAGES),
            f"route add default via {INET_DOWNLINK}",
        ],
    )
    services = (AUTHORITATIVE_DNS, PUBLIC_RESOLVER, SILENT_HOST, *target_addresses)
    _batch(
        inet,
        [
            "link set lo up",
            *(f"addr add {address}/32 dev lo" for address in services),
            f"addr add {INET_DOWNLINK}/30 dev {p}-isp",
            f"link set {p}-isp up",
            f"addr add {COLLECTOR_LINK_INET}/30 dev {p}-coll",
            f"link set {p}-coll up",
            f"route add 198.18.0.0/16 via {ISP_UPLINK}",
        ],
    )
    for v in VANTAGES:
        _batch(
            ns[v.name],
            [
                "link set lo up",
                f"addr add {v.address}/24 dev eth0",
                "link set eth0 up",
                f"route add default via {v.router}",
            ],
        )
    _batch(
        ns["collector"],
        [
            "link set lo up",
            f"addr add {COLLECTOR_ADDRESS}/30 dev eth0",
            "link set eth0 up",
            f"route add default via {COLLECTOR_LINK_INET}",
        ],
    )
    for router in (isp, inet):
        sh(["ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1"])


def claim_prefix(state_root: Path, prefix: str) -> TextIO:
    """Hold an flock on the prefix for the lab's life, so a live lab is never taken over; the
    open lock file (closing it frees the prefix).

    A crashed run's lock dies with its process, so its leftovers may then be removed.
    """
    state_root.mkdir(parents=True, exist_ok=True)
    lock = open(state_root / f"{prefix}.lock", "a+")  # noqa: SIM115
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        owner = lock.read().strip() or "?"
        lock.close()
        raise LabError(
            f"lab prefix {prefix!r} is in use by process {owner}: "
            "choose another prefix, or stop that lab ('tyndau lab down' for the CLI's)"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock
