"""Ground truth of a replayed scenario against what the anomaly module detected.

Pure logic: the scenario's apply/lift events become episodes (one action on one target for one
vantage group), mapped to wall-clock time through the playback speed, then matched to detected
events. An edge matches when it lies within ``tolerance`` buckets (the detector's unit of time).
Gaps and episodes shorter than the detector's resolution (``min_rounds`` buckets, see
docs/anomaly.md) cannot be seen, so gaps that short are merged and such episodes are listed as
below resolution rather than counted as misses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.records import Event, EventKind
from lab.actions import ALL, Action
from lab.scenario import Scenario

SHUTDOWN_ACTIONS = frozenset({Action.SHUTDOWN})
THROTTLE_ACTIONS = frozenset({Action.THROTTLE})


@dataclass(frozen=True, slots=True)
class Episode:
    """One stretch of ground truth, in scenario seconds (offsets from t=0)."""

    kind: EventKind
    group: str  # fixed | mobile | all
    target: str | None  # None: every target (shutdown, throttling)
    start: float
    end: float
    merged: int = 0  # short gaps merged into this episode


@dataclass(frozen=True, slots=True)
class Match:
    """An episode beside what was detected for it (wall-clock times, bucket deltas)."""

    episode: Episode
    resolvable: bool
    start: datetime | None = None  # detected
    end: datetime | None = None  # detected; None while still open
    start_delta: float | None = None  # buckets, detected minus truth
    end_delta: float | None = None

    @property
    def detected(self) -> bool:
        return self.start is not None

    def within(self, tolerance: float) -> bool:
        """Both edges detected within ``tolerance`` buckets of the truth."""
        return (
            self.start_delta is not None
            and self.end_delta is not None
            and abs(self.start_delta) <= tolerance
            and abs(self.end_delta) <= tolerance
        )


def expected_kind(action: Action) -> EventKind:
    if action in SHUTDOWN_ACTIONS:
        return EventKind.SHUTDOWN
    if action in THROTTLE_ACTIONS:
        return EventKind.THROTTLING
    return EventKind.BLOCKING


def episodes(scenario: Scenario, *, min_gap: float = 0.0) -> list[Episode]:
    """Every apply..lift stretch, per (kind, group, target); gaps under ``min_gap`` merged."""
    opened: dict[tuple[EventKind, str, str | None], float] = {}
    raw: list[Episode] = []
    for event in sorted(scenario.events, key=lambda e: e.at):
        kind = expected_kind(event.action)
        for target in event.targets:
            name = None if target == ALL or kind is not EventKind.BLOCKING else target
            key = (kind, event.group, name)
            if event.kind == "apply":
                opened.setdefault(key, event.at)
            elif key in opened:
                raw.append(Episode(kind, event.group, name, opened.pop(key), event.at))
    raw += [Episode(k, g, t, start, scenario.duration) for (k, g, t), start in opened.items()]
    merged: list[Episode] = []
    for ep in sorted(raw, key=lambda e: (e.kind, e.group, e.target or "", e.start)):
        last = merged[-1] if merged else None
        same = last is not None and (last.kind, last.group, last.target) == (
            ep.kind,
            ep.group,
            ep.target,
        )
        if last is not None and same and ep.start - last.end < min_gap:
            merged[-1] = Episode(
                last.kind, last.group, last.target, last.start, ep.end, last.merged + 1
            )
        else:
            merged.append(ep)
    return sorted(merged, key=lambda e: (e.start, e.kind, e.group, e.target or ""))


@dataclass(frozen=True, slots=True)
class Clock:
    """Maps scenario offsets to wall-clock time and back: ``wall = t0 + offset / speed``."""

    t0: datetime  # wall-clock time of scenario offset 0
    speed: float  # scenario seconds per wall second

    def wall(self, offset: float) -> datetime:
        return self.t0 + timedelta(seconds=offset / self.speed)

    def offset(self, moment: datetime) -> float:
        return (moment - self.t0).total_seconds() * self.speed


def _network_fits(event: Event, group: str) -> bool:
    return group == ALL or event.scope.network in (group, None)


def match(
    episode: Episode,
    detected: Sequence[Event],
    *,
    clock: Clock,
    step_s: int,
    resolution: float,
    slack_buckets: float = 2.0,
) -> Match:
    """The detected events of the episode's kind, target and network that overlap it."""
    resolvable = episode.end - episode.start >= resolution
    truth_start, truth_end = clock.wall(episode.start), clock.wall(episode.end)
    slack = timedelta(seconds=slack_buckets * step_s)
    found = [
        e
        for e in detected
        if e.kind is episode.kind
        and (episode.target is None or e.target == episode.target)
        and _network_fits(e, episode.group)
        and e.start < truth_end + slack
        and (e.end is None or e.end > truth_start - slack)
    ]
    exact = [e for e in found if e.scope.network == episode.group]
    found = exact or found  # a country-wide event covers a network only when it has none
    if not found:
        return Match(episode, resolvable)
    start = min(e.start for e in found)
    ends = [e.end for e in found]
    end = None if any(x is None for x in ends) else max(x for x in ends if x is not None)
    start_delta = (start - truth_start).total_seconds() / step_s
    end_delta = None if end is None else (end - truth_end).total_seconds() / step_s
    return Match(episode, resolvable, start, end, start_delta, end_delta)


def _short(label: str, other: str) -> str:
    """Drop the date from ``label`` when ``other`` (the truth) has the same date."""
    return label[11:] if label[:10] == other[:10] else label


def describe(m: Match, scenario: Scenario, clock: Clock, *, tolerance: float) -> str:
    """One line: what, where, truth in real 2022 UTC, detected, edge deltas, verdict."""
    ep = m.episode
    what = f"{ep.kind.value} KZ {ep.group}" + (f" {ep.target}" if ep.target else "")
    t_start, t_end = scenario.label(ep.start), scenario.label(ep.end)
    truth = f"truth {t_start}..{t_end}" + (f" ({ep.merged} short gaps merged)" if ep.merged else "")
    if not m.resolvable:
        verdict = "below resolution (shorter than the detector's minimum event)"
        shown = "detected" if m.detected else "not detected"
        return f"{what}: {truth}, {shown}; {verdict}"
    if m.start is None:
        return f"{what}: {truth}, NOT DETECTED"
    d_start = _short(scenario.label(clock.offset(m.start)), t_start)
    d_end = "open" if m.end is None else _short(scenario.label(clock.offset(m.end)), t_end)
    deltas = f"{m.start_delta:+.1f}" + (
        f"/{m.end_delta:+.1f}" if m.end_delta is not None else "/open"
    )
    verdict = "MATCH" if m.within(tolerance) else f"edges off by more than {tolerance:g} buckets"
    return f"{what}: {truth}, detected {d_start}..{d_end}, delta {deltas} buckets: {verdict}"


def event_line(event: Event, scenario: Scenario, clock: Clock) -> str:
    """A detected event with its wall-clock edges mapped back to the scenario's real time."""
    where = f"AS{event.scope.asn} " if event.scope.asn else ""
    where += event.scope.network or "all networks"
    end = "open" if event.end is None else scenario.label(clock.offset(event.end))
    return (
        f"{event.kind.value} KZ {where}{' ' + event.target if event.target else ''}: "
        f"{scenario.label(clock.offset(event.start))}..{end} "
        f"({event.state.value}, {event.scope.probes} probes)"
    )
