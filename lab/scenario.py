"""Scenario files: a timeline of censorship actions, parsed and validated before anything is built.

Format (docs/lab.md): a ``[scenario]`` table (name, description, duration, compression),
``[[event]]`` blocks (at, apply | lift, target, group, parameters, note) and optional
``[site.NAME]`` tables (the sites' own behaviour, lab/sites.py). Pure: no I/O except reading
the files in ``load_scenario``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from lab.actions import (
    ALL,
    PARAMETERS,
    Action,
    action_names,
    clash,
    parameter_problem,
    target_problem,
)
from lab.sites import SiteConfig, parse_sites
from lab.topology import GROUPS
from probe.configfile import ConfigError, Section, load_toml
from probe.model import format_minute, parse_time
from probe.shipped import DEFAULT_TARGETS

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "config" / "scenarios"

_DURATION = re.compile(
    r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$"
)
START_HELP = "an RFC 3339 UTC time like 2022-01-04T12:00:00Z"
DURATION_HELP = 'a duration like "0s", "90s", "5m", "2h", "1d6h30m", or a number of seconds'


class ScenarioError(ConfigError):
    """A scenario file is invalid: the message names the file, the key and what is accepted."""


@dataclass(frozen=True, slots=True)
class Event:
    """One step of the timeline: apply or lift one action on some targets for one group."""

    at: float  # seconds from the start, real scale
    kind: Literal["apply", "lift"]
    action: Action
    targets: tuple[str, ...]  # target names, or ("all",)
    group: str  # fixed | mobile | all
    params: Mapping[str, str] = field(default_factory=dict)
    note: str = ""

    def censor_keys(self) -> list[tuple[Action, str, str]]:
        return [(self.action, target, self.group) for target in self.targets]

    def words(self, *, at: str = "/") -> str:
        """``apply dns_nxdomain whatsapp/mobile  (note)``: the step as the lab's logs show it;
        ``at`` joins the targets to the group."""
        verb = "apply" if self.kind == "apply" else "lift "
        note = f"  ({self.note})" if self.note else ""
        return f"{verb} {self.action} {','.join(self.targets)}{at}{self.group}{note}"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    duration: float
    compression: float
    events: tuple[Event, ...]
    source: str = ""
    start: datetime | None = None  # the real UTC time of t=0, for replays of real events
    sites: Mapping[str, SiteConfig] = field(default_factory=dict)  # [site.NAME] tables

    def label(self, offset: float) -> str:
        """An offset as the real UTC time when ``start`` is known, else as ``t+1d2h3m``."""
        if self.start is not None:
            return format_minute(self.start + timedelta(seconds=offset)) + "Z"
        return "t+" + format_duration(offset)


def format_duration(seconds: float) -> str:
    """``93784`` -> ``"1d2h3m4s"``; the inverse of parse_duration for whole seconds."""
    rest = round(seconds)
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_duration(value: Any) -> float:
    """Seconds from ``"1d6h30m"``-style text or a plain number; ValueError if neither."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    if not isinstance(value, str):
        raise TypeError(f"expected text or a number, got {type(value).__name__}")
    match = _DURATION.match(value.strip())
    if not value.strip() or match is None:
        raise ValueError("not a duration")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def _event(item: Section, *, targets: frozenset[str], duration: float) -> Event:
    at = item.parse("at", item.value("at", 0), parse_duration, DURATION_HELP)
    if at > duration:
        raise item.error("at", f"{at:g}s is beyond the scenario's duration ({duration:g}s)")
    has_apply, has_lift = item.has("apply"), item.has("lift")
    if has_apply == has_lift:
        raise item.error("apply", "each event needs exactly one of apply = ... or lift = ...")
    verb: Literal["apply", "lift"] = "apply" if has_apply else "lift"
    name: str = item.string(verb)
    try:
        action = Action(name)
    except ValueError:
        raise item.error(verb, f"unknown action {name!r}", action_names()) from None
    raw_target = item.value("target", ALL)
    accepted_targets = " | ".join([ALL, *sorted(targets)])
    names = [raw_target] if isinstance(raw_target, str) else raw_target
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise item.error("target", "expected a target name or a list of names", accepted_targets)
    if ALL in names and len(names) > 1:
        raise item.error("target", '"all" cannot be combined with other names', accepted_targets)
    for target in names:
        if target != ALL and target not in targets:
            raise item.error("target", f"unknown target {target!r}", accepted_targets)
    whole = target_problem(action, names)
    if whole is not None:
        raise item.error("target", whole, ALL)
    group: str = item.string("group", ALL, choices=GROUPS)
    params: dict[str, str] = {}
    for param, default in PARAMETERS.get(action, {}).items():
        value: str = item.string(param, default)
        wrong = parameter_problem(action, param, value)
        if wrong is not None:
            raise item.error(param, *wrong)
        params[param] = value
    note: str = item.string("note", "")
    item.done()
    return Event(at, verb, action, tuple(dict.fromkeys(names)), group, params, note)


def _check_timeline(events: list[Event], source: str) -> None:
    """Order, lifts of what was applied, no double applies, no contradicting DNS answers."""
    active: dict[tuple[Action, str, str], int] = {}
    previous = 0.0
    for index, event in enumerate(events):
        where = f"event[{index}]."
        if event.at < previous:
            raise ScenarioError(
                source, where + "at", f"{event.at:g}s comes before the previous event", "ascending"
            )
        previous = event.at
        for key in event.censor_keys():
            action, target, group = key
            if event.kind == "lift":
                if key not in active:
                    on = ", ".join(f"{a}/{t}/{g}" for a, t, g in active) or "nothing"
                    raise ScenarioError(
                        source,
                        where + "lift",
                        f"{action} on target {target!r} group {group!r} is not applied",
                        f"active now: {on}",
                    )
                del active[key]
                continue
            for other in active:
                clashing = clash(other, key)
                if clashing is not None:
                    raise ScenarioError(source, where + "apply", *clashing)
            active[key] = index


def parse_scenario(data: Mapping[str, Any], *, source: str, targets: Iterable[str]) -> Scenario:
    """Validate a scenario document against the known target names."""
    try:
        return _parse(data, source=source, targets=frozenset(targets))
    except ScenarioError:
        raise
    except ConfigError as exc:
        raise ScenarioError(exc.source, exc.key, exc.problem, exc.accepted) from None


def _parse(data: Mapping[str, Any], *, source: str, targets: frozenset[str]) -> Scenario:
    root = Section(dict(data), source=source)
    head = root.section("scenario", required=True)
    name: str = head.string("name")
    description: str = head.string("description", "")
    duration = head.parse("duration", head.value("duration"), parse_duration, DURATION_HELP)
    compression: float = head.number("compression", 1.0)
    if compression <= 0:
        raise head.error("compression", f"{compression:g} is not a speed-up", "a number > 0")
    start_text = head.string("start", None)
    start = None if start_text is None else head.parse("start", start_text, parse_time, START_HELP)
    head.done()
    events = [_event(item, targets=targets, duration=duration) for item in root.sections("event")]
    sites = parse_sites(root.section("site"), targets=targets)
    root.done()
    _check_timeline(events, source)
    return Scenario(name, description, duration, compression, tuple(events), source, start, sites)


def resolve_scenario_path(name_or_path: str) -> Path:
    """A bare name means ``config/scenarios/NAME.toml``; anything else is a path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or "/" in name_or_path:
        return candidate
    return SCENARIO_DIR / f"{name_or_path}.toml"


def load_scenario(name_or_path: str | Path, *, targets_file: Path = DEFAULT_TARGETS) -> Scenario:
    """Read and validate a scenario; every problem is a ScenarioError naming file and key."""
    from probe.targets import load_targets

    path = name_or_path if isinstance(name_or_path, Path) else resolve_scenario_path(name_or_path)
    try:
        data = load_toml(path)
    except ConfigError as exc:
        if not path.exists() and path.parent == SCENARIO_DIR:
            shipped = " | ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
            raise ScenarioError(str(path), "<file>", "no such scenario", shipped) from None
        raise ScenarioError(exc.source, exc.key, exc.problem, exc.accepted) from None
    names = [t.name for t in load_targets(targets_file)]
    return parse_scenario(data, source=str(path), targets=names)


def scaled_offsets(scenario: Scenario, speed: float) -> list[tuple[float, Event]]:
    """Each event with its playback offset in seconds at ``speed`` times real scale."""
    if speed <= 0:
        raise ValueError("speed must be > 0")
    return [(event.at / speed, event) for event in scenario.events]
