"""The control endpoint never dials a special-purpose address (issue 14 item 10), tested for real.

A network namespace this test builds holds a real unbound (198.18.0.53) whose names answer
loopback, 127.0.0.2 and private (10.x) addresses, a web server on 198.19.5.1 (allowed: the lab
range is in ``allow_net``) that redirects to those addresses, and listeners on every forbidden
address that count what reaches them. The collector's app runs in the namespace too, and each
POST /v1/control must refuse with a reason while the listeners see no connection at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.netns import namespace, run_in, sh, unbound_binary, unbound_config

pytestmark = [pytest.mark.root, pytest.mark.slow]

FORBIDDEN = [("127.0.0.1", 8081), ("127.0.0.1", 80), ("10.77.0.1", 80), ("10.77.0.1", 8081)]
FORBIDDEN += [("127.0.0.2", 80)]
ZONES = [
    'local-zone: "ssrf.test." static',
    *(
        f'local-data: "{name}.ssrf.test. A {address}"'
        for name, address in [
            ("loop", "127.0.0.1"),
            ("loop2", "127.0.0.2"),
            ("private", "10.77.0.1"),
            ("mixed", "10.77.0.1"),
            ("mixed", "198.19.5.1"),
            ("site", "198.19.5.1"),
            ("hop-ip", "198.19.5.1"),
            ("hop-name", "198.19.5.1"),
            ("hop-lo2", "198.19.5.1"),
            ("hop-gone", "198.19.5.1"),
        ]
    ),
]
# The allowed web server: a page, or a redirect into the collector's own network.
SITE = r"""
import http.server, sys
HOPS = {
    "hop-ip": "http://10.77.0.1:8081/admin?token=1",
    "hop-name": "http://loop.ssrf.test:8081/admin",
    "hop-lo2": "http://127.0.0.2/",
    "hop-gone": "http://gone.ssrf.test/",
}
class Site(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        name = self.headers.get("Host", "").split(".")[0]
        if name in HOPS:
            self.send_response(302)
            self.send_header("Location", HOPS[name])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"<html><title>a site</title>hello</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
server = http.server.ThreadingHTTPServer(("198.19.5.1", 80), Site)
print("ready", flush=True)
server.serve_forever()
"""
# Listens on every forbidden address; prints one line per connection that arrives.
TRAP = r"""
import json, selectors, socket, sys
pairs = json.loads(sys.argv[1])
sel = selectors.DefaultSelector()
for host, port in pairs:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(16)
    sel.register(s, selectors.EVENT_READ, (host, port))
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept()
        print(json.dumps(key.data), flush=True)
        conn.close()
"""
# The collector's app in the namespace: register a probe, ask the control for each target.
APP = r"""
import ipaddress, json, sys, tempfile
from fastapi.testclient import TestClient
from collector.app import create_app
from collector.settings import CollectorSettings, ControlSettings
from collector.store import open_store
from probe.model import Category
from probe.targets import Target
names = sys.argv[1].split(",")
targets = [Target(n, f"{n}.ssrf.test", Category.PLATFORM, f"http://{n}.ssrf.test/") for n in names]
targets[0] = Target("loop", "loop.ssrf.test", Category.PLATFORM, "http://loop.ssrf.test:8081/")
settings = CollectorSettings(
    operator_token="operator-secret-0123456789",
    control=ControlSettings(
        timeout_s=2.0, resolver="198.18.0.53",
        allow_net=(ipaddress.ip_network("198.18.0.0/15"),),
    ),
)
store = open_store("sqlite:" + tempfile.mkdtemp() + "/c.sqlite3")
client = TestClient(create_app(settings, store, targets=targets))
token = client.post(
    "/v1/probes", json={"name": "p"},
    headers={"Authorization": "Bearer operator-secret-0123456789"},
).json()["token"]
out = {}
for t in targets:
    reply = client.post(
        "/v1/control", json={"target": t.name}, headers={"Authorization": f"Bearer {token}"}
    )
    out[t.name] = reply.json()
print(json.dumps(out))
"""
TARGETS = ("loop", "loop2", "private", "mixed", "site", "hop-ip", "hop-name", "hop-lo2", "hop-gone")


def _started(argv: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise RuntimeError(
            f"{argv[-2:]} did not start: {proc.stderr.read() if proc.stderr else ''}"
        )
    return proc


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    unbound = unbound_binary()
    work = tmp_path_factory.mktemp("ssrf")
    with namespace("tctl", ("198.18.0.53", "198.19.5.1", "10.77.0.1")) as net:
        config = unbound_config(interface="198.18.0.53", directory=work, zones=ZONES)
        (work / "unbound.conf").write_text(config)
        net.start(unbound, "-d", "-c", str(work / "unbound.conf"), stderr=subprocess.PIPE)
        net.procs.append(_started(net.argv(sys.executable, "-c", SITE)))
        trap = _started(net.argv(sys.executable, "-c", TRAP, json.dumps(FORBIDDEN)))
        net.procs.append(trap)
        time.sleep(0.3)  # unbound binds within milliseconds; one short wait, not a poll loop
        yield {"ns": net.name, "trap": trap}


def _trapped(trap: subprocess.Popen[str], wait: float) -> list[list[Any]]:
    """Connections the trap saw so far (reads what is ready, for at most ``wait`` seconds)."""
    assert trap.stdout is not None
    seen: list[list[Any]] = []
    os.set_blocking(trap.stdout.fileno(), False)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        line = trap.stdout.readline()
        if line:
            seen.append(json.loads(line))
        else:
            time.sleep(0.05)
    return seen


def test_the_control_endpoint_refuses_every_special_purpose_address(
    network: dict[str, Any],
) -> None:
    done = run_in(network["ns"], sys.executable, "-c", APP, ",".join(TARGETS), timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for name in ("loop", "loop2", "private"):
        result = results[name]
        assert result["tcp_failure"] == "address_refused", (name, result)
        assert result["tcp_address"] is None and result["http_status"] is None
        assert result["refused"] and "RFC 6890" in result["refused"][0]["reason"]
    # one forbidden and one allowed address: only the allowed one is dialled
    mixed = results["mixed"]
    assert (mixed["tcp_address"], mixed["http_status"]) == ("198.19.5.1", 200)
    assert [r["address"] for r in mixed["refused"]] == ["10.77.0.1"]
    assert results["site"]["http_status"] == 200 and results["site"]["http_title"] == "a site"
    # a redirect hop into the collector's network: refused, whether an IP or a name
    for name, refused in (("hop-ip", "10.77.0.1"), ("hop-name", "127.0.0.1")):
        hop = results[name]
        assert hop["http_failure"] == "address_refused", (name, hop)
        assert refused in [r["address"] for r in hop["refused"]]
    assert results["hop-lo2"]["http_failure"] == "address_refused"
    # a hop whose name does not exist fails with the lookup's own failure, not a refusal
    assert results["hop-gone"]["http_failure"] == "dns_nxdomain_error"
    assert _trapped(network["trap"], wait=1.0) == [], "a forbidden address was dialled"
    # the trap does see a connection when one is made: the assertion above can fail
    poke = "import socket; socket.create_connection(('10.77.0.1', 8081), timeout=2).close()"
    sh(sys.executable, "-c", poke, ns=network["ns"])
    assert _trapped(network["trap"], wait=1.0) == [["10.77.0.1", 8081]]
