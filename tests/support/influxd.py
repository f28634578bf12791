"""Run a throwaway ``influxd`` (InfluxDB 1.x) on free loopback ports for tests and benchmarks.

Debian's InfluxDB 1.6 serves only the v1 API. Everything lives in a temporary directory: the
config binds both the HTTP API and the RPC service to 127.0.0.1, and usage reporting is off.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.ports import free_port

CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
  max-body-size = 0

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false

[logging]
  level = "warn"
"""


@dataclass
class InfluxServer:
    """A running influxd; ``url`` is its HTTP API. Stop it with ``stop()`` or a ``with`` block."""

    process: subprocess.Popen[bytes]
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> InfluxServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_influxd(binary: str = "influxd", *, timeout_s: float = 20.0) -> InfluxServer:
    """Start influxd in a temporary directory and wait until /ping answers."""
    path = shutil.which(binary)
    if path is None:
        raise FileNotFoundError(f"{binary} not found: install InfluxDB (Debian package influxdb)")
    root = Path(tempfile.mkdtemp(prefix="tyndau-influxd-"))
    http_port = free_port()
    config = root / "influxdb.conf"
    config.write_text(CONFIG.format(root=root, rpc_port=free_port(), http_port=http_port))
    log = (root / "influxd.log").open("wb")
    process = subprocess.Popen([path, "-config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    server = InfluxServer(process=process, root=root, port=http_port)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = (root / "influxd.log").read_text(errors="replace")[-2000:]
            server.stop()
            raise RuntimeError(f"influxd exited with {process.returncode}: {text}")
        try:
            if httpx.get(f"{server.url}/ping", timeout=1.0).status_code == 204:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"influxd did not answer /ping within {timeout_s}s")
