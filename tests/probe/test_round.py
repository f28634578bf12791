"""A whole round, run by ``tyndau probe once`` inside a network namespace this test builds:
unbound as the vantage's resolver, a TLS+HTTP server, nftables dropping one target and then
everything (a shutdown). Nothing leaves the namespace; it has no link at all."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.command import TYNDAU
from tests.support.netns import namespace, run_in, sh, unbound_binary, unbound_config

pytestmark = [pytest.mark.root, pytest.mark.slow]

SERVER = r"""
import http.server, ssl, sys, threading
NOTICE = b"<html><title>Access to this resource is restricted</title>by order</html>"
CHALLENGE = b"<html><title>Just a moment...</title><div id=challenge>verify</div></html>"
class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = self.headers.get("Host", "")
        status, body = 200, b"<html><title>tyndau test page</title>" + b"x" * 70000 + b"</html>"
        if host.startswith("hotel.") and self.server.server_port == 80:
            body = NOTICE  # the plain-HTTP page replaced in transit (here: by the server)
        elif host.startswith("india."):
            status, body = 403, CHALLENGE  # the real site's bot challenge, on both schemes
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
plain = http.server.ThreadingHTTPServer(("0.0.0.0", 80), Page)
secure = http.server.ThreadingHTTPServer(("0.0.0.0", 443), Page)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
secure.socket = ctx.wrap_socket(secure.socket, server_side=True)
threading.Thread(target=plain.serve_forever, daemon=True).start()
print("ready", flush=True)
secure.serve_forever()
"""
ZONES = [
    'local-zone: "tyndau.test." static',
    *(
        f'local-data: "{name}.tyndau.test. A {address}"'
        for name, address in [
            ("alpha", "198.19.1.1"),
            ("bravo", "198.19.1.2"),
            ("charlie", "198.19.1.3"),
            ("echo", "10.10.34.35"),
            ("foxtrot", "198.19.1.2"),
            ("foxtrot", "198.19.1.1"),
            ("golf", "198.19.1.3"),
            ("golf", "198.19.1.2"),
            ("hotel", "198.19.1.1"),
            ("india", "198.19.1.1"),
            ("ctl", "198.19.1.10"),
            ("ctl2", "198.19.1.11"),
        ]
    ),
]
TARGETS = """
[[targets]]
name = "alpha"
domain = "alpha.tyndau.test"
category = "platform"
[[targets]]
name = "bravo"
domain = "bravo.tyndau.test"
category = "platform"
[[targets]]
name = "charlie"
domain = "charlie.tyndau.test"
category = "platform"
[[targets]]
name = "delta"
domain = "delta.tyndau.test"
category = "platform"
[[targets]]
name = "echo"
domain = "echo.tyndau.test"
category = "platform"
[[targets]]
name = "foxtrot"
domain = "foxtrot.tyndau.test"
category = "platform"
[[targets]]
name = "golf"
domain = "golf.tyndau.test"
category = "platform"
[[targets]]
name = "hotel"
domain = "hotel.tyndau.test"
category = "platform"
[[targets]]
name = "india"
domain = "india.tyndau.test"
category = "platform"
[[targets]]
name = "ctl"
domain = "ctl.tyndau.test"
category = "control"
[[targets]]
name = "ctl2"
domain = "ctl2.tyndau.test"
category = "control"
"""


@pytest.fixture(scope="module")
def vantage(tmp_path_factory: pytest.TempPathFactory, pki: Any) -> Iterator[dict[str, Any]]:
    if not shutil.which("nft"):
        pytest.skip("needs nftables (CI has it)")
    unbound = unbound_binary()
    work = tmp_path_factory.mktemp("round")
    addresses = ("198.18.0.53", "198.19.1.1", "198.19.1.2", "198.19.1.3", "198.19.1.10")
    with namespace("tpbr", (*addresses, "198.19.1.11"), resolver="198.18.0.53") as net:
        config = unbound_config(interface="198.18.0.53", directory=work, zones=ZONES)
        (work / "unbound.conf").write_text(config)
        (work / "server.py").write_text(SERVER)
        (work / "targets.toml").write_text(TARGETS)
        net.start(unbound, "-d", "-c", str(work / "unbound.conf"))
        cert = (str(pki.leaf_cert), str(pki.leaf_key))
        server = net.start(sys.executable, str(work / "server.py"), *cert, stdout=subprocess.PIPE)
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        net.sh("nft", "add table inet tpb")
        net.sh("nft", "add chain inet tpb out { type filter hook output priority 0 ; }")
        net.sh("nft", "add rule inet tpb out ip daddr 198.19.1.2 drop")
        net.sh(
            "nft", "add rule inet tpb out ip daddr 198.19.1.3 tcp flags syn reject with tcp reset"
        )
        time.sleep(0.3)  # unbound binds within milliseconds; one short wait, not a poll loop
        yield {"ns": net.name, "work": work, "ca": pki.ca_pem}


def probe_cli(v: dict[str, Any], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``tyndau probe once --targets <lab targets> ARGS`` inside the vantage's namespace."""
    once = [TYNDAU, "probe", "once", "--targets", str(v["work"] / "targets.toml"), *args]
    return run_in(v["ns"], *once, timeout=timeout)


def probe_once(v: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], float]:
    start = time.monotonic()
    done = probe_cli(
        v,
        "--json",
        "--ca-bundle",
        str(v["ca"]),
        "--allow-net",
        "198.18.0.0/15",
        "--timeout",
        "2",
        timeout=60,
    )
    wall = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    verdicts = {o["target"]: o for o in lines if o["type"] == "verdict"}
    measurements = [o for o in lines if o["type"] == "measurement"]
    return verdicts, measurements, wall


def test_round_separates_layers_and_ends_in_one_timeout(vantage: dict[str, Any]) -> None:
    verdicts, measurements, wall = probe_once(vantage)
    got = {name: (v["verdict"], v["reason"]) for name, v in verdicts.items()}
    assert got == {
        "alpha": ("accessible", None),
        "bravo": ("blocked", "tcp.timeout"),
        "charlie": ("blocked", "tcp.reset"),
        # NXDOMAIN from the only resolver, in cleartext, no control endpoint: a name gone and
        # a censor's forged NXDOMAIN look the same (docs/method.md)
        "delta": ("inconclusive", None),
        "echo": ("blocked", "dns.bogon"),
        # one blackholed and one working address, in either answer order: reachable
        "foxtrot": ("accessible", None),
        # every address fails: blocked, the reset (the stronger proof) named whatever the order
        "golf": ("blocked", "tcp.reset"),
        # the plain-HTTP page differs from the site over validated HTTPS
        "hotel": ("blocked", "http.diff"),
        # a 403 challenge page from the real site over validated TLS
        "india": ("accessible", None),
        "ctl": ("accessible", None),
        "ctl2": ("accessible", None),
    }
    assert wall < 10, f"a round with one blackholed target took {wall:.1f} s"
    # never a connection to a bogon
    assert not [m for m in measurements if m.get("details", {}).get("tcp_address") == "10.10.34.35"]
    by_id = {m["id"]: m for m in measurements}
    for verdict in verdicts.values():
        assert all(i in by_id for i in verdict["measurement_ids"])
    alpha_tests = {m["test"] for m in measurements if m["target"]["name"] == "alpha"}
    assert alpha_tests == {"dns", "dns_injection", "tcp", "tls", "http", "throughput"}
    # every address is connected to, not only the first of its family
    foxtrot = {
        m["details"]["tcp_address"]
        for m in measurements
        if m["target"]["name"] == "foxtrot" and m["test"] == "tcp"
    }
    assert foxtrot == {"198.19.1.1", "198.19.1.2"}
    diff = [
        m["details"]
        for m in measurements
        if m["target"]["name"] == "hotel" and m["outcome"] == "http_diff_from_control"
    ]
    assert len(diff) == 1 and diff[0]["http_diff_reference"] == "https"
    assert diff[0]["http_diff_status_match"] is True
    assert diff[0]["http_diff_title_match"] is False


def test_shutdown_is_offline_not_blocked(vantage: dict[str, Any]) -> None:
    sh("nft", "add chain inet tpb cut { type filter hook output priority -1 ; }", ns=vantage["ns"])
    sh("nft", "add rule inet tpb cut ip daddr 198.18.0.0/15 drop", ns=vantage["ns"])
    try:
        verdicts, _, _ = probe_once(vantage)
    finally:
        sh("nft", "delete chain inet tpb cut", ns=vantage["ns"])
    assert {v["verdict"] for v in verdicts.values()} == {"offline"}, verdicts


def lab_flags(vantage: dict[str, Any]) -> tuple[str, ...]:
    """What ``tyndau probe once`` needs in the lab: its CA, its addresses as ordinary, short
    timeouts."""
    return ("--ca-bundle", str(vantage["ca"]), "--allow-net", "198.18.0.0/15", "--timeout", "2")


def test_table_output_for_people(vantage: dict[str, Any]) -> None:
    done = probe_cli(
        vantage,
        *lab_flags(vantage),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["TARGET", "VERDICT", "METHOD", "REASON"]
    assert any(line.split()[:4] == ["bravo", "blocked", "tcp", "tcp.timeout"] for line in lines)
    assert "failed measurements:" in done.stdout
    assert lines[-1].endswith("11 targets, 5 blocked")


def test_bad_resolver_flag_is_a_clear_error(vantage: dict[str, Any]) -> None:
    done = probe_cli(vantage, "--resolver", "dns.google", timeout=30)
    assert done.returncode == 2
    assert "configuration error" in done.stderr and "resolvers" in done.stderr
    assert "not an IP address" in done.stderr


def test_missing_ca_bundle_is_a_clear_error(vantage: dict[str, Any]) -> None:
    done = probe_cli(vantage, "--ca-bundle", "/nonexistent.pem", timeout=30)
    assert done.returncode == 2
    assert "ca_bundle" in done.stderr and "/nonexistent.pem" in done.stderr
    assert "Traceback" not in done.stderr


API_CALL = """
import asyncio, json, sys
from pathlib import Path
from probe.model import TestKind
from probe.round import RoundResult, run_round
from probe.settings import ProbeSettings
from probe.targets import load_targets
settings = ProbeSettings().with_overrides(
    targets=Path(sys.argv[1]), ca_bundle=Path(sys.argv[2]), allow_net=["198.18.0.0/15"], timeout=2
)
targets = [t for t in load_targets(settings.targets_file) if t.name in {"alpha", "ctl", "ctl2"}]
tests = frozenset(TestKind(t) for t in sys.argv[3].split(","))
result = asyncio.run(run_round(settings, probe_id="p-1", targets=targets, tests=tests))
assert isinstance(result, RoundResult)
print(json.dumps({
    "tests": sorted({m.test.value for m in result.measurements}),
    "probe_ids": sorted({m.probe_id for m in result.measurements}),
    "rounds": sorted({x.round_id for x in [*result.measurements, *result.verdicts]}),
    "round_id": result.round_id,
    "verdicts": {v.target.name: v.verdict.value for v in result.verdicts},
}))
"""


@pytest.mark.parametrize(
    ("tests", "recorded"),
    [
        ("tcp", ["tcp"]),
        ("throughput", ["throughput"]),
        ("dns,tls", ["dns", "tls"]),
    ],
)
def test_run_round_api_with_a_subset_of_tests(
    vantage: dict[str, Any], tests: str, recorded: list[str]
) -> None:
    """The daemon's call: the chosen tests only, yet DNS still finds the addresses."""
    targets, ca = str(vantage["work"] / "targets.toml"), str(vantage["ca"])
    done = run_in(vantage["ns"], sys.executable, "-c", API_CALL, targets, ca, tests, timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["tests"] == recorded
    assert out["probe_ids"] == ["p-1"]
    assert out["rounds"] == [out["round_id"]]
    assert out["verdicts"] == {"alpha": "accessible", "ctl": "accessible", "ctl2": "accessible"}


def test_the_system_resolver_named_again_is_not_its_own_control(vantage: dict[str, Any]) -> None:
    """--resolver naming resolv.conf's resolver measures it once: its NXDOMAIN is still one
    cleartext claim with no independent view (inconclusive), not a second resolver agreeing."""
    done = probe_cli(
        vantage,
        "--json",
        *lab_flags(vantage),
        "--resolver",
        "198.18.0.53:53",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    delta = next(o for o in lines if o["type"] == "verdict" and o["target"] == "delta")
    assert (delta["verdict"], delta["reason"]) == ("inconclusive", None)
    assert "no independent view" in delta["explanation"]
    resolvers = {
        o["details"]["dns_resolver"]
        for o in lines
        if o["type"] == "measurement" and o["test"] == "dns" and o["target"]["name"] == "delta"
    }
    assert resolvers == {"198.18.0.53:53"}
