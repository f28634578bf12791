"""Typed settings of the anomaly watcher: detection thresholds, alert channels, state paths.

Read from the ``[anomaly]`` table of the collector configuration file through
``probe.configfile`` so a wrong key names the file, the key and the fix. Every threshold is
argued in docs/anomaly.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from collector.anomaly.thresholds import Thresholds
from probe.configfile import Section, open_section


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    format: str = "json"  # "json" | "slack"


@dataclass(frozen=True, slots=True)
class AnomalySettings:
    thresholds: Thresholds = field(default_factory=Thresholds)
    interval_s: float = 60.0
    lookback_s: int = 24 * 3600
    store: str | None = None
    state_dir: Path = Path("/var/lib/tyndau/anomaly")  # --state-dir overrides
    timeline_url: str = "http://127.0.0.1:8080/timeline"
    alertmanager: str | None = None
    webhooks: tuple[Webhook, ...] = ()


def load_anomaly_settings(path: Path | None) -> AnomalySettings:
    """Read ``[anomaly]`` (and its ``[[anomaly.webhook]]`` list) from a collector config file."""
    if path is None:
        return AnomalySettings()
    root = open_section(path)
    return read_anomaly_section(root.section("anomaly"))


def read_anomaly_section(section: Section) -> AnomalySettings:
    defaults = AnomalySettings()
    t = Thresholds()
    th = section.section("thresholds")
    thresholds = Thresholds(
        step_s=th.integer("step_s", t.step_s, minimum=60, maximum=3600),
        llr_cap=th.number("llr_cap", t.llr_cap, minimum=0.5),
        open_at=th.number("open_at", t.open_at, minimum=1.0),
        ceiling=th.number("ceiling", t.ceiling, minimum=1.0),
        up_rate=th.number("up_rate", t.up_rate, minimum=0.5, maximum=0.999),
        down_rate=th.number("down_rate", t.down_rate, minimum=0.001, maximum=0.5),
        fail_rate_floor=th.number("fail_rate_floor", t.fail_rate_floor, minimum=0.001),
        fail_rate_blocked=th.number("fail_rate_blocked", t.fail_rate_blocked, maximum=0.99),
        baseline_alpha=th.number("baseline_alpha", t.baseline_alpha, minimum=0.0001, maximum=1),
        fail_alpha=th.number("fail_alpha", t.fail_alpha, minimum=0.0001, maximum=1),
        min_probes=th.integer("min_probes", t.min_probes, minimum=1),
        min_rounds=th.integer("min_rounds", t.min_rounds, minimum=1),
        min_countries=th.integer("min_countries", t.min_countries, minimum=2),
        control_ok_min=th.number("control_ok_min", t.control_ok_min, minimum=0, maximum=1),
        method_share=th.number("method_share", t.method_share, minimum=0, maximum=1),
        warmup_s=th.integer("warmup_s", t.warmup_s, minimum=0),
        settle_s=th.integer("settle_s", t.settle_s, minimum=0),
    )
    th.done()
    if thresholds.ceiling < thresholds.open_at:
        raise th.error("ceiling", "must be at least open_at", f">= {thresholds.open_at}")
    webhooks = []
    for hook in section.sections("webhook"):
        webhooks.append(
            Webhook(url=hook.string("url"), format=hook.string("format", "json", choices=FORMATS))
        )
        hook.done()
    settings = AnomalySettings(
        thresholds=thresholds,
        interval_s=section.number("interval_s", defaults.interval_s, minimum=1),
        lookback_s=section.integer("lookback_s", defaults.lookback_s, minimum=600),
        store=section.string("store", None),
        state_dir=section.path("state_dir", defaults.state_dir),
        timeline_url=section.string("timeline_url", defaults.timeline_url),
        alertmanager=section.string("alertmanager", None),
        webhooks=tuple(webhooks),
    )
    section.done()
    return settings


FORMATS = ("json", "slack")
