"""The Lab: the simulated internet's life cycle, its services and the censor's controls.

Every name (namespaces, interfaces, state directory, configs, sockets) derives from the prefix so
two labs coexist. Rules come from lab/censor.py (pure), nodes and the prefix lock from
lab/nodes.py, files from lab/site.py, processes in the nodes from lab/procs.py; this module starts
the services and applies the rules.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from lab import censor
from lab.actions import (
    ALL,
    PARAMETERS,
    Action,
    Key,
    action_names,
    clash,
    parameter_problem,
    target_problem,
)
from lab.helpers import Helpers
from lab.nodes import (
    NODES,
    PREFIX_PATTERN,
    STATE_ROOT,
    LabError,
    build_topology,
    check_privileges,
    claim_prefix,
    namespace,
    remove_leftovers,
    sh,
)
from lab.procs import Processes
from lab.scenario import Event, Scenario, scaled_offsets
from lab.servers import Servers
from lab.site import write_site, write_site_configs
from lab.sites import SiteConfig, check_sites
from lab.topology import (
    AUTHORITATIVE_DNS,
    BLOCKPAGE_SERVER,
    COLLECTOR_ADDRESS,
    DEFAULT_PREFIX,
    GROUPS,
    HIJACK_PROXY,
    ISP_RESOLVER,
    NOTICE_SERVER,
    PUBLIC_RESOLVER,
    SILENT_HOST,
    VANTAGES,
    second_target_address,
    target_address,
    vantage_interface,
)
from probe.configfile import ConfigError
from probe.files import write_atomic
from probe.shipped import DEFAULT_TARGETS

__all__ = ["Lab", "LabError", "LabTarget"]


class LabTarget(NamedTuple):
    name: str
    domain: str
    category: str
    address: str
    url: str
    hosts: tuple[str, ...]
    second_address: str = ""  # published in DNS only when its site has addresses = 2


class Lab:
    """A simulated internet with a censor; ``with Lab() as lab:`` builds it, always removes it."""

    def __init__(
        self,
        prefix: str = DEFAULT_PREFIX,
        targets_file: Path = DEFAULT_TARGETS,
        *,
        state_root: Path = STATE_ROOT,
    ) -> None:
        from probe.targets import load_targets

        if not PREFIX_PATTERN.match(prefix):
            raise LabError(
                f"lab prefix {prefix!r}: 1-6 characters [a-z0-9], starting with a letter"
            )
        self.prefix = prefix
        self.state = state_root / prefix
        self.state_root = state_root
        loaded = sorted(load_targets(targets_file), key=lambda t: t.name)
        self._targets = [
            LabTarget(
                t.name,
                t.domain,
                str(t.category),
                target_address(i),
                t.url,
                tuple(t.hosts),
                second_target_address(i),
            )
            for i, t in enumerate(loaded)
        ]
        self._censor_targets = {
            t.name: censor.CensorTarget(t.name, t.domain, t.address, t.hosts, t.second_address)
            for t in self._targets
        }
        self.sites: dict[str, SiteConfig] = {}
        self.processes = Processes(self.netns)
        self.run = self.processes.run
        self.popen = self.processes.popen
        self._stop = self.processes.stop
        addresses = [a for t in self._targets for a in (t.address, t.second_address)]
        self._servers = Servers(
            self.state, addresses, popen=self.popen, run=self.run, stop=self._stop
        )
        self.active: dict[Key, dict[str, str]] = {}
        self._applied: dict[str, Any] = {}
        self._resolver: censor.ResolverState = {}
        self._helpers = Helpers(self.prefix, self.state, popen=self.popen, stop=self._stop)
        self._built = False
        self.scenario: str | None = None
        self._lock: TextIO | None = None

    # -- public API -----------------------------------------------------------------------------
    @property
    def targets(self) -> list[LabTarget]:
        return list(self._targets)

    @property
    def ca_bundle(self) -> Path:
        return self.state / "certs" / "lab-root.pem"

    @property
    def national_ca(self) -> Path:
        return self.state / "certs" / "national-ca.pem"

    def netns(self, node: str) -> str:
        return namespace(self.prefix, node)

    def address_of(self, name: str) -> str:
        for t in self._targets:
            if name in (t.name, t.domain):
                return t.address
        raise LabError(f"unknown target {name!r} (accepted: {self._target_names()})")

    def __enter__(self) -> Lab:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> None:
        """Build everything; on any failure remove what was built and raise LabError."""
        check_privileges()
        self._lock = claim_prefix(self.state_root, self.prefix)
        remove_leftovers(self.prefix, self.state_root)
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        self._built = True

    def down(self) -> None:
        self.processes.stop_all()
        self._helpers.forget()
        self._servers.forget()
        self.sites = {}
        self.active.clear()
        if self._lock is not None:
            remove_leftovers(self.prefix, self.state_root)
            self._lock.close()  # releases the flock: the prefix is free again
            self._lock = None
        self._built = False

    def apply(self, action: str, target: str = ALL, group: str = ALL, **params: str) -> None:
        """Start a censorship action for one target (or "all") and one group (or "all")."""
        key = self._key(action, target, group)
        problem = target_problem(key[0], [target])
        if problem is not None:
            raise LabError(f"{problem}, not {target!r}")
        for other in self.active:
            clashing = clash(other, key)
            if clashing is not None:
                raise LabError(
                    f"{key[0]} on {target}/{group} clashes: {clashing[0]}; {clashing[1]}"
                )
        for name, value in params.items():
            wrong = parameter_problem(key[0], name, value)
            if wrong is not None:
                raise LabError(f"{key[0]} {name}={value!r}: {wrong[0]} (accepted: {wrong[1]})")
        self.active[key] = {**PARAMETERS.get(key[0], {}), **params}
        try:
            self._sync()
        except LabError:
            del self.active[key]
            self._sync()
            raise

    def lift(self, action: str, target: str = ALL, group: str = ALL) -> None:
        key = self._key(action, target, group)
        if key not in self.active:
            raise LabError(f"{key[0]} on {target}/{group} is not active")
        del self.active[key]
        self._sync()

    def clear(self) -> None:
        """Lift every active action: the lab is uncensored again (sites keep their settings)."""
        if self.active:
            self.active.clear()
            self._sync()

    def configure_sites(self, sites: Mapping[str, SiteConfig]) -> None:
        """Give sites their own behaviour (lab/sites.py); every site not named is healthy.

        Rewrites the internet's nginx and authoritative DNS, restarts them, empties both
        resolvers' caches and sets the internet's ``site`` table (sites down for everyone).
        """
        if not self._built:
            raise LabError("the lab is not up: use it as `with Lab() as lab:`")
        try:
            check_sites(sites, self._censor_targets)
        except ConfigError as exc:
            raise LabError(str(exc)) from None
        wanted = {name: site for name, site in sites.items() if site != SiteConfig()}
        if wanted == self.sites:
            return
        targets = list(self._censor_targets.values())
        write_site_configs(self.state, targets, wanted)
        for name in ("inet-nginx", "inet-auth", "inet-public"):
            self._servers.restart(name)
        for command in (["flush_zone", "."], ["flush_infra", "all"], ["flush_negative"]):
            self._unbound_control(command)
        ruleset = censor.site_ruleset(wanted, self._censor_targets)
        done = self.run("internet", ["nft", "-f", "-"], stdin=censor.replace_table("site", ruleset))
        if done.returncode != 0:
            raise LabError(f"nft in the internet failed: {done.stderr.strip()}")
        self.sites = wanted
        self._servers.wait_internet()
        self._save_state()

    def play(
        self,
        scenario: Scenario,
        *,
        speed: float,
        on_event: Callable[[Event, float], None] | None = None,
        on_started: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Apply the scenario's events at their offsets divided by ``speed``; block to its end.

        ``on_started`` runs once the events at offset 0 are applied (``lab up`` returns then).
        """
        self.scenario = scenario.name
        self.configure_sites(scenario.sites)
        start = clock()
        started = False
        for offset, event in scaled_offsets(scenario, speed):
            if offset > 0 and not started:
                started = True
                if on_started is not None:
                    on_started()
            wait = start + offset - clock()
            if wait > 0:
                sleep(wait)
            for action, target, group in event.censor_keys():
                if event.kind == "apply":
                    self.apply(action, target, group, **event.params)
                else:
                    self.lift(action, target, group)
            if on_event is not None:
                on_event(event, clock() - start)
        if not started and on_started is not None:
            on_started()
        rest = start + scenario.duration / speed - clock()
        if rest > 0:
            sleep(rest)

    def status(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "scenario": self.scenario,
            "nodes": {node: self.netns(node) for node in NODES},
            "addresses": {
                "isp_resolver": ISP_RESOLVER,
                "blockpage_server": BLOCKPAGE_SERVER,
                "hijack_proxy": HIJACK_PROXY,
                "notice_server": NOTICE_SERVER,
                "authoritative_dns": AUTHORITATIVE_DNS,
                "public_resolver": PUBLIC_RESOLVER,
                "silent_host": SILENT_HOST,
                "collector": COLLECTOR_ADDRESS,
                **{f"vantage_{v.name}": v.address for v in VANTAGES},
            },
            "targets": {
                t.name: {
                    "domain": t.domain,
                    "address": t.address,
                    "second_address": t.second_address,
                }
                for t in self._targets
            },
            "sites": {name: site.changes() for name, site in sorted(self.sites.items())},
            "active": [
                {"action": str(a), "target": t, "group": g, **p}
                for (a, t, g), p in sorted(self.active.items())
            ],
            "ca_bundle": str(self.ca_bundle),
            "national_ca": str(self.national_ca),
        }

    # -- internals ------------------------------------------------------------------------------
    def _target_names(self) -> str:
        return " | ".join([ALL, *(t.name for t in self._targets)])

    def _key(self, action: str, target: str, group: str) -> Key:
        if not self._built:
            raise LabError("the lab is not up: use it as `with Lab() as lab:`")
        try:
            parsed = Action(action)
        except ValueError:
            raise LabError(f"unknown action {action!r} (accepted: {action_names()})") from None
        if target != ALL and target not in self._censor_targets:
            raise LabError(f"unknown target {target!r} (accepted: {self._target_names()})")
        if group not in GROUPS:
            raise LabError(f"unknown group {group!r} (accepted: {' | '.join(GROUPS)})")
        return (parsed, target, group)

    def _build(self) -> None:
        build_topology(
            self.prefix, [a for t in self._targets for a in (t.address, t.second_address)]
        )
        write_site(self.state, list(self._censor_targets.values()), control=self._control)
        self._servers.start_all()
        self._built = True
        self._sync()

    @property
    def _control(self) -> Path:
        return self.state / "isp-resolver.ctl"

    def _isp(self, cmd: Sequence[str], stdin: str | None = None) -> None:
        done = self.run("isp", cmd, stdin=stdin)
        if done.returncode != 0:
            raise LabError(f"{' '.join(cmd[:3])} in the isp failed: {done.stderr.strip()}")

    def _sync(self) -> None:
        """Bring nftables, iptables, tc, the resolver and helper processes to the active set."""
        p, t = self.prefix, self._censor_targets
        nft = censor.nft_ruleset(p, self.active, t)
        if self._applied.get("nft") != nft:
            self._isp(["nft", "-f", "-"], censor.replace_table("censor", nft))
            self._applied["nft"] = nft
        ipt = censor.iptables_filter(p, self.active, t)
        if self._applied.get("ipt", "") != ipt:
            self._isp(["iptables-restore", "-w"], ipt)
            self._applied["ipt"] = ipt
        tc = censor.tc_commands(p, self.active, t)
        if self._applied.get("tc", []) != tc:
            dels = [f"qdisc del dev {vantage_interface(p, v.name)} root" for v in VANTAGES]
            self.run("isp", ["tc", "-force", "-batch", "-"], stdin="\n".join(dels) + "\n")
            if tc:
                self._isp(["tc", "-batch", "-"], "\n".join(" ".join(c[1:]) for c in tc) + "\n")
            self._applied["tc"] = tc
        resolver = censor.resolver_state(self.active, t)
        commands = censor.resolver_commands(self._resolver, resolver)
        for command in commands:
            self._unbound_control(command)
        for view, zone in set(self._resolver) ^ set(resolver) | {
            k for k in resolver if self._resolver.get(k) != resolver[k]
        }:
            del view
            self._unbound_control(["flush_zone", zone])
        self._resolver = resolver
        self._helpers.sync(self.active, t)
        self._save_state()

    def _save_state(self) -> None:
        """state.json for ``tyndau lab status`` (another process): written atomically."""
        write_atomic(self.state / "state.json", json.dumps(self.status(), indent=2), durable=False)

    def _unbound_control(self, args: Sequence[str]) -> None:
        conf = str(self.state / "conf" / "isp-resolver.conf")
        out = sh(["unbound-control", "-c", conf, *args])
        if out.strip() not in ("ok", "") and not out.startswith("ok"):
            raise LabError(f"unbound-control {' '.join(args)}: {out.strip()}")
