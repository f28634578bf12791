"""``tyndau demo``: the whole system in the lab — Kazakhstan, January 2022, in a few minutes.

Builds the lab, starts the collector in its namespace and three probe daemons in each vantage
(fixed = Kazakhtelecom AS9198, mobile = Kcell AS29355), runs the anomaly watcher with a local
alert receiver, plays the kz-2022 replay compressed to ``--minutes``, then compares what was
detected with the scenario's ground truth and draws the timeline in scenario time (2022 dates).
``--keep DIR`` keeps that copy of the store and the outputs in DIR. Everything started is torn
down, also on Ctrl-C or errors. What runs where and why these numbers: docs/demo.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from lab.demo import config as cfg
from lab.demo import say
from lab.demo.receiver import AlertReceiver
from lab.demo.report import uploaded_rounds
from lab.demo.results import report
from lab.demo.truth import Clock
from lab.demo.watch import DemoWatcher
from lab.internet import Lab, LabError
from lab.scenario import Event, Scenario, load_scenario
from lab.topology import COLLECTOR_ADDRESS
from probe.shipped import DEFAULT_TARGETS

PREFIX = "tdemo"
PREROLL_BUCKETS = 5  # normal traffic before t=0: the detector's baseline
POSTROLL_MAX_S = 60.0  # after the timeline: wait for drained outboxes and resolved events
STARTUP_TIMEOUT_S = 90.0


def _tyndau() -> list[str]:
    """The ``tyndau`` entry point of this interpreter's environment."""
    script = Path(sys.executable).parent / "tyndau"
    if script.exists():
        return [str(script)]
    found = shutil.which("tyndau")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from probe.cli import main; sys.exit(main())"]


@dataclass
class Probe:
    name: str
    group: str
    config: Path
    state: Path
    proc: subprocess.Popen[Any] | None = None

    def status(self) -> dict[str, Any]:
        try:
            data = json.loads((self.state / "status.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


@dataclass
class Demo:
    """One run; ``execute`` does it all inside ``with Lab``."""

    minutes: float
    output: Path
    work: Path
    store_arg: str | None
    receiver: AlertReceiver
    keep: Path | None = None  # where the store's copy in scenario time stays (--keep DIR)
    probes: list[Probe] = field(default_factory=list)
    watcher: DemoWatcher | None = None
    began: float = field(default_factory=time.monotonic)

    @property
    def store_url(self) -> str:
        return self.store_arg or f"sqlite:{self.work / 'collector.sqlite3'}"

    def execute(self) -> int:
        targets = self.work / "targets.toml"
        targets.write_text(cfg.targets_toml(DEFAULT_TARGETS), encoding="utf-8")
        scenario = load_scenario("kz-2022", targets_file=targets)
        speed = scenario.duration / (self.minutes * 60)
        say(
            f"tyndau demo: {scenario.description}\n"
            f"  {scenario.duration / 3600:.0f} h of 2022 in {self.minutes:g} min "
            f"(x{speed:.0f}: one {cfg.STEP_S} s bucket = {cfg.STEP_S * speed / 3600:.1f} h); "
            f"{cfg.PROBES_PER_VANTAGE} probes per vantage, a round every {cfg.ROUND_S:g} s"
        )
        with Lab(prefix=PREFIX, targets_file=targets) as lab:
            self._step(f"lab {PREFIX} built: namespaces {PREFIX}-fixed, -mobile, -isp, ...")
            url = self._start_collector(lab)
            self._start_probes(lab, url, targets)
            since = self._baseline()
            watcher = self.watcher = DemoWatcher(
                store_url=self.store_url,
                thresholds=cfg.demo_thresholds(),
                since=since,
                webhook=self.receiver.url,
                state_dir=self.work / "anomaly",
                timeline_url=f"{url}/timeline",
            )
            watcher.start()
            clock = Clock(datetime.now(UTC), speed)
            self._step(f"playing kz-2022 ({len(scenario.events)} events)")
            lab.play(
                scenario,
                speed=speed,
                on_event=lambda event, at: self._event(scenario, event, at),
                sleep=lambda s: self._wait(s, clock, scenario),
            )
            self._step("timeline played: waiting for outboxes to drain and events to resolve")
            self._postroll(clock, scenario)
            self._stop_probes()
            watcher.stop()
            watcher.cycle_once()  # alerts for what resolved after the last cycle
            until = datetime.now(UTC)
            report(self, scenario, clock, since, until)
        self._step(f"lab {PREFIX} torn down")
        return 0

    # -- setup ----------------------------------------------------------------------------------
    def _step(self, text: str) -> None:
        say(f"[{time.monotonic() - self.began:6.1f}s] {text}")

    def _start_collector(self, lab: Lab) -> str:
        token = self.work / "operator-token"
        token.touch(mode=0o600)
        token.write_text(os.urandom(24).hex() + "\n", encoding="utf-8")
        config = self.work / "collector.toml"
        config.write_text(
            cfg.collector_toml(
                listen=f"{COLLECTOR_ADDRESS}:{cfg.PORT}", store=self.store_url, token_file=token
            ),
            encoding="utf-8",
        )
        log = (self.work / "collector.log").open("wb")
        serve = [*_tyndau(), "collector", "serve", "--config", str(config), "--init"]
        lab.popen("collector", serve, stdout=log, stderr=log)
        url = f"http://{COLLECTOR_ADDRESS}:{cfg.PORT}"
        curl = ["curl", "-sf", "--max-time", "2", f"{url}/healthz"]
        _wait_for(lambda: lab.run("fixed", curl, timeout=5).returncode == 0, "the collector")
        self._step(f"collector serving {url} in {PREFIX}-collector, store {self.store_url}")
        return url

    def _start_probes(self, lab: Lab, url: str, targets: Path) -> None:
        token = (self.work / "operator-token").read_text(encoding="utf-8").strip()
        registering = []
        for vantage in cfg.VANTAGES:
            for i in range(1, cfg.PROBES_PER_VANTAGE + 1):
                name = f"{vantage.group}-{i}"
                state = self.work / "probes" / name
                state.mkdir(parents=True, mode=0o700)
                config = state / "probe.toml"
                config.write_text(
                    cfg.probe_toml(
                        vantage=vantage,
                        state_dir=state,
                        targets=targets,
                        ca_bundle=lab.ca_bundle,
                        collector_url=url,
                    ),
                    encoding="utf-8",
                )
                self.probes.append(Probe(name, vantage.group, config, state))
                cmd = [*_tyndau(), "probe", "register", "--config", str(config)]
                cmd += ["--collector", url, "--token", token]
                registering.append(
                    lab.popen(vantage.group, cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                )
        for probe, proc in zip(self.probes, registering, strict=True):
            out, _ = proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise LabError(f"probe {probe.name} did not register: {out.decode().strip()}")
        for probe in self.probes:
            log = (probe.state / "daemon.log").open("wb")
            probe.proc = lab.popen(
                probe.group,
                [*_tyndau(), "probe", "run", "--config", str(probe.config)],
                stdout=log,
                stderr=log,
            )
        names = ", ".join(f"{v.group}: AS{v.asn} {v.operator}" for v in cfg.VANTAGES)
        self._step(f"{len(self.probes)} probes registered and running ({names})")

    def _baseline(self) -> datetime:
        """Wait for every probe's first upload, then a few buckets of normal traffic."""

        def all_uploaded() -> bool:
            return all(p.status().get("last_upload") for p in self.probes)

        _wait_for(all_uploaded, "every probe's first upload")
        step = cfg.STEP_S
        since = datetime.fromtimestamp(math.ceil(time.time() / step) * step, UTC)
        self._step(f"baseline: {PREROLL_BUCKETS} buckets of normal traffic from {since:%H:%M:%S}Z")
        time.sleep(max(0.0, since.timestamp() - time.time() + PREROLL_BUCKETS * step))
        return since

    # -- during the replay ----------------------------------------------------------------------
    def _event(self, scenario: Scenario, event: Event, at: float) -> None:
        elapsed = time.monotonic() - self.began
        say(f"[{elapsed:6.1f}s] {scenario.label(event.at)}  {event.words(at=' @')}")
        del at

    def _wait(self, seconds: float, clock: Clock, scenario: Scenario) -> None:
        """Sleep while printing a status line every few seconds."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            last = getattr(self, "_last_status", 0.0)
            if time.monotonic() - last >= 10:
                self._last_status = time.monotonic()
                self._status(clock, scenario)
            time.sleep(min(left, 0.5))

    def _status(self, clock: Clock, scenario: Scenario) -> None:
        statuses = [(p, p.status()) for p in self.probes]
        rounds = sum(int(s.get("rounds") or 0) for _, s in statuses)
        uploaded = uploaded_rounds(self.store_url)
        rounds_text = f"{rounds} rounds" + (
            f" ({uploaded} uploaded)" if uploaded is not None else ""
        )
        depth = " ".join(
            f"{p.group[0]}{p.name[-1]}={s.get('outbox_depth', '?')}" for p, s in statuses
        )
        opened = self.watcher.opened() if self.watcher else []
        events = ", ".join(
            f"{e.kind.value}:{e.scope.network or 'all'}" + (f":{e.target}" if e.target else "")
            for e in opened
        )
        label = scenario.label(clock.offset(datetime.now(UTC)))
        self._step(
            f"status at {label}: {rounds_text}, outbox {depth}, "
            f"{len(opened)} events open{': ' + events if events else ''}"
        )

    def _postroll(self, clock: Clock, scenario: Scenario) -> None:
        deadline = time.monotonic() + POSTROLL_MAX_S
        self._wait(2 * cfg.STEP_S, clock, scenario)
        while time.monotonic() < deadline:
            drained = all(p.status().get("outbox_depth") == 0 for p in self.probes)
            settled = self.watcher is not None and not self.watcher.opened()
            if drained and settled:
                break
            self._wait(1.0, clock, scenario)
        self._status(clock, scenario)

    def _stop_probes(self) -> None:
        for probe in self.probes:
            if probe.proc is not None and probe.proc.poll() is None:
                probe.proc.send_signal(signal.SIGTERM)
        for probe in self.probes:
            if probe.proc is None:
                continue
            try:
                probe.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                probe.proc.kill()
                probe.proc.wait()
        left = sum(int(p.status().get("outbox_depth") or 0) for p in self.probes)
        self._step(f"probes stopped (SIGTERM); {left} records of their last rounds stay local")


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {STARTUP_TIMEOUT_S:.0f}s waiting for {what}")
        time.sleep(0.5)


def _terminate(signum: int, frame: FrameType | None) -> None:
    del frame
    raise SystemExit(128 + signum)  # unwinds through ``with Lab``: everything torn down


def main(args: argparse.Namespace) -> int:
    """Handler of ``tyndau demo`` (flags declared in probe/cli_lab.py)."""
    from probe.command import CommandError

    if not 0.5 <= args.minutes <= 60:
        raise CommandError("--minutes: between 0.5 and 60 (the replay's total length)")
    if args.store and not args.store.startswith("influxdb:"):
        raise CommandError("--store: influxdb:URL (without --store the demo uses SQLite)")
    if not args.verbose:  # the demo prints its own progress; keep library chatter out
        for name in ("httpx", "tyndau.anomaly", "apscheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)
    previous = signal.signal(signal.SIGTERM, _terminate)
    keep: Path | None = args.keep.resolve() if args.keep is not None else None
    if keep is not None and (keep / "kz-2022.sqlite3").exists():
        raise CommandError(f"--keep: {keep} already holds a kz-2022.sqlite3; name a new DIR")
    if keep is not None and args.store:
        raise CommandError("--keep copies the SQLite store; drop --store influxdb:URL")
    output: Path = keep if keep is not None else args.output
    try:
        with (
            tempfile.TemporaryDirectory(prefix="tyndau-demo-") as tmp,
            AlertReceiver() as receiver,
        ):
            work = Path(tmp)
            work.chmod(0o700)
            demo = Demo(args.minutes, output.resolve(), work, args.store, receiver, keep)
            try:
                return demo.execute()
            except (KeyboardInterrupt, SystemExit):
                say("tyndau demo: interrupted; everything it started is torn down")
                raise
            except LabError as exc:
                logs = output.resolve() / "logs"
                shutil.copytree(work, logs, dirs_exist_ok=True, ignore=_not_logs)
                raise CommandError(f"demo failed: {exc} (logs in {logs})") from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _not_logs(directory: str, names: list[str]) -> list[str]:
    del directory
    return [
        n for n in names if n.endswith((".sqlite3", "token", ".pem", ".key", "credentials.json"))
    ]
