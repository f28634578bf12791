"""The censor's helper processes in the isp namespace: one DNS injector per vantage group, the
TLS interceptor and the hijack proxy, started and stopped as the active actions change."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lab import censor
from lab.nodes import LabError
from lab.topology import HIJACK_PROXY, VANTAGES, vantage_interface

# A helper is a new Python process importing scapy: 1.7-2.1 s on an idle core here, 4.8-6.1 s at
# 10 % of one core and 9.2-11.8 s at 5 % (cgroup cpu quota, for a slow Raspberry Pi; docs/lab.md).
# 60 s is five times the slowest; a helper that dies is seen at once (its exit status), so the
# long deadline costs nothing when things work.
HELPER_READY_TIMEOUT = 60.0


class Helpers:
    """Keeps each helper process in step with the censor's active actions."""

    def __init__(
        self,
        prefix: str,
        state: Path,
        *,
        popen: Callable[..., subprocess.Popen[Any]],
        stop: Callable[[subprocess.Popen[Any]], None],
    ) -> None:
        self.prefix = prefix
        self.state = state
        self._popen = popen
        self._stop = stop
        self._injectors: dict[str, tuple[list[str], subprocess.Popen[Any]]] = {}
        self._mitm: subprocess.Popen[Any] | None = None
        self._proxy: tuple[dict[str, tuple[str, str]], subprocess.Popen[Any]] | None = None

    def sync(self, active: censor.Active, targets: Mapping[str, censor.CensorTarget]) -> None:
        self._sync_injectors(censor.injection_answers(active, targets))
        self._sync_mitm(censor.needs_mitm(active))
        self._sync_proxy(censor.proxied_sites(active, targets))

    def forget(self) -> None:
        """The lab stopped every process itself (teardown)."""
        self._injectors.clear()
        self._mitm = None
        self._proxy = None

    def start(self, name: str, cmd: Sequence[str]) -> subprocess.Popen[Any]:
        ready = self.state / f"{name}.ready"
        ready.unlink(missing_ok=True)
        log = open(self.state / f"{name}.log", "ab")  # noqa: SIM115
        proc = self._popen(
            "isp",
            [sys.executable, "-m", *cmd, "--ready", str(ready)],
            stdout=log,
            stderr=log,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
        deadline = time.monotonic() + HELPER_READY_TIMEOUT
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log_file = self.state / f"{name}.log"
                tail = log_file.read_text(errors="replace").strip()[-400:]
                raise LabError(f"{name} did not start ({log_file}): {tail or 'no output'}")
            time.sleep(0.02)
        return proc

    def _sync_injectors(self, wanted: Mapping[str, Mapping[str, str]]) -> None:
        for group, (zones, proc) in list(self._injectors.items()):
            if [f"{z}={a}" for z, a in sorted(wanted.get(group, {}).items())] != zones:
                self._stop(proc)
                del self._injectors[group]
        for group, answers in wanted.items():
            if group in self._injectors:
                continue
            zones = [f"{z}={a}" for z, a in sorted(answers.items())]
            subnet = next(v.subnet for v in VANTAGES if v.name == group)
            cmd = ["lab.injector", "--iface", vantage_interface(self.prefix, group)]
            cmd += ["--subnet", subnet, *(a for z in zones for a in ("--zone", z))]
            self._injectors[group] = (zones, self.start(f"injector-{group}", cmd))

    def _sync_proxy(self, wanted: dict[str, tuple[str, str]]) -> None:
        if self._proxy is not None and self._proxy[0] != wanted:
            self._stop(self._proxy[1])
            self._proxy = None
        if wanted and self._proxy is None:
            cmd = ["lab.proxy", "--listen", HIJACK_PROXY]
            for name, (address, mode) in sorted(wanted.items()):
                cmd += ["--site", f"{name}={address}"]
                cmd += ["--notice", name] if mode == "notice" else []
            self._proxy = (wanted, self.start("proxy", cmd))

    def _sync_mitm(self, wanted: bool) -> None:
        if wanted and self._mitm is None:
            certs = self.state / "certs"
            self._mitm = self.start(
                "mitm",
                [
                    "lab.mitm",
                    "--port",
                    str(censor.MITM_PORT),
                    "--ca",
                    str(certs / "national-ca.pem"),
                    "--ca-key",
                    str(certs / "national-ca.key"),
                    "--leaf-key",
                    str(certs / "national-ca-leaf.key"),
                ],
            )
        elif not wanted and self._mitm is not None:
            self._stop(self._mitm)
            self._mitm = None
