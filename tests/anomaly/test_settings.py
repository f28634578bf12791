"""The [anomaly] table: defaults, overrides and errors that name the key."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from collector.anomaly.settings import (
    THRESHOLD_BOUNDS,
    AnomalySettings,
    Webhook,
    load_anomaly_settings,
)
from collector.anomaly.thresholds import Thresholds
from probe.configfile import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    assert load_anomaly_settings(None) == AnomalySettings()


def test_values_and_webhooks_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[anomaly]\ninterval_s = 30\nalertmanager = "http://127.0.0.1:9093"\n'
        "[anomaly.thresholds]\nmin_probes = 3\n"
        '[[anomaly.webhook]]\nurl = "http://127.0.0.1:9/hook"\nformat = "slack"\n',
    )
    settings = load_anomaly_settings(path)
    assert settings.interval_s == 30 and settings.thresholds.min_probes == 3
    assert settings.webhooks == (Webhook("http://127.0.0.1:9/hook", "slack"),)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[anomaly]\nintervall_s = 3\n", "anomaly.intervall_s"),
        ("[anomaly.thresholds]\nopen_at = 9.0\nceiling = 8.0\n", "anomaly.thresholds.ceiling"),
        ("[anomaly.thresholds]\nup_rate = 2\n", "anomaly.thresholds.up_rate"),
        ('[[anomaly.webhook]]\nurl = "x"\nformat = "xml"\n', "anomaly.webhook[0].format"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_anomaly_settings(write(tmp_path, text))
    assert caught.value.key == key


def test_every_threshold_has_the_bounds_a_file_may_set_it_within() -> None:
    assert set(THRESHOLD_BOUNDS) == {f.name for f in fields(Thresholds)}
