"""``tyndau probe doctor``: what this probe can measure here, and how to fix what it cannot.

Each check is one fact about this machine (a resolver answers, raw capture starts, CAP_NET_RAW,
libpcap, an IPv6 route, the control endpoint) with its consequence for the measurements and the
fix. For volunteers (a table) and for CI (``--json``; exit status 1 when a check fails).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum

from probe import dns
from probe.capabilities import has_cap_net_raw
from probe.control import ControlClient, read_token
from probe.injection import (
    CAPABILITY_FIX,
    LIBPCAP_FIX,
    libpcap_available,
    start_capture,
    stop_capture,
)
from probe.settings import ProbeSettings, settings_for_command
from probe.targets import load_targets

# No packet is sent: a UDP connect() only asks the kernel for a route (RFC 3849 documentation
# address, so the lookup never names a real host).
IPV6_ROUTE_PROBE = "2001:db8::1"


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # the probe runs, with this measurement missing
    FAIL = "fail"  # the probe cannot measure at all until fixed


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def exit_status(checks: Sequence[Check]) -> int:
    return 1 if any(c.status is Status.FAIL for c in checks) else 0


def render_table(checks: Sequence[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status.value:<4}  {c.name:<{width}}  {c.detail}")
        if c.fix:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {c.fix}")
    return "\n".join(lines)


async def check_resolvers(settings: ProbeSettings, name: str) -> list[Check]:
    """Each resolver the probe would ask, asked for ``name`` (a target's domain)."""
    resolvers: list[dns.Resolver] = []
    if settings.use_system_resolver:
        resolvers += dns.system_resolvers(dns.RESOLV_CONF)
    checks: list[Check] = []
    for spec in settings.resolvers:
        try:
            resolvers.append(dns.parse_resolver(spec))
        except dns.ResolverSpecError as exc:
            checks.append(Check(f"resolver {spec}", Status.FAIL, str(exc), "fix the address"))
    if not resolvers and not checks:
        fix = "add nameserver lines to /etc/resolv.conf, or give --resolver ADDR"
        return [Check("resolvers", Status.FAIL, "no resolver to ask", fix)]
    lookups = await asyncio.gather(
        *(dns.lookup(name, r, timeout=settings.timeouts.dns) for r in resolvers)
    )
    for found in lookups:
        label = f"resolver {found.resolver.label}" + (" (system)" if found.resolver.system else "")
        if found.rcode is not None:
            answer = ", ".join(found.addresses) or found.failure or "no address"
            detail = f"answers {name}: {found.rcode} {answer} in {found.t * 1000:.0f} ms"
            checks.append(Check(label, Status.OK, detail))
        else:
            fix = "check this network's DNS, or give a resolver that answers with --resolver"
            detail = f"no answer for {name}: {found.failure} ({found.failure_raw or 'no reply'})"
            checks.append(Check(label, Status.FAIL, detail, fix))
    return checks


def check_capture() -> list[Check]:
    """libpcap, CAP_NET_RAW and a real capture start (DNS injection TTLs need all three)."""
    pcap = libpcap_available()
    raw = has_cap_net_raw()
    checks = [
        Check("libpcap", Status.OK, "found")
        if pcap
        else Check(
            "libpcap", Status.WARN, "not found: capture filters cannot compile", LIBPCAP_FIX
        ),
        Check("CAP_NET_RAW", Status.OK, "held")
        if raw
        else Check("CAP_NET_RAW", Status.WARN, "not held: no raw sockets", CAPABILITY_FIX),
    ]
    sniffer, problem = start_capture("127.0.0.1", 53)
    _, stop_problem = stop_capture(sniffer)
    problem = problem or stop_problem
    if problem is None:
        checks.append(Check("raw capture", Status.OK, "starts (raw_tests = true can be used)"))
    else:
        fix = "see the libpcap and CAP_NET_RAW lines; raw tests stay off meanwhile"
        checks.append(Check("raw capture", Status.WARN, problem, fix))
    return checks


def check_ipv6() -> Check:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.connect((IPV6_ROUTE_PROBE, 53))
            source = sock.getsockname()[0]
    except OSError as exc:
        return Check(
            "IPv6",
            Status.WARN,
            f"no IPv6 route ({exc.strerror or exc}): IPv6 addresses are not measured",
            "nothing to fix unless this network has IPv6; then check its router",
        )
    return Check("IPv6", Status.OK, f"route present (source {source})")


async def check_control(settings: ProbeSettings, target: str) -> Check:
    if settings.control_endpoint is None:
        return Check(
            "control endpoint",
            Status.WARN,
            "not configured: outages cannot be told from censorship as surely",
            "set control_endpoint in [probe] (your collector's /v1/control)",
        )
    token = read_token(settings.upload.credentials_file)
    t = settings.timeouts  # as a round waits: the control measures its four steps in turn
    client = ControlClient(settings.control_endpoint, token, t.dns + t.tcp + t.tls + t.http)
    observation, error = await client.observe(target)
    if observation is None:
        fix = "check the URL, that this probe is registered (tyndau probe register), the network"
        return Check("control endpoint", Status.WARN, f"{settings.control_endpoint}: {error}", fix)
    return Check("control endpoint", Status.OK, f"{settings.control_endpoint} measured {target}")


async def run_checks(settings: ProbeSettings) -> list[Check]:
    targets = load_targets(settings.targets_file)
    control = next((t for t in targets if t.is_control), targets[0])
    resolvers, control_check = await asyncio.gather(
        check_resolvers(settings, control.domain), check_control(settings, control.name)
    )
    capture = await asyncio.to_thread(check_capture)
    return [*resolvers, *capture, check_ipv6(), control_check]


def main(args: argparse.Namespace) -> int:
    """Print the checks (or JSON); exit 1 when one fails, 0 otherwise (warnings included)."""
    settings = settings_for_command(args)
    checks = asyncio.run(run_checks(settings))
    if args.json:
        print(json.dumps([{**asdict(c), "status": c.status.value} for c in checks], indent=2))
    else:
        print(render_table(checks))
    return exit_status(checks)
