"""The lab's servers (nginx, unbound) in their namespaces: started, restarted after a site
changes, and waited for until they listen."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lab.nodes import LabError
from lab.topology import (
    AUTHORITATIVE_DNS,
    BLOCKPAGE_SERVER,
    ISP_RESOLVER,
    NOTICE_SERVER,
    PUBLIC_RESOLVER,
    REDIRECT_DOWN_PORT,
    REDIRECT_PORT,
)

READY_TIMEOUT = 10.0  # nginx and unbound listening (they start in milliseconds)
SERVERS = (  # config name (conf/NAME.conf) and node
    ("inet-nginx", "internet"),
    ("inet-auth", "internet"),
    ("inet-public", "internet"),
    ("isp-resolver", "isp"),
    ("isp-nginx", "isp"),
)


class Servers:
    """The lab's long-running servers, by config name."""

    def __init__(
        self,
        state: Path,
        target_addresses: Sequence[str],
        *,
        popen: Callable[..., subprocess.Popen[Any]],
        run: Callable[..., subprocess.CompletedProcess[str]],
        stop: Callable[[subprocess.Popen[Any]], None],
    ) -> None:
        self.state = state
        self.target_addresses = list(target_addresses)
        self._popen = popen
        self._run = run
        self._stop = stop
        self._procs: dict[str, tuple[str, list[str], subprocess.Popen[Any]]] = {}

    def start_all(self) -> None:
        for name, node in SERVERS:
            conf = str(self.state / "conf" / f"{name}.conf")
            cmd = ["nginx", "-c", conf] if name.endswith("nginx") else ["unbound", "-d", "-c", conf]
            self._start(name, node, cmd)
        self.wait_internet()
        self.wait_listening(
            "isp",
            [
                f"{ISP_RESOLVER}:53",
                f"{BLOCKPAGE_SERVER}:80",
                f"{NOTICE_SERVER}:80",
                f"{NOTICE_SERVER}:{REDIRECT_PORT}",
                f"{NOTICE_SERVER}:{REDIRECT_DOWN_PORT}",
            ],
        )

    def restart(self, name: str) -> None:
        """Stop one server and start it again on its (rewritten) config."""
        node, cmd, proc = self._procs.pop(name)
        self._stop(proc)
        self._start(name, node, cmd)

    def forget(self) -> None:
        """The lab stopped every process itself (teardown)."""
        self._procs.clear()

    def wait_internet(self) -> None:
        """Every target address on 80 and 443, the authoritative and public resolvers."""
        endpoints = [f"{a}:{port}" for a in self.target_addresses for port in (80, 443)]
        self.wait_listening(
            "internet", [*endpoints, f"{AUTHORITATIVE_DNS}:53", f"{PUBLIC_RESOLVER}:53"]
        )

    def wait_listening(self, node: str, endpoints: Sequence[str]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            for _, _, proc in self._procs.values():  # the lab's servers, not callers' popen
                if proc.poll() is not None:
                    log = (self.state / "services.log").read_text(errors="replace")[-600:]
                    raise LabError(f"a lab service exited at start ({proc.args!r}): {log}")
            listening = self._run(node, ["ss", "-Hlntu"]).stdout
            missing = [e for e in endpoints if f" {e} " not in listening]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise LabError(f"lab services in {node} not listening on {', '.join(missing)}")
            time.sleep(0.02)

    def _start(self, name: str, node: str, cmd: list[str]) -> None:
        log = open(self.state / "services.log", "ab")  # noqa: SIM115
        proc = self._popen(node, cmd, stdout=subprocess.DEVNULL, stderr=log)
        self._procs[name] = (node, cmd, proc)
