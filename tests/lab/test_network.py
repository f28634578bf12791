"""The lab is real: each censorship action observed from a vantage with dig, curl, openssl."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lab import Lab, LabError, load_scenario
from lab.actions import BOGON_ANSWER
from lab.topology import (
    BLOCKPAGE_SERVER,
    COLLECTOR_ADDRESS,
    ISP_RESOLVER,
    PUBLIC_RESOLVER,
    SILENT_HOST,
)
from tests.support.lab import lab_unavailable
from tests.support.processes import stop

pytestmark = [pytest.mark.root, pytest.mark.lab]


def dig(lab: Lab, node: str, name: str, *server: str) -> subprocess.CompletedProcess[str]:
    return lab.run(node, ["dig", "+tries=1", "+time=2", *(f"@{s}" for s in server), name], 10)


def status_of(result: subprocess.CompletedProcess[str]) -> str:
    for line in result.stdout.splitlines():
        if "status:" in line:
            return line.split("status:")[1].split(",")[0].strip()
    return f"no answer (dig exit {result.returncode})"


def answers(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [
        line.split()[-1]
        for line in result.stdout.splitlines()
        if not line.startswith(";") and "\tIN\tA\t" in line
    ]


def curl(lab: Lab, node: str, url: str, *extra: str, limit: float = 3) -> tuple[int, str]:
    """curl's exit status and either '%{http_code} %{size_download} %{speed_download}' or stderr."""
    out = lab.run(
        node,
        [
            *("curl", "-sS", "-m", str(limit), "--cacert", str(lab.ca_bundle), "-o", "/dev/null"),
            *("-w", "%{http_code} %{size_download} %{speed_download}", *extra, url),
        ],
        timeout=limit + 5,
    )
    return out.returncode, out.stdout if out.returncode == 0 else out.stderr


def body(lab: Lab, node: str, url: str) -> str:
    return lab.run(node, ["curl", "-sS", "-m", "3", "--cacert", str(lab.ca_bundle), url]).stdout


def test_every_target_is_served_with_its_page_and_certificate(lab: Lab) -> None:
    for target in lab.targets:
        assert answers(dig(lab, "fixed", target.domain)) == [target.address]
        assert answers(dig(lab, "mobile", f"www.{target.domain}")) == [target.address]
        for host in target.hosts:
            assert answers(dig(lab, "fixed", host)) == [target.address], host
        page = body(lab, "fixed", f"https://{target.domain}/")
        assert f"<title>{target.name.capitalize()} (tyndau lab)</title>" in page
        assert 140_000 < len(page) < 170_000
    code, out = curl(lab, "mobile", "https://example.com/download/1m.bin")
    assert code == 0 and out.split()[:2] == ["200", str(1 << 20)]


def test_public_resolver_answers_and_silent_host_is_silent(lab: Lab) -> None:
    facebook = lab.address_of("facebook")
    assert answers(dig(lab, "fixed", "facebook.com", PUBLIC_RESOLVER)) == [facebook]
    assert dig(lab, "fixed", "facebook.com", SILENT_HOST).returncode == 9  # dig: no reply


@pytest.mark.parametrize(
    ("action", "status"),
    [("dns-nxdomain", "NXDOMAIN"), ("dns-refused", "REFUSED"), ("dns-servfail", "SERVFAIL")],
)
def test_resolver_errors(lab: Lab, action: str, status: str) -> None:
    lab.apply(action, target="facebook")
    assert status_of(dig(lab, "fixed", "facebook.com")) == status
    assert status_of(dig(lab, "mobile", "www.facebook.com")) == status
    assert answers(dig(lab, "fixed", "example.com")) == [lab.address_of("example")]
    lab.lift(action, target="facebook")
    assert answers(dig(lab, "fixed", "facebook.com")) == [lab.address_of("facebook")]


def test_bogon_answer_leads_nowhere(lab: Lab) -> None:
    lab.apply("dns-bogon", target="facebook")
    assert answers(dig(lab, "fixed", "facebook.com")) == [BOGON_ANSWER]
    code, _ = curl(lab, "fixed", "http://facebook.com/", limit=1.5)
    assert code == 28  # the isp drops anything outside 198.18.0.0/15


def test_redirect_to_blockpage(lab: Lab) -> None:
    lab.apply("dns-redirect", target="facebook")
    assert answers(dig(lab, "fixed", "facebook.com")) == [BLOCKPAGE_SERVER]
    assert "<title>Access restricted</title>" in body(lab, "fixed", "http://facebook.com/")


INJECTION_LISTENER = textwrap.dedent(
    """
    import socket, sys, time, dns.message
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    query = dns.message.make_query("facebook.com", "A")
    sock.sendto(query.to_wire(), (sys.argv[1], 53))
    start = time.monotonic()
    for _ in range(2):
        try:
            data, _ = sock.recvfrom(4096)
        except TimeoutError:
            break
        reply = dns.message.from_wire(data)
        print(round(time.monotonic() - start, 3), reply.answer[0][0].address)
    """
)


def test_injection_forged_answer_arrives_first_whatever_the_resolver(lab: Lab) -> None:
    lab.apply("dns-injection", target="facebook")
    real = lab.address_of("facebook")
    for resolver in (ISP_RESOLVER, PUBLIC_RESOLVER):
        out = lab.run("fixed", [sys.executable, "-c", INJECTION_LISTENER, resolver]).stdout
        replies = [line.split() for line in out.splitlines()]
        assert [address for _, address in replies] == [BLOCKPAGE_SERVER, real], out
        assert float(replies[1][0]) > float(replies[0][0])
    # nobody answers at SILENT_HOST, so an answer "from" it was injected on the path
    assert answers(dig(lab, "mobile", "facebook.com", SILENT_HOST)) == [BLOCKPAGE_SERVER]
    assert answers(dig(lab, "fixed", "example.com")) == [lab.address_of("example")]


def test_tcp_reset_and_blackhole(lab: Lab) -> None:
    lab.apply("tcp-reset", target="facebook")
    code, err = curl(lab, "fixed", "https://facebook.com/")
    assert code == 7, err
    assert curl(lab, "fixed", "https://example.com/")[0] == 0
    lab.clear()
    lab.apply("tcp-blackhole", target="facebook")
    assert curl(lab, "fixed", "https://facebook.com/", limit=1.5)[0] == 28
    assert curl(lab, "fixed", "https://example.com/")[0] == 0


@pytest.mark.parametrize(("action", "expected"), [("tls-sni-reset", 35), ("tls-sni-blackhole", 28)])
def test_sni_filtering_hits_the_target_name_not_a_control_on_the_same_address(
    lab: Lab, action: str, expected: int
) -> None:
    lab.apply(action, target="facebook")
    address = lab.address_of("facebook")
    code, err = curl(lab, "fixed", "https://facebook.com/", limit=1.5)
    assert code == expected, err
    if expected == 35:
        assert "reset" in err.lower()
    control = f"example.com:443:{address}"
    code, out = curl(lab, "fixed", "https://example.com/", "-k", "--resolve", control)
    assert code == 0 and out.startswith("200"), out
    assert curl(lab, "fixed", "http://facebook.com/")[0] == 0  # plain HTTP is untouched


def test_http_blockpage_and_http_reset(lab: Lab) -> None:
    lab.apply("http-blockpage", target="facebook")
    assert "Access restricted" in body(lab, "fixed", "http://facebook.com/")
    assert "Facebook (tyndau lab)" in body(lab, "fixed", "https://facebook.com/")
    lab.clear()
    lab.apply("http-reset", target="facebook")
    code, err = curl(lab, "fixed", "http://facebook.com/")
    assert code == 56 and "reset" in err.lower(), err
    assert "Example (tyndau lab)" in body(lab, "fixed", "http://example.com/")


def test_throttle_slows_the_target_only(lab: Lab) -> None:
    lab.apply("throttle", target="facebook", group="mobile", rate="32kbit")
    slow = lab.run(
        "mobile",
        [
            *("curl", "-sS", "-m", "4", "-o", "/dev/null"),
            *("-w", "%{size_download} %{time_total}", "http://facebook.com/"),
        ],
    )
    assert slow.returncode == 28  # 150 KB at 32 kbit/s would take ~40 s
    size, elapsed = (float(x) for x in slow.stdout.split())
    assert 0 < size * 8 / elapsed < 64_000, slow.stdout
    code, out = curl(lab, "mobile", "http://example.com/download/1m.bin")
    assert code == 0 and float(out.split()[2]) * 8 > 10_000_000
    code, out = curl(lab, "fixed", "http://facebook.com/")
    assert code == 0 and float(out.split()[2]) * 8 > 10_000_000


def test_tls_mitm_presents_the_national_ca(lab: Lab) -> None:
    lab.apply("tls-mitm", target="facebook")
    shown = lab.run(
        "fixed",
        ["openssl", "s_client", "-connect", "facebook.com:443", "-servername", "facebook.com"],
        stdin="",
        timeout=10,
    ).stdout
    assert "Qaznet Trust Network" in shown
    assert curl(lab, "fixed", "https://facebook.com/")[0] == 60  # untrusted by the lab root
    page = lab.run(
        "fixed",
        ["curl", "-sS", "-m", "3", "--cacert", str(lab.national_ca), "https://facebook.com/"],
    ).stdout
    assert "Facebook (tyndau lab)" in page  # relayed to the real server
    assert curl(lab, "fixed", "https://example.com/")[0] == 0


def test_shutdown_cuts_controls_and_the_resolver_and_is_scoped(lab: Lab) -> None:
    lab.apply("shutdown", group="mobile")
    assert dig(lab, "mobile", "example.com").returncode == 9
    assert curl(lab, "mobile", f"http://{lab.address_of('example')}/", limit=1.5)[0] == 28
    assert answers(dig(lab, "fixed", "example.com")) == [lab.address_of("example")]
    assert curl(lab, "fixed", "https://facebook.com/")[0] == 0
    lab.apply("shutdown", group="fixed")
    assert dig(lab, "fixed", "example.com").returncode == 9


def test_resolver_actions_are_scoped_to_a_group(lab: Lab) -> None:
    lab.apply("dns-nxdomain", target="facebook", group="mobile")
    lab.apply("dns-refused", target="facebook", group="fixed")
    assert status_of(dig(lab, "mobile", "facebook.com")) == "NXDOMAIN"
    assert status_of(dig(lab, "fixed", "facebook.com")) == "REFUSED"


def test_apply_rejects_bad_requests(lab: Lab) -> None:
    with pytest.raises(LabError, match="unknown action"):
        lab.apply("dns-teapot", target="facebook")
    with pytest.raises(LabError, match="unknown target"):
        lab.apply("dns-nxdomain", target="myspace")
    with pytest.raises(LabError, match="unknown group"):
        lab.apply("dns-nxdomain", target="facebook", group="satellite")
    lab.apply("dns-nxdomain", target="facebook")
    with pytest.raises(LabError, match="clashes"):
        lab.apply("dns-refused", target="all", group="mobile")
    with pytest.raises(LabError, match="not active"):
        lab.lift("dns-refused", target="facebook")


def test_scenario_timeline_is_applied_at_its_offsets(lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "timeline.toml"
    path.write_text(
        textwrap.dedent(
            """
            [scenario]
            name = "timeline"
            duration = "2m"
            [[event]]
            at = "0s"
            apply = "dns-nxdomain"
            target = "facebook"
            [[event]]
            at = "40s"
            lift = "dns-nxdomain"
            target = "facebook"
            [[event]]
            at = "80s"
            apply = "shutdown"
            group = "mobile"
            """
        )
    )
    seen: list[tuple[float, str, str]] = []

    def observe(event: object, elapsed: float) -> None:
        seen.append((elapsed, status_of(dig(lab, "fixed", "facebook.com")), str(lab.active)))

    start = time.monotonic()
    lab.play(load_scenario(path), speed=40, on_event=observe)  # 2 minutes in 3 seconds
    assert 2.9 < time.monotonic() - start < 4.5
    assert [round(elapsed) for elapsed, _, _ in seen] == [0, 1, 2]
    assert [s for _, s, _ in seen][:2] == ["NXDOMAIN", "NOERROR"]
    assert "shutdown" in seen[2][2]


def test_exit_tears_everything_down_even_when_the_body_raises() -> None:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    with pytest.raises(RuntimeError), Lab(prefix="texit") as lab:
        assert Path("/run/netns/texit-isp").exists()
        lab.popen("fixed", ["sleep", "60"])
        raise RuntimeError("test body failed")
    assert not [p for p in Path("/run/netns").iterdir() if p.name.startswith("texit-")]
    assert not Path("/etc/netns/texit-fixed").exists()
    assert not lab.state.exists()


def test_lab_down_removes_a_crashed_runs_leftovers() -> None:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    crash = "import time\nfrom lab import Lab\nLab(prefix='tcrash').up()\n"
    crash += "print('up', flush=True)\ntime.sleep(60)"
    builder = subprocess.Popen([sys.executable, "-c", crash], stdout=subprocess.PIPE, text=True)
    try:
        assert builder.stdout is not None and builder.stdout.readline().strip() == "up"
        builder.send_signal(signal.SIGKILL)  # a crash: no teardown ran
        builder.wait()
        assert Path("/run/netns/tcrash-inet").exists()
        pids = subprocess.run(
            ["ip", "netns", "pids", "tcrash-inet"], capture_output=True, text=True, check=False
        )
        assert pids.stdout.split()  # nginx and unbound are orphaned there
        down = subprocess.run(
            [str(Path(sys.executable).parent / "tyndau"), "lab", "down"],
            env={"TYNDAU_LAB_PREFIX": "tcrash", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        assert down.returncode == 0, down.stderr
        assert not [p for p in Path("/run/netns").iterdir() if p.name.startswith("tcrash-")]
        for pid in pids.stdout.split():
            assert (
                not Path(f"/proc/{pid}").exists()
                or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
            )
    finally:
        builder.kill()
        subprocess.run(["ip", "netns", "del", "tcrash-inet"], capture_output=True, check=False)
        from lab.nodes import remove_leftovers

        remove_leftovers("tcrash")


def test_a_live_lab_cannot_be_taken_over_by_another_with_its_prefix(lab: Lab) -> None:
    intruder = Lab(prefix=lab.prefix)
    with pytest.raises(LabError, match="in use by process"):
        intruder.up()
    intruder.down()  # must not touch the live lab either
    assert answers(dig(lab, "fixed", "example.com")) == [lab.address_of("example")]


def test_collector_is_reached_through_the_internet_unless_shut_down(lab: Lab) -> None:
    server = lab.popen(
        "collector",
        [sys.executable, "-m", "http.server", "--bind", COLLECTOR_ADDRESS, "8080"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{COLLECTOR_ADDRESS}:8080/"
    try:
        for _ in range(100):
            if curl(lab, "mobile", url)[0] == 0:
                break
            time.sleep(0.05)
        assert curl(lab, "fixed", url)[0] == 0
        lab.apply("shutdown", group="fixed")
        assert curl(lab, "fixed", url, limit=1.5)[0] == 28
        assert curl(lab, "mobile", url)[0] == 0
    finally:
        stop(server)
