"""A network namespace a test builds and always removes, and unbound configs for test resolvers.

The namespace has only a loopback with the addresses a test names (198.18.0.0/15 and test-only
ranges): nothing in it reaches another network. Processes started through it are stopped, and
the namespace (and its /etc/netns resolv.conf) removed, when the ``with`` block ends, pass or
fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.command import ROOT
from tests.support.processes import stop_all

UNBOUND_SERVER = """
server:
  interface: {interface}
  port: {port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{directory}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  do-ip6: no
  access-control: {allow} allow
  module-config: "iterator"
{options}  local-zone: "test." nodefault
{zones}
# everything else goes to a closed local port: SERVFAIL, and never a packet to the internet
stub-zone:
  name: "."
  stub-addr: 127.0.0.1@9
remote-control:
  control-enable: no
"""


def unbound_config(
    *,
    interface: str,
    directory: Path,
    zones: Sequence[str],
    port: int = 53,
    allow: str = "0.0.0.0/0",
    options: Sequence[str] = (),
) -> str:
    """An unbound that answers only its local ``zones`` lines (``local-zone: ...``,
    ``local-data: ...``) and SERVFAIL for every other name."""
    return UNBOUND_SERVER.format(
        interface=interface,
        port=port,
        directory=directory,
        allow=allow,
        options="".join(f"  {line}\n" for line in options),
        zones="\n".join(f"  {line}" for line in zones),
    )


def unbound_binary() -> str:
    """The unbound to run, or a skip with the reason (CI has it)."""
    binary = shutil.which("unbound") or "/usr/sbin/unbound"
    if not Path(binary).exists():
        pytest.skip("unbound is not installed: apt-get install unbound (CI has it)")
    return binary


def sh(*args: str, ns: str | None = None) -> None:
    """Run a command (in namespace ``ns``); a failure raises with its output."""
    prefix = ["ip", "netns", "exec", ns] if ns else []
    subprocess.run([*prefix, *args], check=True, capture_output=True, text=True)


def run_in(ns: str, *cmd: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``cmd`` inside namespace ``ns``, from the repository root: its exit code and text output
    (a failure is the caller's to judge, not an exception)."""
    return subprocess.run(
        ["ip", "netns", "exec", ns, *cmd],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


class Namespace:
    """A built namespace: its name, and the processes started in it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.procs: list[subprocess.Popen[Any]] = []

    def argv(self, *cmd: str) -> list[str]:
        """``cmd`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *cmd]

    def sh(self, *args: str) -> None:
        sh(*args, ns=self.name)

    def start(self, *cmd: str, **popen: Any) -> subprocess.Popen[Any]:
        """Start ``cmd`` in the namespace (text mode); it is stopped when the namespace goes."""
        proc: subprocess.Popen[Any] = subprocess.Popen(self.argv(*cmd), text=True, **popen)
        self.procs.append(proc)
        return proc


@contextmanager
def namespace(
    stem: str, addresses: Sequence[str], *, resolver: str | None = None
) -> Iterator[Namespace]:
    """A namespace named ``stem`` + this process's id, ``addresses`` (/32) on its loopback and,
    with ``resolver``, an /etc/netns resolv.conf naming it. Needs root and iproute2 (skips with
    the reason elsewhere; CI has them)."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 (CI has them)")
    ns = Namespace(f"{stem}{os.getpid() % 100000}")
    etc = Path("/etc/netns") / ns.name
    try:
        sh("ip", "netns", "add", ns.name)
        ns.sh("ip", "link", "set", "lo", "up")
        for address in addresses:
            ns.sh("ip", "addr", "add", f"{address}/32", "dev", "lo")
        if resolver is not None:
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "resolv.conf").write_text(f"nameserver {resolver}\n")
        yield ns
    finally:
        stop_all(ns.procs, timeout=5)
        subprocess.run(["ip", "netns", "del", ns.name], check=False, capture_output=True)
        shutil.rmtree(etc, ignore_errors=True)
