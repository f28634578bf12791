"""What the demo leaves at its end: the detected events beside the scenario's ground truth
(printed, summary.txt, result.json), the store copied into scenario time and the charts drawn
from that copy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from collector.records import EventKind
from lab.demo import config as cfg
from lab.demo import say
from lab.demo.replay import ScenarioTime, origin_of, restamp_store
from lab.demo.report import Summary, draw_charts, final_report
from lab.demo.truth import Clock, Match, describe, episodes, event_line, match
from lab.scenario import Scenario

if TYPE_CHECKING:
    from lab.demo.run import Demo

TOLERANCE_BUCKETS = 2.0  # an edge "matches" within this many buckets


def report(demo: Demo, scenario: Scenario, clock: Clock, since: datetime, until: datetime) -> None:
    """Detected events beside the ground truth: printed, and kept as summary.txt and result.json."""
    th = cfg.demo_thresholds()
    resolution = th.min_rounds * th.step_s * clock.speed
    truth = episodes(scenario, min_gap=resolution)
    summary = final_report(
        store_url=demo.store_url,
        since=since,
        until=until,
        thresholds=th,
        receiver=demo.receiver,
    )
    summary.lines += _scenario_outputs(demo, summary, scenario, clock, since, until)
    matches: list[Match] = [
        match(
            ep,
            summary.silences if ep.kind is EventKind.SHUTDOWN else summary.events,
            clock=clock,
            step_s=th.step_s,
            resolution=resolution,
        )
        for ep in truth
    ]
    lines = ["", "Events detected (wall-clock mapped back to 2022 UTC via the compression):"]
    lines += [f"  {event_line(e, scenario, clock)}" for e in summary.events]
    lines += ["", "Shutdown runs per network (the detector, before events merge scopes):"]
    lines += [f"  {event_line(e, scenario, clock)}" for e in summary.silences]
    lines += ["", "Detected timeline beside the ground truth:"]
    lines += ["  " + describe(m, scenario, clock, tolerance=TOLERANCE_BUCKETS) for m in matches]
    resolvable = [m for m in matches if m.resolvable]
    good = [m for m in resolvable if m.within(TOLERANCE_BUCKETS)]
    detected = [m for m in resolvable if m.detected]
    lines += ["", *summary.lines]
    lines.append(
        f"SUMMARY: {len(good)} of {len(resolvable)} ground-truth episodes detected within "
        f"{TOLERANCE_BUCKETS:g} buckets at each edge ({len(detected)} detected at all; "
        f"{len(matches) - len(resolvable)} below resolution); "
        f"alerts {summary.alerts.get('firing', 0)} firing, "
        f"{summary.alerts.get('resolved', 0)} resolved"
    )
    text = "\n".join(lines)
    say(text)
    demo.output.mkdir(parents=True, exist_ok=True)
    (demo.output / "summary.txt").write_text(text + "\n", encoding="utf-8")
    result = {
        "minutes": demo.minutes,
        "speed": clock.speed,
        "step_s": th.step_s,
        "episodes": [
            {
                "kind": m.episode.kind.value,
                "group": m.episode.group,
                "target": m.episode.target,
                "resolvable": m.resolvable,
                "detected": m.detected,
                "match": m.within(TOLERANCE_BUCKETS),
                "start_delta": m.start_delta,
                "end_delta": m.end_delta,
            }
            for m in matches
        ],
        "alerts": dict(summary.alerts),
        "charts": [str(p) for p in summary.charts],
        "events": [
            {
                "kind": e.kind.value,
                "network": e.scope.network,
                "asn": e.scope.asn,
                "target": e.target,
                "state": e.state.value,
                "start": scenario.label(clock.offset(e.start)),
                "end": None if e.end is None else scenario.label(clock.offset(e.end)),
            }
            for e in summary.events
        ],
    }
    (demo.output / "result.json").write_text(json.dumps(result, indent=1) + "\n")


def _scenario_outputs(
    demo: Demo, summary: Summary, scenario: Scenario, clock: Clock, since: datetime, until: datetime
) -> list[str]:
    """The store copied into scenario time (2022), and the charts drawn from it."""
    time = ScenarioTime(clock, origin_of(scenario.start))
    hour = 3600
    step_s = max(hour, round(cfg.STEP_S * clock.speed / hour) * hour)
    start = datetime.fromtimestamp(time.at(since).timestamp() // hour * hour, UTC)
    end = datetime.fromtimestamp(-(-time.at(until).timestamp() // hour) * hour, UTC)
    lines = []
    if demo.store_arg is None:
        kept = (demo.keep or demo.work) / "kz-2022.sqlite3"
        counts = restamp_store(demo.work / "collector.sqlite3", kept, time)
        chart_store = f"sqlite:{kept}"
        if demo.keep is not None:
            copied = ", ".join(f"{n} {k}" for k, n in counts.items())
            lines.append(f"Store in 2022 time: {kept} ({copied})")
            lines.append(
                f"  e.g. tyndau timeline --store sqlite:{kept} --cc KZ "
                f"--since {start:%Y-%m-%dT%H:%MZ} --until {end:%Y-%m-%dT%H:%MZ} --step 6h"
            )
        silences = [time.event(e) for e in summary.silences]
    else:  # InfluxDB: charts in wall-clock time, no copy
        chart_store, start, end, step_s = demo.store_arg, since, until, cfg.STEP_S
        silences = summary.silences
    summary.charts = draw_charts(
        store_url=chart_store,
        since=start,
        until=end,
        step_s=step_s,
        silences=silences,
        output=demo.output,
    )
    return lines + [f"Chart: {path}" for path in summary.charts]
