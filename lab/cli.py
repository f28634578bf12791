"""Handlers of ``tyndau lab up|run|down|status|exec`` (arguments are declared in probe/cli.py)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab.actions import ALL
from lab.internet import Lab
from lab.nodes import (
    NODES,
    STATE_ROOT,
    LabError,
    check_privileges,
    namespace,
    player_pid_file,
    remove_leftovers,
)
from lab.scenario import Event, Scenario, load_scenario, resolve_scenario_path
from lab.topology import DEFAULT_PREFIX, VANTAGES
from probe.command import CommandError
from probe.shipped import DEFAULT_TARGETS

UP_TIMEOUT = 30.0
DOWN_GRACE = 4.0
PREFIX_ENV = "TYNDAU_LAB_PREFIX"  # read here, at the edge, so tests can run a private lab


def _prefix() -> str:
    return os.environ.get(PREFIX_ENV, DEFAULT_PREFIX)


def _checked_speed(speed: float | None, scenario: Scenario) -> float:
    """``--speed`` if given, else the scenario's own ``compression``."""
    if speed is None:
        return scenario.compression
    if speed <= 0:
        raise CommandError(f"--speed {speed:g}: must be a number > 0 (e.g. 60)")
    return float(speed)


def _scenario(name: str) -> tuple[Scenario, Path]:
    path = resolve_scenario_path(name)
    return load_scenario(path, targets_file=DEFAULT_TARGETS), path


def _privileged() -> None:
    try:
        check_privileges()
    except LabError as exc:
        raise CommandError(str(exc)) from None


def _player_alive(prefix: str) -> int | None:
    pid_file = player_pid_file(prefix)
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _ready(args: argparse.Namespace) -> tuple[Scenario, Path, float, str]:
    """What ``up`` and ``run`` check first: the scenario and its speed, root, no lab up yet."""
    scenario, path = _scenario(args.scenario)
    speed = _checked_speed(args.speed, scenario)
    _privileged()
    prefix = _prefix()
    if _player_alive(prefix) is not None:
        raise CommandError(f"a lab '{prefix}' is already up: run 'tyndau lab down' first")
    return scenario, path, speed, prefix


def up(args: argparse.Namespace) -> int:
    """Build the lab and start the timeline in a detached player; return once t=0 is applied."""
    scenario, path, speed, prefix = _ready(args)
    remove_leftovers(prefix)
    STATE_ROOT.mkdir(parents=True, exist_ok=True)
    log_path = STATE_ROOT / f"{prefix}.player.log"
    with open(log_path, "wb") as log:
        player = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lab.player",
                "--prefix",
                prefix,
                "--scenario",
                str(path.resolve()),
                "--speed",
                str(speed),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
    player_pid_file(prefix).write_text(f"{player.pid}\n", encoding="utf-8")
    ready = STATE_ROOT / prefix / "ready"
    deadline = time.monotonic() + UP_TIMEOUT
    while not ready.exists():
        if player.poll() is not None or time.monotonic() > deadline:
            tail = log_path.read_text(errors="replace")[-1500:]
            down_prefix(prefix)
            raise CommandError(f"the lab did not come up:\n{tail}")
        time.sleep(0.05)
    total = scenario.duration / speed
    print(
        f"lab '{prefix}' up: scenario {scenario.name}, {len(scenario.events)} events over "
        f"{total:.0f}s (speed {speed:g}); progress in {log_path}; 'tyndau lab down' to stop"
    )
    return 0


def down_prefix(prefix: str) -> list[str]:
    """Stop the player gracefully (it tears its lab down), then remove whatever is left."""
    pid = _player_alive(prefix)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + DOWN_GRACE
        while time.monotonic() < deadline and _player_alive(prefix) is not None:
            time.sleep(0.05)
    removed = remove_leftovers(prefix)
    player_pid_file(prefix).unlink(missing_ok=True)
    return removed


def down(args: argparse.Namespace) -> int:
    del args
    _privileged()
    prefix = _prefix()
    removed = down_prefix(prefix)
    print(f"lab '{prefix}' down" + (f" (removed {', '.join(removed)})" if removed else ""))
    return 0


def status(args: argparse.Namespace) -> int:
    prefix = _prefix()
    state_file = STATE_ROOT / prefix / "state.json"
    if not state_file.exists():
        print(f"no lab '{prefix}' is up (start one: tyndau lab up SCENARIO)", file=sys.stderr)
        return 1
    state = json.loads(state_file.read_text(encoding="utf-8"))
    if args.json:
        print(json.dumps(state, indent=2))
        return 0
    print(f"lab '{prefix}'  scenario: {state.get('scenario') or '-'}")
    for node, ns in state["nodes"].items():
        print(f"  node {node:<10} netns {ns}")
    for name, address in state["addresses"].items():
        print(f"  {name:<18} {address}")
    for name, target in state["targets"].items():
        print(f"  target {name:<12} {target['domain']:<20} {target['address']}")
    active = state["active"] or [{"action": "none"}]
    for item in active:
        params = {k: v for k, v in item.items() if k not in ("action", "target", "group")}
        extra = " ".join(f"{k}={v}" for k, v in params.items())
        where = f" {item['target']}/{item['group']}" if "target" in item else ""
        print(f"  active {item['action']}{where} {extra}".rstrip())
    return 0


def exec_in_node(args: argparse.Namespace) -> int:
    command = list(args.cmd)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise CommandError("nothing to run: tyndau lab exec NODE -- COMMAND [ARGS...]")
    try:
        ns = namespace(_prefix(), args.node)
    except LabError as exc:
        raise CommandError(str(exc)) from None
    if not Path("/run/netns", ns).exists():
        raise CommandError(f"no lab node {args.node} ({ns}): start one with 'tyndau lab up'")
    return run_forwarding_signals(["ip", "netns", "exec", ns, *command])


FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
EXEC_KILL_AFTER_S = 5.0  # a child still alive this long after a forwarded signal is killed


def run_forwarding_signals(argv: list[str]) -> int:
    """Run ``argv``; SIGTERM, SIGINT or SIGHUP to us goes to it, and if it is still alive
    ``EXEC_KILL_AFTER_S`` later it is killed: nothing started in the lab outlives its caller."""
    child = subprocess.Popen(argv)
    received: list[int] = []

    def forward(signum: int, frame: object) -> None:
        received.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    deadline: float | None = None
    try:
        while True:
            try:
                return child.wait(timeout=0.2)  # short: a signal handler cannot end a wait
            except subprocess.TimeoutExpired:
                if received and deadline is None:
                    deadline = time.monotonic() + EXEC_KILL_AFTER_S
                if deadline is not None and time.monotonic() >= deadline:
                    child.kill()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if child.poll() is None:
            child.kill()
            child.wait()


def _vantage_view(lab: Lab, event: Event) -> list[str]:
    """What each vantage in scope sees of the event's first target: a DNS and an HTTPS check."""
    names = [t for t in event.targets if t != ALL]
    controls = [t for t in lab.targets if t.category == "control"] or lab.targets
    target = next((t for t in lab.targets if t.name in names[:1]), controls[0])
    groups = [v.name for v in VANTAGES] if event.group == ALL else [event.group]
    lines = []
    for group in groups:
        dig = lab.run(group, ["dig", "+short", "+tries=1", "+time=1", target.domain], timeout=5)
        answer = dig.stdout.strip().replace("\n", ",") if dig.returncode == 0 else "timeout"
        answer = answer or "no address (NXDOMAIN, REFUSED or SERVFAIL)"
        curl = lab.run(
            group,
            [
                "curl",
                "-sS",
                "-m",
                "2",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                str(lab.ca_bundle),
                f"https://{target.domain}/",
            ],
            timeout=6,
        )
        https = curl.stdout if curl.returncode == 0 else curl.stderr.strip()[:70]
        lines.append(f"    {group:<6} {target.domain}: dns {answer}; https {https}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Build the lab, play the scenario in the foreground with a vantage check per step."""
    scenario, _, speed, prefix = _ready(args)
    total = scenario.duration / speed
    print(f"scenario {scenario.name}: {scenario.description}")
    print(f"{len(scenario.events)} events over {total:.0f}s (speed {speed:g})", flush=True)
    try:
        with Lab(prefix=prefix) as lab:

            def show(event: Event, elapsed: float) -> None:
                print(f"[{elapsed:6.1f}s] {scenario.label(event.at):>17} {event.words()}")
                print("\n".join(_vantage_view(lab, event)), flush=True)

            lab.play(scenario, speed=speed, on_event=show)
    except LabError as exc:
        raise CommandError(str(exc)) from None
    print("scenario played to its end; lab removed")
    return 0


__all__ = ["NODES", "down", "exec_in_node", "run", "status", "up"]
