"""Typed settings of the anomaly watcher: detection thresholds, alert channels, state paths.

Read from the ``[anomaly]`` table of the collector configuration file through pydantic
(collector/config_tables.py), so a wrong key names the file, the key and the fix. A new key is
one annotated field here (or in collector/anomaly/thresholds.py plus its bounds in
``THRESHOLD_BOUNDS``). Every threshold is argued in docs/anomaly.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from collector.anomaly.thresholds import Thresholds
from collector.config_tables import ConfigPath, read_table
from probe.configfile import ConfigError, load_toml

# Bounds a settings file may set each threshold within (thresholds.py stays pure data).
THRESHOLD_BOUNDS: dict[str, dict[str, float]] = {
    "step_s": {"ge": 60, "le": 3600},
    "llr_cap": {"ge": 0.5},
    "open_at": {"ge": 1.0},
    "ceiling": {"ge": 1.0},
    "up_rate": {"ge": 0.5, "le": 0.999},
    "down_rate": {"ge": 0.001, "le": 0.5},
    "fail_rate_floor": {"ge": 0.001},
    "fail_rate_blocked": {"le": 0.99},
    "baseline_alpha": {"ge": 0.0001, "le": 1},
    "fail_alpha": {"ge": 0.0001, "le": 1},
    "min_probes": {"ge": 1},
    "min_rounds": {"ge": 1},
    "min_countries": {"ge": 2},
    "control_ok_min": {"ge": 0, "le": 1},
    "method_share": {"ge": 0, "le": 1},
    "warmup_s": {"ge": 0},
    "settle_s": {"ge": 0},
}
NESTED = ("thresholds", "webhook")  # the [anomaly.thresholds] table, the [[anomaly.webhook]] list


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    format: Literal["json", "slack"] = "json"


@dataclass(frozen=True, slots=True)
class AnomalySettings:
    thresholds: Thresholds = field(default_factory=Thresholds)
    interval_s: Annotated[float, Field(ge=1)] = 60.0
    lookback_s: Annotated[int, Field(ge=600)] = 24 * 3600
    store: str | None = None
    state_dir: ConfigPath = Path("/var/lib/tyndau/anomaly")  # --state-dir overrides
    timeline_url: str = "http://127.0.0.1:8080/timeline"
    alertmanager: str | None = None
    webhooks: tuple[Webhook, ...] = ()


def load_anomaly_settings(path: Path | None) -> AnomalySettings:
    """Read ``[anomaly]`` (and its ``[[anomaly.webhook]]`` list) from a collector config file."""
    if path is None:
        return AnomalySettings()
    return read_anomaly_table(load_toml(path).get("anomaly", {}), source=str(path))


def read_anomaly_table(table: Any, *, source: str) -> AnomalySettings:
    """The ``[anomaly]`` table (a dict from TOML) as settings; ConfigError names the key."""
    if not isinstance(table, dict):
        raise ConfigError(source, "anomaly", "expected a table [anomaly]", "a TOML table")
    plain = {k: v for k, v in table.items() if k not in NESTED}
    settings = read_table(
        AnomalySettings,
        plain,
        source=source,
        key="anomaly",
        known=NESTED,
        skip=("thresholds", "webhooks"),
    )
    thresholds = read_table(
        Thresholds,
        table.get("thresholds", {}),
        source=source,
        key="anomaly.thresholds",
        bounds=THRESHOLD_BOUNDS,
    )
    if thresholds.ceiling < thresholds.open_at:
        raise ConfigError(
            source,
            "anomaly.thresholds.ceiling",
            "must be at least open_at",
            f">= {thresholds.open_at}",
        )
    hooks = table.get("webhook", [])
    if not isinstance(hooks, list) or not all(isinstance(h, dict) for h in hooks):
        raise ConfigError(
            source, "anomaly.webhook", "expected an array of tables", "[[anomaly.webhook]] blocks"
        )
    webhooks = tuple(
        read_table(Webhook, hook, source=source, key=f"anomaly.webhook[{index}]")
        for index, hook in enumerate(hooks)
    )
    return replace(settings, thresholds=thresholds, webhooks=webhooks)
